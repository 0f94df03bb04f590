package dashboards

import (
	"bytes"
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed alerts.yaml
var alertsYAML []byte

// Rule is one alert rule: its query returns one row per alert instance, whose string
// columns are the labels and whose numeric column `value` fires above the threshold.
type Rule struct {
	UID         string             `yaml:"uid"`
	Title       string             `yaml:"title"`
	Severity    string             `yaml:"severity"`
	Lookback    duration           `yaml:"lookback"`
	For         duration           `yaml:"for"`
	Summary     string             `yaml:"summary"`
	Description string             `yaml:"description"`
	Params      map[string]float64 `yaml:"params"`
	Query       string             `yaml:"sql"`
}

// duration is a time.Duration written as "15m" in YAML.
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = duration(v)
	return nil
}

// Window is how far back the rule's query looks from the evaluation time.
func (r Rule) Window() time.Duration { return time.Duration(r.Lookback) }

// Pending is how long the condition must hold in Grafana before the alert fires.
func (r Rule) Pending() time.Duration { return time.Duration(r.For) }

// Threshold is the value above which an instance fires.
func (r Rule) Threshold() float64 { return r.Params["threshold"] }

// SQL is the rule's query for a database, with its parameters filled in and the plugin's
// macros left for Grafana (or Expand).
func (r Rule) SQL(database string) (string, error) {
	sql, err := renderSQL(r.Query, database, r.Params)
	if err != nil {
		return "", fmt.Errorf("alert rule %s: %w", r.UID, err)
	}
	return sql, nil
}

// Text fills the rule's parameters into one of its texts (summary, description).
func (r Rule) Text(s string) string {
	for _, k := range slices.Sorted(maps.Keys(r.Params)) {
		s = strings.ReplaceAll(s, "${"+k+"}", strconv.FormatFloat(r.Params[k], 'f', -1, 64))
	}
	return strings.TrimSpace(s)
}

// Rules returns the alert rules with their parameters overridden by params
// ("rule-uid.name" → value). An override of an unknown rule or parameter is an error.
func Rules(params map[string]float64) ([]Rule, error) {
	var rules []Rule
	dec := yaml.NewDecoder(bytes.NewReader(alertsYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	byUID := map[string]*Rule{}
	for i := range rules {
		r := &rules[i]
		if r.UID == "" || r.Title == "" || r.Query == "" || r.Lookback <= 0 {
			return nil, fmt.Errorf("alert rule %d (%q): uid, title, sql and lookback are required", i+1, r.UID)
		}
		if _, ok := r.Params["threshold"]; !ok {
			return nil, fmt.Errorf("alert rule %s: no threshold", r.UID)
		}
		r.Params = maps.Clone(r.Params)
		byUID[r.UID] = r
	}
	for key, v := range params {
		uid, name, ok := strings.Cut(key, ".")
		r := byUID[uid]
		if !ok || r == nil {
			return nil, fmt.Errorf("alert parameter %q: no such rule (rules: %s)", key, strings.Join(slices.Sorted(maps.Keys(byUID)), ", "))
		}
		if _, known := r.Params[name]; !known {
			return nil, fmt.Errorf("alert parameter %q: rule %s has no parameter %q (it has %s)", key, uid, name,
				strings.Join(slices.Sorted(maps.Keys(r.Params)), ", "))
		}
		r.Params[name] = v
	}
	return rules, nil
}

// ParseParam parses an override written as RULE.NAME=VALUE.
func ParseParam(s string) (string, float64, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || !strings.Contains(k, ".") {
		return "", 0, fmt.Errorf("alert parameter %q: want RULE.NAME=VALUE, e.g. bh-customer-auth.threshold=0.05", s)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return "", 0, fmt.Errorf("alert parameter %q: %w", s, err)
	}
	return strings.TrimSpace(k), f, nil
}

// alertingRules renders the rules as Grafana's alert rule provisioning file.
func alertingRules(rules []Rule, o Options) (map[string]any, error) {
	var out []any
	for _, r := range rules {
		sql, err := r.SQL(o.Database)
		if err != nil {
			return nil, err
		}
		out = append(out, map[string]any{
			"uid": r.UID, "title": r.Title, "condition": "C",
			"data": []any{
				map[string]any{"refId": "A", "datasourceUid": ClickHouseUID,
					"relativeTimeRange": map[string]int{"from": int(r.Window().Seconds()), "to": 0},
					"model": map[string]any{"refId": "A", "datasource": clickhouseDS, "editorType": "sql", "format": 1,
						"queryType": "table", "rawSql": sql, "intervalMs": 1000, "maxDataPoints": 43200, "pluginVersion": PluginVersion}},
				map[string]any{"refId": "C", "datasourceUid": "__expr__", "relativeTimeRange": map[string]int{"from": 0, "to": 0},
					"model": map[string]any{"refId": "C", "type": "threshold", "expression": "A",
						"datasource": map[string]string{"type": "__expr__", "uid": "__expr__"},
						"conditions": []any{map[string]any{"type": "query", "evaluator": map[string]any{"type": "gt", "params": []float64{r.Threshold()}},
							"operator": map[string]string{"type": "and"}, "query": map[string]any{"params": []string{"C"}},
							"reducer": map[string]any{"type": "last", "params": []any{}}}}}},
			},
			"noDataState": "OK", "execErrState": "Error", "for": r.Pending().String(), "isPaused": false,
			"annotations": map[string]string{"summary": r.Text(r.Summary), "description": r.Text(r.Description),
				"runbook": "docs/dashboards.md, section " + r.UID},
			"labels": map[string]string{"severity": r.Severity, "app": "bouncehouse"},
		})
	}
	return map[string]any{"apiVersion": 1, "groups": []any{map[string]any{
		"orgId": 1, "name": "bouncehouse", "folder": Folder, "interval": "1m", "rules": out}}}, nil
}
