// Package alert evaluates bouncehouse's alert rules (the ones Grafana is provisioned
// with, from package dashboards) against the store, and notifies webhooks of what fires.
package alert

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bouncehouse/bouncehouse/dashboards"
	"github.com/bouncehouse/bouncehouse/storage"
)

// Querier runs SQL against the store; *storage.Store is one.
type Querier interface {
	Query(ctx context.Context, sql string, params storage.Params) (*storage.Result, error)
}

// Instance is one row of a rule's result: an alert instance with its labels and value.
type Instance struct {
	Rule   string            `json:"rule"`
	Title  string            `json:"title"`
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
	// Firing says whether Value is above the rule's threshold.
	Firing    bool    `json:"firing"`
	Threshold float64 `json:"threshold"`
	Severity  string  `json:"severity"`
	Summary   string  `json:"summary"`
}

// Key identifies the instance: its rule and labels.
func (i Instance) Key() string {
	var b strings.Builder
	b.WriteString(i.Rule)
	for _, k := range slices.Sorted(maps.Keys(i.Labels)) {
		b.WriteString(" " + k + "=" + i.Labels[k])
	}
	return b.String()
}

// Options say when and over what window the rules are evaluated.
type Options struct {
	// Database holds the schema (default bouncehouse).
	Database string
	// At is the evaluation time (Grafana's "now"); zero means now.
	At time.Time
	// Window, when set, replaces every rule's own lookback.
	Window time.Duration
}

// Evaluate runs each rule's query for the window ending at opts.At, as Grafana would, and
// returns every instance, firing or not, in rule order.
func Evaluate(ctx context.Context, q Querier, rules []dashboards.Rule, opts Options) ([]Instance, error) {
	if opts.Database == "" {
		opts.Database = "bouncehouse"
	}
	at := opts.At
	if at.IsZero() {
		at = time.Now()
	}
	var out []Instance
	for _, r := range rules {
		window := r.Window()
		if opts.Window > 0 {
			window = opts.Window
		}
		sql, err := r.SQL(opts.Database)
		if err != nil {
			return nil, err
		}
		sql, err = dashboards.Expand(sql, dashboards.Context{From: at.Add(-window), To: at, Interval: time.Second})
		if err != nil {
			return nil, fmt.Errorf("alert rule %s: %w", r.UID, err)
		}
		res, err := q.Query(ctx, sql, nil)
		if err != nil {
			return nil, fmt.Errorf("alert rule %s: %w", r.UID, err)
		}
		insts, err := instances(r, res)
		if err != nil {
			return nil, fmt.Errorf("alert rule %s: %w", r.UID, err)
		}
		out = append(out, insts...)
	}
	return out, nil
}

// Firing returns the instances that fire.
func Firing(insts []Instance) []Instance {
	var out []Instance
	for _, i := range insts {
		if i.Firing {
			out = append(out, i)
		}
	}
	return out
}

// instances reads a rule's result as Grafana reads a table for alerting: string columns
// are labels, the one numeric column is the value.
func instances(r dashboards.Rule, res *storage.Result) ([]Instance, error) {
	valueCol := -1
	for i, c := range res.Columns {
		if c.Name == "value" {
			valueCol = i
		}
	}
	if valueCol < 0 {
		return nil, fmt.Errorf("the query has no column named value")
	}
	var out []Instance
	for _, row := range res.Rows {
		v, ok := storage.Float(row[valueCol])
		if !ok {
			continue // NULL: no data for this instance
		}
		labels := map[string]string{}
		for i, c := range res.Columns {
			if i == valueCol {
				continue
			}
			if s, ok := row[i].(string); ok {
				labels[c.Name] = s
			}
		}
		inst := Instance{Rule: r.UID, Title: r.Title, Labels: labels, Value: v, Threshold: r.Threshold(),
			Firing: v > r.Threshold(), Severity: r.Severity}
		inst.Summary = summary(r, inst)
		out = append(out, inst)
	}
	return out, nil
}

// summary fills the rule's summary as Grafana's template would: {{ $labels.x }} and
// {{ $values.A }}.
func summary(r dashboards.Rule, i Instance) string {
	s := r.Text(r.Summary)
	for k, v := range i.Labels {
		s = strings.ReplaceAll(s, "{{ $labels."+k+" }}", v)
	}
	s = strings.ReplaceAll(s, "{{ $values.A }}", strconv.FormatFloat(i.Value, 'g', 4, 64))
	for { // a label the row does not have reads as empty, as in Grafana
		a := strings.Index(s, "{{ $labels.")
		if a < 0 {
			break
		}
		b := strings.Index(s[a:], "}}")
		if b < 0 {
			break
		}
		s = s[:a] + s[a+b+2:]
	}
	return s
}
