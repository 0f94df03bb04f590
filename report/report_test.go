package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/report"
	"github.com/bouncehouse/bouncehouse/scenario"
	"github.com/bouncehouse/bouncehouse/scenario/scenariotest"
	"github.com/bouncehouse/bouncehouse/storage"
	"github.com/bouncehouse/bouncehouse/storage/storagetest"
)

var dataDir string

func TestMain(m *testing.M) {
	os.Exit(storagetest.Main(m, "report", &dataDir, func() {
		if shared.store != nil {
			shared.store.Close()
		}
	}))
}

// Week 47 of 2026 holds the scenario with its incidents; week 46 the same traffic, quiet.
var (
	week47 = scenario.Config{Start: time.Date(2026, 11, 16, 8, 0, 0, 0, time.UTC), Duration: 4 * time.Hour, Events: 20_000, Seed: 11}
	week46 = scenario.Config{Start: time.Date(2026, 11, 9, 8, 0, 0, 0, time.UTC), Duration: 4 * time.Hour, Events: 20_000, Seed: 11, Quiet: true}
)

var (
	once   sync.Once
	shared struct {
		store       *storage.Store
		busy, quiet *scenario.Scenario
		err         error
	}
)

func weeks(t *testing.T) (*storage.Store, *scenario.Scenario, *scenario.Scenario) {
	t.Helper()
	storagetest.RequireEngine(t)
	once.Do(func() {
		st, scs, err := scenariotest.Open(context.Background(), dataDir, "bouncehouse", week47, week46)
		shared.store, shared.err = st, err
		if err == nil {
			shared.busy, shared.quiet = scs[0], scs[1]
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.store, shared.busy, shared.quiet
}

func build(t *testing.T, st *storage.Store, week, customer string) *report.Report {
	t.Helper()
	from, to, err := report.ISOWeek(week)
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Build(context.Background(), st, report.Options{From: from, To: to, Customer: customer, Now: to})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func outcomes(sc *scenario.Scenario) report.Totals {
	o := sc.Truth.Outcomes
	return report.Totals{Delivered: int64(o["delivered"]), Deferred: int64(o["deferred"]), Bounced: int64(o["bounced"]), Expired: int64(o["expired"]),
		Attempts: int64(o["delivered"] + o["deferred"] + o["bounced"] + o["expired"])}
}

// TestSummaryMatchesTheScenario: the week's and the week before's figures are the outcomes
// the two scenarios produced.
func TestSummaryMatchesTheScenario(t *testing.T) {
	st, busy, quiet := weeks(t)
	r := build(t, st, "2026-W47", "")
	for _, x := range []struct {
		name      string
		got, want report.Totals
	}{{"W47", r.Summary.Current, outcomes(busy)}, {"W46", r.Summary.Previous, outcomes(quiet)}} {
		g, w := x.got, x.want
		if g.Attempts != w.Attempts || g.Delivered != w.Delivered || g.Deferred != w.Deferred || g.Bounced != w.Bounced || g.Expired != w.Expired {
			t.Errorf("%s: report %+v, scenario %+v", x.name, g, w)
		}
	}
	if c := r.Summary.Current; c.DeliveryRate <= 0 || c.DeliveryRate+c.BounceRate < 0.999 || c.DeliveryRate+c.BounceRate > 1.001 {
		t.Errorf("rates %+v", c)
	}
	if len(r.Daily) != 7 || r.Daily[0].Date != "2026-11-16" || r.Daily[0].Delivered != r.Summary.Current.Delivered {
		t.Errorf("daily %+v", r.Daily)
	}
	var cat, party int64
	for _, c := range r.Categories {
		cat += c.Failures
	}
	for _, p := range r.ActionParties {
		party += p.Failures
	}
	if want := r.Summary.Current.Deferred + r.Summary.Current.Bounced + r.Summary.Current.Expired; cat != want || party != want {
		t.Errorf("failures by category %d, by party %d, want %d", cat, party, want)
	}
	if len(r.Providers) == 0 || r.Providers[0].Attempts == 0 {
		t.Errorf("providers %+v", r.Providers)
	}
}

// TestIncidentsMatchTheScenario: one incident per listing and throttling episode of the
// scenario, starting and ending when it did, ongoing when the scenario left it so, with the
// list's delisting page; nothing else.
func TestIncidentsMatchTheScenario(t *testing.T) {
	st, busy, _ := weeks(t)
	r := build(t, st, "2026-W47", "")
	type want struct {
		start, end time.Time
		ongoing    bool
	}
	wants := map[string]want{}
	for _, l := range busy.Truth.Listings {
		wants[l.IP+" "+l.List] = want{l.Start, l.End, l.End.IsZero()}
	}
	for _, th := range busy.Truth.Throttling {
		wants[th.IP+" "+th.Provider+" reputation ("+th.ProviderCode+")"] = want{th.Start, th.End, th.End.IsZero()}
	}
	got := map[string]report.Incident{}
	for _, in := range r.Incidents {
		key := in.IP + " " + in.List
		if _, dup := got[key]; dup {
			t.Errorf("incident %s split in two: %+v", key, r.Incidents)
		}
		got[key] = in
	}
	near := func(a, b time.Time) bool { d := a.Sub(b); return d > -10*time.Minute && d < 10*time.Minute }
	for key, w := range wants {
		in, ok := got[key]
		if !ok {
			t.Errorf("no incident for %s; incidents: %v", key, slices.Sorted(maps.Keys(got)))
			continue
		}
		if !near(in.Start, w.start) || in.Ongoing != w.ongoing || (!w.ongoing && !near(in.End, w.end)) || in.Attempts == 0 {
			t.Errorf("%s: incident %s to %s (ongoing %v), scenario %s to %s", key, in.Start, in.End, in.Ongoing, w.start, w.end)
		}
		if !strings.Contains(in.List, "reputation") && in.DelistURL == "" {
			t.Errorf("%s: no delisting page", key)
		}
	}
	for key := range got {
		if _, ok := wants[key]; !ok {
			t.Errorf("incident %s is not in the scenario", key)
		}
	}
}

// TestMisconfiguredMatchesTheScenario: the customers the scenario broke, each with its
// issue, still failing or fixed as the scenario left it, with the remediation; and with
// --customer, only that customer.
func TestMisconfiguredMatchesTheScenario(t *testing.T) {
	st, busy, _ := weeks(t)
	r := build(t, st, "2026-W47", "")
	want := map[string]bool{}
	for _, m := range busy.Truth.Misconfigured {
		want[m.Customer+" "+m.Issue] = m.End.IsZero()
	}
	got := map[string]bool{}
	for _, m := range r.Misconfigured {
		got[m.Customer+" "+m.Issue] = m.Ongoing
		if m.Remediation == "" || m.Example == "" || m.Failures == 0 {
			t.Errorf("%+v lacks remediation, example or failures", m)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("misconfigured (ongoing) %v, scenario %v", got, want)
	}
	urgent := 0
	for _, rec := range r.Recommendations {
		if rec.Priority == "urgent" {
			urgent++
		}
	}
	ongoing := 0
	for _, v := range want {
		if v {
			ongoing++
		}
	}
	for _, in := range r.Incidents {
		if in.Ongoing {
			ongoing++
		}
	}
	if urgent != ongoing {
		t.Errorf("%d urgent recommendations for %d ongoing incidents and issues: %+v", urgent, ongoing, r.Recommendations)
	}

	for _, m := range busy.Truth.Misconfigured {
		cr := build(t, st, "2026-W47", m.Customer)
		if len(cr.Misconfigured) == 0 {
			t.Errorf("--customer %s: no issue", m.Customer)
		}
		for _, x := range cr.Misconfigured {
			if x.Customer != m.Customer {
				t.Errorf("--customer %s reports %s", m.Customer, x.Customer)
			}
		}
		i := slices.IndexFunc(busy.Truth.Customers, func(c scenario.Customer) bool { return c.Name == m.Customer })
		if got, max := cr.Summary.Current.Attempts, int64(busy.Truth.Customers[i].Events); got == 0 || got > max {
			t.Errorf("--customer %s: %d attempts, the scenario has %d events of it", m.Customer, got, max)
		}
	}
}

// TestQuietWeek: the week without incidents has none to report and nothing urgent.
func TestQuietWeek(t *testing.T) {
	st, _, _ := weeks(t)
	r := build(t, st, "2026-W46", "")
	if len(r.Incidents) != 0 || len(r.Misconfigured) != 0 {
		t.Errorf("quiet week: incidents %+v, misconfigured %+v", r.Incidents, r.Misconfigured)
	}
	for _, rec := range r.Recommendations {
		if rec.Priority == "urgent" {
			t.Errorf("quiet week: %+v", rec)
		}
	}
	if r.Summary.Previous.Attempts != 0 || r.Summary.Current.Attempts == 0 {
		t.Errorf("quiet week summary %+v", r.Summary)
	}
}

// TestRenderings: every format renders; JSON and CSV parse back; HTML loads nothing from
// the network and runs no script.
func TestRenderings(t *testing.T) {
	st, busy, _ := weeks(t)
	r := build(t, st, "2026-W47", "")
	outs := map[string]string{}
	for _, f := range report.Formats {
		var b bytes.Buffer
		if err := report.Render(&b, r, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		outs[f] = b.String()
	}
	var back report.Report
	if err := json.Unmarshal([]byte(outs["json"]), &back); err != nil || back.Summary.Current.Attempts != r.Summary.Current.Attempts {
		t.Errorf("json: %v", err)
	}
	rows, err := csv.NewReader(strings.NewReader(outs["csv"])).ReadAll()
	if err != nil || len(rows) < 30 || strings.Join(rows[0], ",") != "section,key,field,value" {
		t.Errorf("csv: %v, %d rows", err, len(rows))
	}
	for _, want := range []string{"# Deliverability report 2026-W47", "## Blocklist incidents", "## Misconfigured customers", busy.Truth.Listings[0].IP} {
		if !strings.Contains(outs["md"], want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	html := outs["html"]
	for _, bad := range []string{"<script", " src=", "@import", "url(", "<link"} {
		if strings.Contains(html, bad) {
			t.Errorf("html contains %q: it must be self-contained", bad)
		}
	}
	for _, want := range []string{"<svg", "What to do", "Blocklist incidents", busy.Truth.Misconfigured[0].Customer} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if err := report.Render(&bytes.Buffer{}, r, "pdf"); err == nil {
		t.Error("pdf accepted")
	}
}

func TestISOWeek(t *testing.T) {
	for in, want := range map[string]string{"2026-W47": "2026-11-16", "2026-W01": "2025-12-29", "2020-W53": "2020-12-28", "2026-w02": "2026-01-05"} {
		from, to, err := report.ISOWeek(in)
		if err != nil || from.Format("2006-01-02") != want || to.Sub(from) != 7*24*time.Hour {
			t.Errorf("%s: %s to %s, %v; want from %s", in, from, to, err, want)
		}
	}
	for _, bad := range []string{"2026-47", "2026-W54", "2025-W53", "W47", ""} {
		if _, _, err := report.ISOWeek(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
