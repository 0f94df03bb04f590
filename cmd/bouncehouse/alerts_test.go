package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/alert"
	"github.com/bouncehouse/bouncehouse/scenario"
	"github.com/bouncehouse/bouncehouse/scenario/scenariotest"
	"github.com/bouncehouse/bouncehouse/storage/storagetest"
)

// loadScenario stores a generated scenario in database db of the data directory.
func loadScenario(t *testing.T, data, db string, cfg scenario.Config) *scenario.Scenario {
	t.Helper()
	st, scs, err := scenariotest.Open(context.Background(), data, db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return scs[0]
}

// TestAlertsCheck evaluates the rules over a scenario through the CLI: the listed IP fires
// while listed and stops after its delisting, the customer with a broken SPF record fires,
// a quiet week fires nothing; exit codes say which.
func TestAlertsCheck(t *testing.T) {
	storagetest.RequireEngine(t)
	data := filepath.Join(t.TempDir(), "data")
	start := time.Date(2026, 11, 16, 8, 0, 0, 0, time.UTC)
	sc := loadScenario(t, data, "incidents", scenario.Config{Start: start, Duration: 4 * time.Hour, Events: 20_000, Seed: 3})
	loadScenario(t, data, "quiet", scenario.Config{Start: start.AddDate(0, 0, -7), Duration: 4 * time.Hour, Events: 20_000, Seed: 3, Quiet: true})

	check := func(db string, at time.Time, extra ...string) (alert.Report, int) {
		t.Helper()
		args := append([]string{"alerts", "check", "--data", data, "--database", db, "--format", "json", "--at", at.Format(time.RFC3339)}, extra...)
		out, errOut, code := runCLI(t, "", args...)
		var rep alert.Report
		if code != alertsError {
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
			}
		}
		return rep, code
	}
	fires := func(rep alert.Report, rule, label, value string) bool {
		return slices.ContainsFunc(rep.Firing, func(i alert.Instance) bool { return i.Rule == rule && i.Labels[label] == value })
	}

	i := slices.IndexFunc(sc.Truth.Listings, func(l scenario.Listing) bool { return !l.End.IsZero() })
	if i < 0 {
		t.Fatal("the scenario delists no IP")
	}
	zen := sc.Truth.Listings[i]
	rep, code := check("incidents", zen.Start.Add(zen.End.Sub(zen.Start)/2))
	if code != alertsFiring || !fires(rep, "bh-ip-listed", "sending_ip", zen.IP) {
		t.Errorf("while %s is listed: exit %d, firing %+v", zen.IP, code, rep.Firing)
	}
	rep, _ = check("incidents", zen.End.Add(20*time.Minute))
	if fires(rep, "bh-ip-listed", "sending_ip", zen.IP) {
		t.Errorf("20 minutes after delisting, %s still fires", zen.IP)
	}
	for _, m := range sc.Truth.Misconfigured {
		if m.Issue != "spf" {
			continue
		}
		at := m.Start.Add(25 * time.Minute)
		if rep, code := check("incidents", at); code != alertsFiring || !fires(rep, "bh-customer-auth", "customer", m.Customer) {
			t.Errorf("%s with a broken SPF record, at %s: exit %d, firing %+v", m.Customer, at.Format("15:04"), code, rep.Firing)
		}
	}

	for _, f := range []float64{0.3, 0.5, 0.9} {
		at := start.AddDate(0, 0, -7).Add(time.Duration(f * float64(4*time.Hour)))
		if rep, code := check("quiet", at); code != alertsNothing || len(rep.Firing) != 0 || rep.Rules != 6 {
			t.Errorf("quiet week at %s: exit %d, %d rules, firing %+v", at.Format("15:04"), code, rep.Rules, rep.Firing)
		}
	}

	// Webhooks: the generic JSON payload reaches the receiver, retried after a 503.
	var calls atomic.Int32
	var got alert.Report
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("payload: %v\n%s", err, body)
		}
	}))
	defer srv.Close()
	midZen := zen.Start.Add(zen.End.Sub(zen.Start) / 2)
	if _, code := check("incidents", midZen, "--rule", "bh-ip-listed", "--webhook", srv.URL+"/bouncehouse"); code != alertsFiring {
		t.Errorf("with a webhook: exit %d", code)
	}
	if calls.Load() != 2 || len(got.Firing) == 0 || got.Firing[0].Rule != "bh-ip-listed" {
		t.Errorf("webhook called %d times, payload %+v", calls.Load(), got)
	}
	// --dry-run prints the Slack payload and posts nothing.
	calls.Store(0)
	_, errOut, code := runCLI(t, "", "alerts", "check", "--data", data, "--database", "incidents", "--at", midZen.Format(time.RFC3339),
		"--webhook", srv.URL+"/hooks/x", "--dry-run")
	if code != alertsFiring || calls.Load() != 0 || !strings.Contains(errOut, `{"text":`) || !strings.Contains(errOut, zen.IP) {
		t.Errorf("dry run: exit %d, %d calls, stderr %s", code, calls.Load(), errOut)
	}
	// A webhook that keeps failing is an error.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) }))
	defer bad.Close()
	if _, _, code := runCLI(t, "", "alerts", "check", "--data", data, "--database", "incidents", "--at", midZen.Format(time.RFC3339), "--webhook", bad.URL); code != alertsError {
		t.Errorf("failing webhook: exit %d, want %d", code, alertsError)
	}
	for _, args := range [][]string{{"--format", "xml"}, {"--set", "nosuch.x=1"}, {"--rule", "nosuch"}, {"--at", "yesterday"}} {
		if _, _, code := runCLI(t, "", append([]string{"alerts", "check", "--data", data, "--database", "incidents"}, args...)...); code != alertsError {
			t.Errorf("%v: exit %d, want %d", args, code, alertsError)
		}
	}
}

