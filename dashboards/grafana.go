package dashboards

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// The uids of the provisioned data sources; dashboards and alert rules refer to them.
const (
	ClickHouseUID = "bouncehouse-clickhouse"
	LokiUID       = "bouncehouse-loki"
	// PluginVersion is the grafana-clickhouse-datasource version the dashboards are made for.
	PluginVersion = "4.11.2"
	// Folder is the Grafana folder of the dashboards and the alert rules.
	Folder = "bouncehouse"
	// Tag marks the dashboards, which link to each other by it.
	Tag = "bouncehouse"
)

var clickhouseDS = map[string]string{"type": "grafana-clickhouse-datasource", "uid": ClickHouseUID}

// variableDef is a dashboard variable the specs can ask for.
type variableDef struct {
	label, description string
	query              string // SQL template for a query variable
	custom             string // comma-separated options of a custom variable
	def                string // default of a custom variable or a text box
	textbox            bool
}

var variableDefs = map[string]variableDef{
	"customer": {label: "Customer", description: "Customers to show (All: every customer).",
		query: `SELECT DISTINCT customer FROM {{db}}.rollup_customer_1h WHERE $__timeFilter(bucket) AND customer != '' ORDER BY customer`},
	"pool": {label: "IP pool", description: "Sending IP pools to show.",
		query: `SELECT DISTINCT pool FROM {{db}}.rollup_ip_provider_5m WHERE $__timeFilter(bucket) AND pool != '' ORDER BY pool`},
	"ip": {label: "Sending IP", description: "Sending IPs to show (narrowed by the pool).",
		query: `SELECT DISTINCT sending_ip FROM {{db}}.rollup_ip_provider_5m WHERE $__timeFilter(bucket) AND sending_ip != '' AND {{in "pool" "pool"}} ORDER BY sending_ip`},
	"provider": {label: "Receiving provider", description: "Receiving providers to show (gmail, microsoft, yahoo, …; other receivers have none).",
		query: `SELECT DISTINCT provider FROM {{db}}.rollup_provider_5m WHERE $__timeFilter(bucket) AND provider != '' ORDER BY provider`},
	"category": {label: "Category", description: "Failure categories of the taxonomy.",
		query: `SELECT name FROM {{db}}.categories FINAL ORDER BY name`},
	"window": {label: "Now = last (minutes)", description: "How far back the panels marked \"now\" look from the end of the time range.",
		custom: "15,30,60,180,1440", def: "60"},
	"recipient_domain": {label: "Recipient domain", description: "Exact recipient domain, or empty for all.", textbox: true},
	"queue_id":         {label: "Queue id", description: "Exact MTA queue id, or empty for all.", textbox: true},
	"message_id":       {label: "Message-ID", description: "Exact Message-ID (without angle brackets), or empty for all.", textbox: true},
	"recipient":        {label: "Recipient", description: "Exact recipient address (as stored: see the privacy setting), or empty for all.", textbox: true},
}

// Options are the settings of the written provisioning.
type Options struct {
	// Database holds the bouncehouse schema (default bouncehouse).
	Database string
	// ClickHouseHost, ClickHousePort and ClickHouseProtocol (native or http) tell Grafana
	// where the server is; ClickHouseUser is its user, whose password Grafana reads from
	// the environment variable BOUNCEHOUSE_GRAFANA_CLICKHOUSE_PASSWORD.
	ClickHouseHost     string
	ClickHousePort     int
	ClickHouseProtocol string
	ClickHouseUser     string
	// LokiURL is the Loki data source's address; empty leaves Loki out.
	LokiURL string
	// DashboardsPath is where Grafana finds the dashboard JSON files (the provider's path).
	DashboardsPath string
	// Params override alert-rule parameters: "rule-uid.name" → value.
	Params map[string]float64
}

// DefaultOptions are the settings of the provisioning kept in the repository, which the
// docker-compose stack mounts.
func DefaultOptions() Options {
	return Options{Database: "bouncehouse", ClickHouseHost: "clickhouse", ClickHousePort: 9000, ClickHouseProtocol: "native",
		ClickHouseUser: "grafana", LokiURL: "http://loki:3100", DashboardsPath: "/etc/grafana/provisioning/dashboards/bouncehouse"}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Database == "" {
		o.Database = d.Database
	}
	if o.ClickHouseHost == "" {
		o.ClickHouseHost = d.ClickHouseHost
	}
	if o.ClickHousePort == 0 {
		o.ClickHousePort = d.ClickHousePort
	}
	if o.ClickHouseProtocol == "" {
		o.ClickHouseProtocol = d.ClickHouseProtocol
	}
	if o.ClickHouseUser == "" {
		o.ClickHouseUser = d.ClickHouseUser
	}
	if o.DashboardsPath == "" {
		o.DashboardsPath = d.DashboardsPath
	}
	return o
}

