package dashboards

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

//go:embed spec/*.yaml
var specFS embed.FS

// Dashboard is one dashboard as its spec file describes it: the panels and their SQL, with
// the database and the variable filters still as template calls ({{db}}, {{in "ip"
// "sending_ip"}}, …) and the plugin's macros as they go to Grafana.
type Dashboard struct {
	UID         string   `yaml:"uid"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	From        string   `yaml:"from"`    // default time range start, e.g. now-6h
	Refresh     string   `yaml:"refresh"` // auto-refresh interval, e.g. 1m
	Variables   []string `yaml:"variables"`
	Panels      []Panel  `yaml:"panels"`
}

// Panel is one panel of a dashboard spec.
type Panel struct {
	// Row, when set, makes this entry a row header with that title; nothing else is used.
	Row         string `yaml:"row"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Type is a Grafana panel type: timeseries, table, stat, barchart, bargauge, heatmap.
	Type string `yaml:"type"`
	W    int    `yaml:"w"` // width in grid columns (of 24)
	H    int    `yaml:"h"` // height in grid rows
	Unit string `yaml:"unit"`
	// Links are data links on a table column: the column, the link title and its URL
	// (Grafana data-link variables such as ${__value.raw} and ${__data.fields.x} work).
	Links []Link `yaml:"links"`
	// Loki adds a link from each row to its raw lines in Loki (Explore), found by the
	// row's mta_host and queue_id columns.
	Loki bool   `yaml:"loki"`
	SQL  string `yaml:"sql"`
}

// Link is a data link on one column of a table panel.
type Link struct {
	Column string `yaml:"column"`
	Title  string `yaml:"title"`
	URL    string `yaml:"url"`
}

// Query is one panel's SQL as Grafana runs it, with the time-series or table format.
type Query struct {
	Dashboard, Panel string
	SQL              string
	TimeSeries       bool
	// Vars are the variables the dashboard defines: the only ones its queries may use.
	Vars []string
}

// loadSpecs reads the embedded dashboard specs, sorted by file name.
func loadSpecs() ([]Dashboard, error) {
	names, err := fs.Glob(specFS, "spec/*.yaml")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []Dashboard
	for _, name := range names {
		data, err := specFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var d Dashboard
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("dashboard spec %s: %w", path.Base(name), err)
		}
		if err := d.check(); err != nil {
			return nil, fmt.Errorf("dashboard spec %s: %w", path.Base(name), err)
		}
		out = append(out, d)
	}
	return out, nil
}

func (d *Dashboard) check() error {
	if d.UID == "" || d.Title == "" || d.Description == "" {
		return fmt.Errorf("uid, title and description are required")
	}
	for _, v := range d.Variables {
		if _, ok := variableDefs[v]; !ok {
			return fmt.Errorf("unknown variable %q", v)
		}
	}
	for i, p := range d.Panels {
		if p.Row != "" {
			continue
		}
		if p.Title == "" || p.Description == "" || p.SQL == "" {
			return fmt.Errorf("panel %d (%q): title, description and sql are required", i+1, p.Title)
		}
		switch p.Type {
		case "timeseries", "table", "stat", "barchart", "bargauge", "heatmap":
		default:
			return fmt.Errorf("panel %q: unknown type %q", p.Title, p.Type)
		}
	}
	return nil
}

// renderSQL renders the template calls of a spec's SQL for a database, with data for
// {{.name}} (an alert rule's parameters).
func renderSQL(sql, database string, data ...map[string]float64) (string, error) {
	funcs := template.FuncMap{
		"db": func() string { return database },
		// in filters a column on a multi-value variable, or not at all when All is chosen.
		"in": func(variable, column string) string {
			return fmt.Sprintf("$__conditionalAll(%s IN (${%s:singlequote}), $%s)", column, variable, variable)
		},
		// has filters an array column on a multi-value variable.
		"has": func(variable, column string) string {
			return fmt.Sprintf("$__conditionalAll(hasAny(%s, [${%s:singlequote}]), $%s)", column, variable, variable)
		},
		// text filters a column on a text box, or not at all when it is empty.
		"text": func(variable, column string) string {
			return fmt.Sprintf("(${%s:sqlstring} = '' OR %s = ${%s:sqlstring})", variable, column, variable)
		},
		// history is the length in seconds of the baseline a rule compares with: the 24
		// hours before the window, or as much of them as the store holds (a new install
		// has less), and at least the window itself.
		"history": func() string {
			return "greatest(dateDiff('second', greatest((SELECT min(bucket) FROM " + database + ".rollup_provider_5m" +
				" WHERE bucket >= $__fromTime - INTERVAL 1 DAY), $__fromTime - INTERVAL 1 DAY), $__fromTime), dateDiff('second', $__fromTime, $__toTime))"
		},
		"blockCategories": func() string { return QuoteList(BlockCategories) },
		"rateCategories":  func() string { return QuoteList(RateLimitCategories) },
		"authCategories":  func() string { return QuoteList(AuthCategories) },
		// shape is a response with its numbers, ids and addresses blanked, so that the same
		// answer to different messages counts as one.
		"shape": ResponseShape,
	}
	t, err := template.New("sql").Funcs(funcs).Option("missingkey=error").Parse(sql)
	if err != nil {
		return "", err
	}
	var d map[string]float64
	if len(data) > 0 {
		d = data[0]
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// ResponseShape is the SQL expression of a response's shape: lower case, with addresses,
// numbers and hex ids blanked, so that the same answer to different messages is one shape.
func ResponseShape(column string) string {
	return fmt.Sprintf("replaceRegexpAll(replaceRegexpAll(lower(%s), '[^ <>()]+@[^ <>()]+', '<addr>'), '[0-9a-f]{8,}|[0-9]+', '#')", column)
}

// QuoteList is a list of strings as SQL literals, for IN (…); the strings must be
// identifiers such as category names.
func QuoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = "'" + x + "'"
	}
	return strings.Join(q, ", ")
}

// BlockCategories are the categories that count as a block of the sending IP.
var BlockCategories = []string{"ip_blocklisted", "reputation_block", "domain_blocklisted"}

// RateLimitCategories are the categories that count as rate limiting.
var RateLimitCategories = []string{"rate_limited", "too_many_connections", "too_many_messages_per_session", "too_many_recipients"}

// AuthCategories are the sender-authentication failures (SPF, DKIM, DMARC).
var AuthCategories = []string{"spf_fail", "dkim_fail", "dmarc_fail"}