// TestReport writes the week's report through the CLI in each format, to a file (format from
// the extension) and to standard output, and refuses bad periods and formats.
func TestReport(t *testing.T) {
	storagetest.RequireEngine(t)
	data := filepath.Join(t.TempDir(), "data")
	sc := loadScenario(t, data, "bouncehouse", scenario.Config{Start: time.Date(2026, 11, 16, 8, 0, 0, 0, time.UTC), Duration: time.Hour, Events: 3000, Seed: 5})
	out := filepath.Join(t.TempDir(), "w47.html")
	if _, errOut, code := runCLI(t, "", "report", "--data", data, "--week", "2026-W47", "--out", out); code != exitOK || !strings.Contains(errOut, "wrote") {
		t.Fatalf("report --out: exit %d: %s", code, errOut)
	}
	html, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(html), "<!DOCTYPE html>") {
		t.Errorf("html report: %v %.40q", err, html)
	}
	md, _, code := runCLI(t, "", "report", "--data", data, "--week", "2026-W47", "--customer", sc.Truth.Customers[0].Name)
	if code != exitOK || !strings.HasPrefix(md, "# Deliverability report 2026-W47") || !strings.Contains(md, sc.Truth.Customers[0].Name) {
		t.Errorf("markdown to stdout: exit %d\n%.300s", code, md)
	}
	js, _, code := runCLI(t, "", "report", "--data", data, "--from", "2026-11-16", "--to", "2026-11-17T00:00:00Z", "--format", "json")
	var rep struct {
		Summary struct {
			Current struct {
				Attempts int `json:"attempts"`
			} `json:"current"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(js), &rep); code != exitOK || err != nil || rep.Summary.Current.Attempts == 0 {
		t.Errorf("json: exit %d, %v, %+v", code, err, rep)
	}
	for _, args := range [][]string{{"--week", "2026-47"}, {"--week", "2026-W47", "--from", "2026-11-16"}, {"--from", "2026-11-17", "--to", "2026-11-16"},
		{"--week", "2026-W47", "--format", "pdf"}, {}} {
		if _, _, code := runCLI(t, "", append([]string{"report", "--data", data}, args...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