// dashboardJSON builds the Grafana dashboard model (classic JSON, schemaVersion 39).
func dashboardJSON(d Dashboard, o Options) ([]byte, error) {
	vars := make([]any, 0, len(d.Variables))
	for _, name := range d.Variables {
		v, err := variableJSON(name, variableDefs[name], o)
		if err != nil {
			return nil, err
		}
		vars = append(vars, v)
	}
	panels, err := panelsJSON(d, o)
	if err != nil {
		return nil, err
	}
	from := d.From
	if from == "" {
		from = "now-6h"
	}
	refresh := d.Refresh
	if refresh == "" {
		refresh = "1m"
	}
	model := map[string]any{
		"uid": d.UID, "title": d.Title, "description": d.Description, "tags": []string{Tag},
		"editable": true, "graphTooltip": 1, "schemaVersion": 39, "version": 1, "timezone": "utc",
		"refresh": refresh, "time": map[string]string{"from": from, "to": "now"}, "fiscalYearStartMonth": 0, "liveNow": false,
		"templating": map[string]any{"list": vars},
		"annotations": map[string]any{"list": []any{map[string]any{
			"builtIn": 1, "datasource": map[string]string{"type": "grafana", "uid": "-- Grafana --"}, "enable": true, "hide": true,
			"iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}}},
		"links": []any{map[string]any{"title": "bouncehouse", "type": "dashboards", "tags": []string{Tag}, "asDropdown": true,
			"includeVars": true, "keepTime": true, "icon": "external link"}},
		"panels": panels,
	}
	return json.MarshalIndent(model, "", "  ")
}

func variableJSON(name string, v variableDef, o Options) (map[string]any, error) {
	base := map[string]any{"name": name, "label": v.label, "description": v.description, "hide": 0, "skipUrlSync": false}
	switch {
	case v.textbox:
		base["type"] = "textbox"
		base["query"] = v.def
		base["current"] = map[string]any{"text": v.def, "value": v.def}
		base["options"] = []any{map[string]any{"selected": true, "text": v.def, "value": v.def}}
	case v.custom != "":
		base["type"] = "custom"
		base["query"] = v.custom
		base["multi"], base["includeAll"] = false, false
		base["current"] = map[string]any{"selected": true, "text": v.def, "value": v.def}
		var opts []any
		for _, x := range strings.Split(v.custom, ",") {
			opts = append(opts, map[string]any{"selected": x == v.def, "text": x, "value": x})
		}
		base["options"] = opts
	default:
		sql, err := renderSQL(v.query, o.Database)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", name, err)
		}
		base["type"] = "query"
		base["datasource"] = clickhouseDS
		base["definition"] = sql
		base["query"] = map[string]any{"editorType": "sql", "rawSql": sql}
		base["refresh"] = 2 // on time range change
		base["multi"], base["includeAll"] = true, true
		base["sort"] = 1
		base["current"] = map[string]any{"selected": true, "text": []string{"All"}, "value": []string{AllValue}}
		base["options"] = []any{}
	}
	return base, nil
}

func panelsJSON(d Dashboard, o Options) ([]any, error) {
	var out []any
	x, y, rowH := 0, 0, 0
	for i, p := range d.Panels {
		id := i + 1
		if p.Row != "" {
			if x > 0 {
				x, y, rowH = 0, y+rowH, 0
			}
			out = append(out, map[string]any{"id": id, "type": "row", "title": p.Row, "collapsed": false,
				"gridPos": map[string]int{"x": 0, "y": y, "w": 24, "h": 1}, "panels": []any{}})
			y++
			continue
		}
		w, h := p.W, p.H
		if w <= 0 || w > 24 {
			w = 24
		}
		if h <= 0 {
			h = 8
		}
		if x+w > 24 {
			x, y, rowH = 0, y+rowH, 0
		}
		sql, err := renderSQL(p.SQL, o.Database)
		if err != nil {
			return nil, fmt.Errorf("panel %q: %w", p.Title, err)
		}
		format, queryType := 1, "table"
		if p.Type == "timeseries" || p.Type == "heatmap" {
			format, queryType = 0, "timeseries"
		}
		defaults := map[string]any{}
		if p.Unit != "" {
			defaults["unit"] = p.Unit
		}
		var overrides []any
		for _, l := range p.Links {
			overrides = append(overrides, linkOverride(l.Column, l.Title, l.URL))
		}
		if p.Loki && o.LokiURL != "" {
			overrides = append(overrides, linkOverride("queue_id", "Raw lines in Loki", lokiExploreURL()))
		}
		if overrides == nil {
			overrides = []any{}
		}
		panel := map[string]any{
			"id": id, "type": p.Type, "title": p.Title, "description": strings.TrimSpace(p.Description),
			"gridPos":    map[string]int{"x": x, "y": y, "w": w, "h": h},
			"datasource": clickhouseDS,
			"targets": []any{map[string]any{"refId": "A", "datasource": clickhouseDS, "editorType": "sql", "format": format,
				"queryType": queryType, "rawSql": sql, "pluginVersion": PluginVersion}},
			"fieldConfig": map[string]any{"defaults": defaults, "overrides": overrides},
			"options":     panelOptions(p.Type),
		}
		out = append(out, panel)
		x += w
		rowH = max(rowH, h)
	}
	return out, nil
}

func linkOverride(column, title, u string) map[string]any {
	return map[string]any{
		"matcher":    map[string]string{"id": "byName", "options": column},
		"properties": []any{map[string]any{"id": "links", "value": []any{map[string]any{"title": title, "url": u, "targetBlank": true}}}},
	}
}

// lokiExploreURL opens Grafana Explore on the Loki data source with the raw lines of a
// table row: those of its MTA host that mention its queue id, in the dashboard's range.
func lokiExploreURL() string {
	// Markers that JSON and query escaping leave as they are, replaced by Grafana's
	// data-link variables once the pane is encoded.
	const host, qid, from, to = "@@HOST@@", "@@QUEUEID@@", "@@FROM@@", "@@TO@@"
	pane := map[string]any{"a": map[string]any{
		"datasource": LokiUID,
		"queries": []any{map[string]any{"refId": "A", "datasource": map[string]string{"type": "loki", "uid": LokiUID},
			"expr": fmt.Sprintf(`{mta_host="%s"} |= "%s"`, host, qid)}},
		"range": map[string]string{"from": from, "to": to},
	}}
	b, _ := json.Marshal(pane) // a literal map of strings: cannot fail
	enc := url.QueryEscape(string(b))
	enc = strings.NewReplacer(
		url.QueryEscape(host), "${__data.fields.mta_host:percentencode}",
		url.QueryEscape(qid), "${__data.fields.queue_id:percentencode}",
		url.QueryEscape(from), "${__from}",
		url.QueryEscape(to), "${__to}",
	).Replace(enc)
	return "/explore?schemaVersion=1&orgId=1&panes=" + enc
}

func panelOptions(typ string) map[string]any {
	switch typ {
	case "table":
		return map[string]any{"showHeader": true, "cellHeight": "sm", "footer": map[string]any{"show": false}}
	case "stat":
		return map[string]any{"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode": "value", "graphMode": "none", "textMode": "auto", "justifyMode": "auto", "orientation": "auto"}
	case "timeseries":
		return map[string]any{"legend": map[string]any{"displayMode": "table", "placement": "right", "showLegend": true,
			"calcs": []string{"sum"}}, "tooltip": map[string]any{"mode": "multi", "sort": "desc"}}
	case "heatmap":
		return map[string]any{"calculate": false, "cellGap": 1, "color": map[string]any{"mode": "scheme", "scheme": "Reds", "steps": 64},
			"rowsFrame": map[string]any{"layout": "auto"}, "yAxis": map[string]any{"axisPlacement": "left"},
			"tooltip": map[string]any{"mode": "single", "yHistogram": false}, "legend": map[string]any{"show": true}}
	case "bargauge":
		return map[string]any{"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": true,
			"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": true}}
	case "barchart":
		return map[string]any{"orientation": "horizontal", "showValue": "auto", "stacking": "none",
			"legend": map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true}}
	}
	return map[string]any{}
}

