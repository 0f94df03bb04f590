package dashboards_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bouncehouse/bouncehouse/dashboards"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite dashboards/provisioning from the specs")

// TestCommittedProvisioningIsCurrent keeps the provisioning in the repository (which
// docker-compose mounts) equal to what `bouncehouse grafana` writes with its defaults.
func TestCommittedProvisioningIsCurrent(t *testing.T) {
	files, err := dashboards.Files(dashboards.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.RemoveAll("provisioning"); err != nil {
			t.Fatal(err)
		}
		if _, err := dashboards.Write("provisioning", dashboards.DefaultOptions()); err != nil {
			t.Fatal(err)
		}
	}
	var committed []string
	err = filepath.WalkDir("provisioning", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("provisioning", p)
		committed = append(committed, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(maps.Keys(files))
	slices.Sort(committed)
	if !slices.Equal(committed, want) {
		t.Fatalf("dashboards/provisioning holds %v, bouncehouse grafana writes %v; run go test ./dashboards -run Committed -update", committed, want)
	}
	for _, name := range want {
		got, err := os.ReadFile(filepath.Join("provisioning", filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, files[name]) {
			t.Errorf("dashboards/provisioning/%s is stale; run go test ./dashboards -run Committed -update", name)
		}
	}
}

// TestDashboardsHaveWhatGrafanaRequires checks every dashboard JSON for the fields Grafana
// and the ClickHouse plugin need, and for the description every panel must have.
func TestDashboardsHaveWhatGrafanaRequires(t *testing.T) {
	files, err := dashboards.Files(dashboards.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]bool{}
	n := 0
	for name, data := range files {
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		n++
		var d struct {
			UID           string `json:"uid"`
			Title         string `json:"title"`
			Description   string `json:"description"`
			SchemaVersion int    `json:"schemaVersion"`
			Time          struct{ From, To string }
			Templating    struct {
				List []struct {
					Name, Type string
					Query      any `json:"query"`
				} `json:"list"`
			} `json:"templating"`
			Panels []struct {
				ID          int    `json:"id"`
				Type        string `json:"type"`
				Title       string `json:"title"`
				Description string `json:"description"`
				GridPos     struct{ X, Y, W, H int }
				Datasource  struct{ Type, UID string }
				Targets     []struct {
					RefID      string `json:"refId"`
					EditorType string `json:"editorType"`
					Format     *int   `json:"format"`
					QueryType  string `json:"queryType"`
					RawSQL     string `json:"rawSql"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.UID == "" || len(d.UID) > 40 || d.Title == "" || d.Description == "" || d.SchemaVersion < 36 || d.Time.From == "" {
			t.Errorf("%s: uid %q, title %q, schemaVersion %d, time %+v", name, d.UID, d.Title, d.SchemaVersion, d.Time)
		}
		if uids[d.UID] {
			t.Errorf("%s: uid %s used twice", name, d.UID)
		}
		uids[d.UID] = true
		vars := map[string]bool{}
		for _, v := range d.Templating.List {
			vars[v.Name] = true
			if v.Type == "query" {
				q, _ := v.Query.(map[string]any)
				if q["editorType"] != "sql" || q["rawSql"] == "" {
					t.Errorf("%s: variable %s: query %v", name, v.Name, v.Query)
				}
			}
		}
		ids := map[int]bool{}
		for _, p := range d.Panels {
			if ids[p.ID] || p.ID == 0 {
				t.Errorf("%s: panel id %d repeated or zero", name, p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: panel %q: gridPos %+v", name, p.Title, p.GridPos)
			}
			if p.Type == "row" {
				continue
			}
			if p.Title == "" || p.Description == "" {
				t.Errorf("%s: panel %d has no title or description", name, p.ID)
			}
			if p.Datasource.Type != "grafana-clickhouse-datasource" || p.Datasource.UID != dashboards.ClickHouseUID {
				t.Errorf("%s: panel %q: datasource %+v", name, p.Title, p.Datasource)
			}
			if len(p.Targets) != 1 {
				t.Fatalf("%s: panel %q: %d targets", name, p.Title, len(p.Targets))
			}
			tg := p.Targets[0]
			if tg.RefID == "" || tg.EditorType != "sql" || tg.Format == nil || tg.RawSQL == "" ||
				(tg.QueryType != "table" && tg.QueryType != "timeseries") {
				t.Errorf("%s: panel %q: target %+v", name, p.Title, tg)
			}
			if strings.Contains(tg.RawSQL, "{{") {
				t.Errorf("%s: panel %q: template call left in the SQL", name, p.Title)
			}
			for _, v := range []string{"customer", "pool", "ip", "provider", "window", "category"} {
				if (strings.Contains(tg.RawSQL, "${"+v+"}") || strings.Contains(tg.RawSQL, "${"+v+":")) && !vars[v] {
					t.Errorf("%s: panel %q uses $%s, which the dashboard does not define", name, p.Title, v)
				}
			}
		}
	}
	if n != 5 {
		t.Errorf("%d dashboards, want 5 (NOC, blocked IPs, customers, providers, explorer)", n)
	}
}

// TestLokiLink: the explorer's queue ids link to Grafana Explore on Loki with the row's host
// and queue id and the dashboard's range, as Grafana data-link variables.
func TestLokiLink(t *testing.T) {
	files, err := dashboards.Files(dashboards.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title       string
			FieldConfig struct {
				Overrides []struct {
					Matcher    struct{ ID, Options string }
					Properties []struct {
						ID    string
						Value []struct{ Title, URL string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(files["dashboards/bouncehouse/bouncehouse-explorer.json"], &d); err != nil {
		t.Fatal(err)
	}
	var link string
	for _, p := range d.Panels {
		for _, o := range p.FieldConfig.Overrides {
			if o.Matcher.Options == "queue_id" && len(o.Properties) > 0 && len(o.Properties[0].Value) > 0 {
				link = o.Properties[0].Value[0].URL
			}
		}
	}
	// What Grafana does with the link: fill the variables, then the browser decodes it.
	filled := strings.NewReplacer("${__data.fields.mta_host:percentencode}", "mx-out1", "${__data.fields.queue_id:percentencode}", "4F2A1B3C",
		"${__from}", "1794816000000", "${__to}", "1794830400000").Replace(link)
	u, err := url.Parse(filled)
	if err != nil || u.Path != "/explore" {
		t.Fatalf("link %q: %v", link, err)
	}
	var panes map[string]struct {
		Datasource string
		Queries    []struct{ Expr string }
		Range      struct{ From, To string }
	}
	if err := json.Unmarshal([]byte(u.Query().Get("panes")), &panes); err != nil {
		t.Fatalf("panes of %q: %v", filled, err)
	}
	a := panes["a"]
	if a.Datasource != dashboards.LokiUID || len(a.Queries) != 1 || a.Queries[0].Expr != `{mta_host="mx-out1"} |= "4F2A1B3C"` ||
		a.Range.From != "1794816000000" || a.Range.To != "1794830400000" {
		t.Errorf("link %q opens %+v", link, panes)
	}
}

// TestProvisioningYAML checks the data sources, the dashboard provider and the alerting
// files for what Grafana's provisioning requires.
func TestProvisioningYAML(t *testing.T) {
	files, err := dashboards.Files(dashboards.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	load := func(name string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := yaml.Unmarshal(files[name], &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m["apiVersion"] != 1 {
			t.Errorf("%s: apiVersion %v", name, m["apiVersion"])
		}
		return m
	}
	list := func(m map[string]any, key string) []map[string]any {
		t.Helper()
		xs, _ := m[key].([]any)
		var out []map[string]any
		for _, x := range xs {
			out = append(out, x.(map[string]any))
		}
		if len(out) == 0 {
			t.Errorf("no %s", key)
		}
		return out
	}
	uids := map[string]string{}
	for _, ds := range list(load("datasources/bouncehouse.yaml"), "datasources") {
		if ds["name"] == "" || ds["uid"] == "" || ds["type"] == "" {
			t.Errorf("datasource %v", ds)
		}
		uids[ds["uid"].(string)] = ds["type"].(string)
	}
	if uids[dashboards.ClickHouseUID] != "grafana-clickhouse-datasource" || uids[dashboards.LokiUID] != "loki" {
		t.Errorf("datasources %v", uids)
	}
	for _, p := range list(load("dashboards/bouncehouse.yaml"), "providers") {
		opts, _ := p["options"].(map[string]any)
		if p["type"] != "file" || p["name"] == "" || opts["path"] == "" {
			t.Errorf("provider %v", p)
		}
	}
	groups := list(load("alerting/bouncehouse-rules.yaml"), "groups")
	rules, err := dashboards.Rules(nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range groups {
		if g["name"] == "" || g["folder"] == "" || g["interval"] == "" || g["orgId"] != 1 {
			t.Errorf("group %v", g)
		}
		for _, r := range list(g, "rules") {
			uid, _ := r["uid"].(string)
			seen[uid] = true
			refs := map[string]bool{}
			for _, q := range r["data"].([]any) {
				q := q.(map[string]any)
				model, _ := q["model"].(map[string]any)
				if q["refId"] == "" || model == nil || q["datasourceUid"] == "" {
					t.Errorf("rule %s: query %v", uid, q)
				}
				if q["datasourceUid"] == dashboards.ClickHouseUID && (model["rawSql"] == "" || model["format"] != 1) {
					t.Errorf("rule %s: ClickHouse query %v", uid, model)
				}
				if q["datasourceUid"] == "__expr__" && model["expression"] != "" && !refs[model["expression"].(string)] {
					t.Errorf("rule %s: expression on unknown query %v", uid, model["expression"])
				}
				refs[q["refId"].(string)] = true
			}
			if !refs[r["condition"].(string)] {
				t.Errorf("rule %s: condition %v is no query", uid, r["condition"])
			}
			ann, _ := r["annotations"].(map[string]any)
			if r["title"] == "" || r["for"] == nil || ann["summary"] == "" || ann["description"] == "" {
				t.Errorf("rule %s: %v", uid, r)
			}
			if strings.Contains(ann["description"].(string), "${") {
				t.Errorf("rule %s: parameter left in the description: %s", uid, ann["description"])
			}
		}
	}
	for _, r := range rules {
		if !seen[r.UID] {
			t.Errorf("rule %s not provisioned", r.UID)
		}
	}
	for _, want := range []string{"bh-ip-listed", "bh-blocklist-spike", "bh-provider-surge", "bh-customer-auth", "bh-customer-relay", "bh-ingestion-stalled"} {
		if !seen[want] {
			t.Errorf("no rule %s", want)
		}
	}
	cps := list(load("alerting/bouncehouse-contact-points.yaml"), "contactPoints")
	if cps[0]["name"] != dashboards.ContactPoint {
		t.Errorf("contact point %v", cps[0])
	}
	pol := list(load("alerting/bouncehouse-policies.yaml"), "policies")
	if pol[0]["receiver"] != dashboards.ContactPoint {
		t.Errorf("policy %v", pol[0])
	}
	tpl := list(load("alerting/bouncehouse-templates.yaml"), "templates")
	if !strings.Contains(tpl[0]["template"].(string), `define "bouncehouse.message"`) {
		t.Errorf("template %v", tpl[0])
	}
}

// TestParamOverrides changes a rule's threshold and rejects unknown rules and parameters.
func TestParamOverrides(t *testing.T) {
	k, v, err := dashboards.ParseParam("bh-customer-auth.threshold=0.1")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := dashboards.Rules(map[string]float64{k: v})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.UID == "bh-customer-auth" && r.Threshold() != 0.1 {
			t.Errorf("threshold %v", r.Threshold())
		}
	}
	for _, bad := range []string{"nosuch.threshold", "bh-customer-auth.nosuch"} {
		if _, err := dashboards.Rules(map[string]float64{bad: 1}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, _, err := dashboards.ParseParam("threshold=1"); err == nil {
		t.Error("ParseParam accepted a key without a rule")
	}
	o := dashboards.DefaultOptions()
	o.Params = map[string]float64{"bh-ingestion-stalled.threshold": 45}
	files, err := dashboards.Files(o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(files["alerting/bouncehouse-rules.yaml"], []byte("more than 45 minutes")) {
		t.Error("override not in the provisioned rule")
	}
}
