package dashboards_test

import (
	"context"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/alert"
	"github.com/bouncehouse/bouncehouse/dashboards"
	"github.com/bouncehouse/bouncehouse/scenario"
	"github.com/bouncehouse/bouncehouse/scenario/scenariotest"
	"github.com/bouncehouse/bouncehouse/storage"
	"github.com/bouncehouse/bouncehouse/storage/storagetest"
)

var dataDir string

func TestMain(m *testing.M) {
	os.Exit(storagetest.Main(m, "dashboards", &dataDir, func() {
		if shared.store != nil {
			shared.store.Close()
		}
	}))
}

// The scenario the tests read: four hours from Monday 2026-11-16 08:00 UTC, so that every
// incident's start and end lies well away from the windows the checkpoints look at.
var scenarioConfig = scenario.Config{Start: time.Date(2026, 11, 16, 8, 0, 0, 0, time.UTC), Duration: 4 * time.Hour, Events: 40_000, Seed: 7}

type loaded struct {
	store *storage.Store
	sc    *scenario.Scenario
	err   error
}

var (
	loadOnce sync.Once
	shared   loaded
)

// scenarioStore returns the store holding the scenario, loaded once per test binary.
func scenarioStore(t *testing.T) (*storage.Store, *scenario.Scenario) {
	t.Helper()
	storagetest.RequireEngine(t)
	loadOnce.Do(func() {
		st, scs, err := scenariotest.Open(context.Background(), dataDir, "bouncehouse", scenarioConfig)
		shared = loaded{store: st, err: err}
		if err == nil {
			shared.sc = scs[0]
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.store, shared.sc
}

// at is a time of the scenario, as a fraction of its window.
func at(sc *scenario.Scenario, f float64) time.Time {
	d := sc.Truth.End.Sub(sc.Truth.Start)
	return sc.Truth.Start.Add(time.Duration(f * float64(d))).Truncate(time.Second)
}

// TestEveryQueryRuns runs every panel and variable query, its macros and variables
// expanded, on the scenario: with every variable on All, and with one value each.
func TestEveryQueryRuns(t *testing.T) {
	st, sc := scenarioStore(t)
	qs, err := dashboards.Queries(dashboards.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	one := map[string][]string{
		"customer": {sc.Truth.Customers[0].Name}, "pool": {sc.Truth.IPs[0].Pool}, "ip": {sc.Truth.IPs[0].IP, sc.Truth.IPs[1].IP},
		"provider": {"gmail", "yahoo"}, "category": {"spf_fail"}, "window": {"30"}, "recipient_domain": {"gmail.com"},
		"queue_id": {"4F2A1B"}, "message_id": {"x'y@example.com"}, "recipient": {"ann@example.com"},
	}
	for _, all := range []map[string][]string{dashboards.Variables(), one} {
		for _, q := range qs {
			vars := map[string][]string{} // only the dashboard's own variables exist
			for _, v := range q.Vars {
				vars[v] = all[v]
			}
			sql, err := dashboards.Expand(q.SQL, dashboards.Context{From: sc.Truth.Start, To: sc.Truth.End, Interval: time.Minute, Vars: vars})
			if err != nil {
				t.Errorf("%s / %s: %v", q.Dashboard, q.Panel, err)
				continue
			}
			res, err := st.Query(context.Background(), sql, nil)
			if err != nil {
				t.Errorf("%s / %s: %v\n%s", q.Dashboard, q.Panel, err, sql)
				continue
			}
			if q.TimeSeries && len(res.Rows) > 0 && res.Columns[0].Name != "time" {
				t.Errorf("%s / %s: a time series must start with its time column, not %s", q.Dashboard, q.Panel, res.Columns[0].Name)
			}
		}
	}
}

// panelRows runs one panel's query with the default variables and window_min.
func panelRows(t *testing.T, st *storage.Store, dash, panel string, to time.Time, window string) []map[string]any {
	t.Helper()
	qs, err := dashboards.Queries(dashboards.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(qs, func(q dashboards.Query) bool { return q.Dashboard == dash && q.Panel == panel })
	if i < 0 {
		t.Fatalf("no panel %q in %s", panel, dash)
	}
	vars := dashboards.Variables()
	vars["window"] = []string{window}
	sql, err := dashboards.Expand(qs[i].SQL, dashboards.Context{From: to.Add(-6 * time.Hour), To: to, Interval: time.Minute, Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Query(context.Background(), sql, nil)
	if err != nil {
		t.Fatalf("%s: %v", panel, err)
	}
	var out []map[string]any
	for _, r := range res.Rows {
		m := map[string]any{}
		for j, c := range res.Columns {
			m[c.Name] = r[j]
		}
		out = append(out, m)
	}
	return out
}

// activeIn reports whether [start, end) (end zero: ongoing) overlaps (from, to].
func activeIn(start, end, from, to time.Time) bool {
	return start.Before(to) && (end.IsZero() || end.After(from))
}

// checkpoints are times (fractions of the window) whose 30-minute windows start and end at
// least six minutes away from every incident's start and end.
var checkpoints = []float64{0.45, 0.75, 1.0}

// TestNowPanelsMatchTheScenario: at each checkpoint, the NOC's "Blocked IPs now" and
// "Misconfigured customers now" panels list exactly the IPs and customers the scenario had
// broken in the window, and nothing the scenario had repaired before it.
func TestNowPanelsMatchTheScenario(t *testing.T) {
	st, sc := scenarioStore(t)
	const window = 30 * time.Minute
	for _, f := range checkpoints {
		to := at(sc, f)
		from := to.Add(-window)
		wantIPs := map[string]bool{}
		for _, l := range sc.Truth.Listings {
			if activeIn(l.Start, l.End, from, to) {
				wantIPs[l.IP] = true
			}
		}
		for _, th := range sc.Truth.Throttling {
			if slices.Contains(dashboards.BlockCategories, th.Category) && activeIn(th.Start, th.End, from, to) {
				wantIPs[th.IP] = true
			}
		}
		gotIPs := map[string]bool{}
		for _, r := range panelRows(t, st, "bouncehouse-noc", "Blocked IPs now", to, "30") {
			gotIPs[r["sending_ip"].(string)] = true
		}
		if !maps.Equal(gotIPs, wantIPs) {
			t.Errorf("at %.2f (%s): blocked IPs %v, the scenario blocked %v", f, to.Format("15:04"), slices.Sorted(maps.Keys(gotIPs)), slices.Sorted(maps.Keys(wantIPs)))
		}

		wantCust := map[string]bool{}
		for _, m := range sc.Truth.Misconfigured {
			if activeIn(m.Start, m.End, from, to) {
				wantCust[m.Customer+" "+m.Issue] = true
			}
		}
		gotCust := map[string]bool{}
		for _, r := range panelRows(t, st, "bouncehouse-noc", "Misconfigured customers now", to, "30") {
			gotCust[r["customer"].(string)+" "+r["issue"].(string)] = true
			if r["remediation"] == "" || r["example_response"] == "" {
				t.Errorf("at %.2f: %v has no remediation or example", f, r)
			}
		}
		if !maps.Equal(gotCust, wantCust) {
			t.Errorf("at %.2f (%s): misconfigured %v, the scenario broke %v", f, to.Format("15:04"), slices.Sorted(maps.Keys(gotCust)), slices.Sorted(maps.Keys(wantCust)))
		}
		if len(wantIPs) == 0 || len(wantCust) == 0 {
			t.Errorf("at %.2f: checkpoint without incidents: it tests nothing", f)
		}
	}
}

// TestAlertRulesMatchTheScenario evaluates the provisioned alert rules at the checkpoints:
// the listed IPs fire while listed and stop after delisting, the customers with broken SPF
// or relaying fire while broken and stop once fixed, the TSS04 deferrals fire at Yahoo, and
// ingestion counts as stalled once nothing has been stored for the threshold.
func TestAlertRulesMatchTheScenario(t *testing.T) {
	st, sc := scenarioStore(t)
	rules, err := dashboards.Rules(nil)
	if err != nil {
		t.Fatal(err)
	}
	firing := func(to time.Time, uid string, label ...string) map[string]bool {
		t.Helper()
		insts, err := alert.Evaluate(context.Background(), st, rules, alert.Options{At: to})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, i := range alert.Firing(insts) {
			if i.Rule != uid {
				continue
			}
			var parts []string
			for _, l := range label {
				parts = append(parts, i.Labels[l])
			}
			out[strings.Join(parts, " ")] = true
		}
		return out
	}
	lookback := func(uid string) time.Duration {
		for _, r := range rules {
			if r.UID == uid {
				return r.Window()
			}
		}
		t.Fatalf("no rule %s", uid)
		return 0
	}
	for _, f := range checkpoints {
		to := at(sc, f)
		from := to.Add(-lookback("bh-ip-listed"))
		want := map[string]bool{}
		for _, l := range sc.Truth.Listings {
			if activeIn(l.Start, l.End, from, to) {
				want[l.IP+" "+l.List] = true
			}
		}
		if got := firing(to, "bh-ip-listed", "sending_ip", "blocklist"); !maps.Equal(got, want) {
			t.Errorf("at %.2f: bh-ip-listed fires for %v, the scenario listed %v", f, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}

		from = to.Add(-lookback("bh-customer-auth"))
		want = map[string]bool{}
		for _, m := range sc.Truth.Misconfigured {
			if (m.Issue == "spf" || m.Issue == "dkim" || m.Issue == "dmarc") && activeIn(m.Start, m.End, from, to) {
				want[m.Customer] = true
			}
		}
		if got := firing(to, "bh-customer-auth", "customer"); !maps.Equal(got, want) {
			t.Errorf("at %.2f: bh-customer-auth fires for %v, the scenario broke %v", f, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}

		from = to.Add(-lookback("bh-customer-relay"))
		want = map[string]bool{}
		for _, m := range sc.Truth.Misconfigured {
			if m.Issue == "relay" && activeIn(m.Start, m.End, from, to) {
				want[m.Customer] = true
			}
		}
		if got := firing(to, "bh-customer-relay", "customer"); !maps.Equal(got, want) {
			t.Errorf("at %.2f: bh-customer-relay fires for %v, the scenario broke %v", f, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
		if got := firing(to, "bh-ingestion-stalled"); len(got) != 0 {
			t.Errorf("at %.2f: ingestion stalled although events were just stored", f)
		}
	}

	// A listing that starts is a spike against the IP's own past; after delisting it stops.
	i := slices.IndexFunc(sc.Truth.Listings, func(l scenario.Listing) bool { return !l.End.IsZero() })
	if i < 0 {
		t.Fatal("the scenario delists no IP")
	}
	zen := sc.Truth.Listings[i]
	spikeAt := zen.Start.Add(12 * time.Minute)
	if got := firing(spikeAt, "bh-blocklist-spike", "scope", "sending_ip"); !got["ip "+zen.IP] {
		t.Errorf("12 minutes into the %s listing of %s, bh-blocklist-spike fires for %v", zen.List, zen.IP, slices.Sorted(maps.Keys(got)))
	}
	if got := firing(zen.End.Add(20*time.Minute), "bh-blocklist-spike", "scope", "sending_ip"); got["ip "+zen.IP] {
		t.Errorf("20 minutes after delisting %s, bh-blocklist-spike still fires for it", zen.IP)
	}

	// Yahoo's TSS04 deferrals are a reputation surge at one provider.
	for _, th := range sc.Truth.Throttling {
		mid := th.Start.Add(th.End.Sub(th.Start) / 2)
		if got := firing(mid, "bh-provider-surge", "provider"); !got[th.Provider] {
			t.Errorf("in the middle of the %s episode, bh-provider-surge fires for %v", th.ProviderCode, slices.Sorted(maps.Keys(got)))
		}
		if got := firing(th.End.Add(20*time.Minute), "bh-provider-surge", "provider"); got[th.Provider] {
			t.Errorf("20 minutes after the %s episode, bh-provider-surge still fires for %s", th.ProviderCode, th.Provider)
		}
	}

	// An hour after the last store, ingestion has stalled.
	if got := firing(time.Now().Add(time.Hour), "bh-ingestion-stalled"); len(got) != 1 {
		t.Errorf("an hour without events: bh-ingestion-stalled fires %v", got)
	}
}