// Queries returns every panel and variable query of the dashboards with the database
// filled in and the macros left for Grafana, for tests and tools that run them.
func Queries(o Options) ([]Query, error) {
	o = o.withDefaults()
	specs, err := loadSpecs()
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, d := range specs {
		for _, name := range d.Variables {
			v := variableDefs[name]
			if v.query == "" {
				continue
			}
			sql, err := renderSQL(v.query, o.Database)
			if err != nil {
				return nil, err
			}
			out = append(out, Query{Dashboard: d.UID, Panel: "variable " + name, SQL: sql, Vars: d.Variables})
		}
		for _, p := range d.Panels {
			if p.Row != "" {
				continue
			}
			sql, err := renderSQL(p.SQL, o.Database)
			if err != nil {
				return nil, fmt.Errorf("%s / %s: %w", d.UID, p.Title, err)
			}
			out = append(out, Query{Dashboard: d.UID, Panel: p.Title, SQL: sql, TimeSeries: p.Type == "timeseries" || p.Type == "heatmap",
				Vars: d.Variables})
		}
	}
	return out, nil
}

// Variables returns the names of the variables the dashboards use, with their defaults
// as Grafana sets them on load: All for a query variable, the default for the rest.
func Variables() map[string][]string {
	out := map[string][]string{}
	for name, v := range variableDefs {
		switch {
		case v.query != "":
			out[name] = []string{AllValue}
		default:
			out[name] = []string{v.def}
		}
	}
	return out
}
