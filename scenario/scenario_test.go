package scenario_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/classify"
	"github.com/bouncehouse/bouncehouse/ingest"
	"github.com/bouncehouse/bouncehouse/scenario"
)

// The default scenario (50,000 events) is generated once and shared by the tests that read it.
var defaultScenario = sync.OnceValues(func() (*scenario.Scenario, error) {
	return scenario.Generate(scenario.Config{Seed: 7})
})

func mustDefault(t testing.TB) *scenario.Scenario {
	t.Helper()
	s, err := defaultScenario()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newProcessor(t testing.TB, opts ingest.Options) *ingest.Processor {
	t.Helper()
	c, err := classify.Default()
	if err != nil {
		t.Fatal(err)
	}
	return ingest.NewProcessor(c, opts)
}

// ingestRecords feeds every record to one processor, in order, as a consumer of the Kafka
// topic would: log lines with their line number in their host's stream, bounce emails whole.
// It returns the events and the errors of the records that could not be parsed.
func ingestRecords(recs []scenario.Record, opts ingest.Options) ([]ingest.Event, []string) {
	c, err := classify.Default()
	if err != nil {
		return nil, []string{err.Error()}
	}
	p := ingest.NewProcessor(c, opts)
	var out []ingest.Event
	var errs []string
	lineNo := map[string]int{}
	for _, r := range recs {
		switch r.Kind {
		case scenario.KindLog:
			lineNo[r.Key]++
			out, err = p.Line(string(r.Value), lineNo[r.Key], ingest.FormatAuto, out)
		case scenario.KindBounceEmail:
			out, err = p.Message(r.Value, out)
		default:
			err = fmt.Errorf("record of kind %q", r.Kind)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v\n%.300s", r.Key, err, r.Value))
		}
	}
	return p.Flush(out), errs
}

// runRecords is ingestRecords that fails the test on records that could not be parsed.
func runRecords(t testing.TB, recs []scenario.Record, opts ingest.Options) []ingest.Event {
	t.Helper()
	evs, errs := ingestRecords(recs, opts)
	reportErrors(t, errs)
	return evs
}

func reportErrors(t testing.TB, errs []string) {
	t.Helper()
	for i, e := range errs {
		if i == 5 {
			break
		}
		t.Errorf("record not parsed: %s", e)
	}
	if len(errs) > 0 {
		t.Errorf("%d records not parsed", len(errs))
	}
}

// defaultEvents are the events of the default scenario read with default options, shared by
// the tests that read them.
var defaultEvents = sync.OnceValues(func() ([]ingest.Event, []string) {
	s, err := defaultScenario()
	if err != nil {
		return nil, []string{err.Error()}
	}
	return ingestRecords(s.Records, ingest.Options{})
})

func mustDefaultEvents(t testing.TB) []ingest.Event {
	t.Helper()
	evs, errs := defaultEvents()
	reportErrors(t, errs)
	return evs
}

// summary is what the tests compare with the truth.
type summary struct {
	total      int
	outcomes   map[string]int
	categories map[string]int
}

func summarize(evs []ingest.Event) summary {
	s := summary{total: len(evs), outcomes: map[string]int{}, categories: map[string]int{}}
	for _, e := range evs {
		s.outcomes[string(e.Outcome)]++
		if e.Outcome.IsFailure() {
			s.categories[e.Category]++
		}
	}
	return s
}

func checkSummary(t *testing.T, truth scenario.Truth, got summary) {
	t.Helper()
	if got.total != truth.ProducedEvents {
		t.Errorf("ingest produced %d events, truth says %d", got.total, truth.ProducedEvents)
	}
	if !maps.Equal(got.outcomes, truth.Outcomes) {
		t.Errorf("outcomes:\n got %v\nwant %v", got.outcomes, truth.Outcomes)
	}
	if !maps.Equal(got.categories, truth.Categories) {
		t.Errorf("categories:\n got %v\nwant %v", got.categories, truth.Categories)
	}
}

func provider(e *ingest.Event) string {
	if e.Provider == "" {
		return "other"
	}
	return e.Provider
}

func within(at, start, end time.Time) bool {
	return !at.Before(start) && (end.IsZero() || !at.After(end))
}

// TestScenarioMatchesIngest runs the default scenario through the project's parsers and
// classifier with default options and holds the result to the truth.
func TestScenarioMatchesIngest(t *testing.T) {
	s := mustDefault(t)
	tr := s.Truth
	evs := mustDefaultEvents(t)
	got := summarize(evs)
	checkSummary(t, tr, got)
	if n := got.categories["unclassified"] + got.categories[""]; n > 0 {
		t.Errorf("%d failure events without a category", n)
	}
	if n := tr.LogLines + tr.BounceEmails; n != len(s.Records) {
		t.Errorf("truth counts %d records, scenario has %d", n, len(s.Records))
	}
	if share := float64(got.outcomes["delivered"]) / float64(got.total); share < 0.70 || share > 0.80 {
		t.Errorf("delivered share %.3f, want 0.70-0.80", share)
	}
	if got.total < 45_000 || got.total > 55_000 {
		t.Errorf("%d events for a scenario of about 50,000", got.total)
	}
	for _, o := range []string{"delivered", "deferred", "bounced", "expired"} {
		if got.outcomes[o] == 0 {
			t.Errorf("no %s event", o)
		}
	}

	for _, l := range tr.Listings {
		n, providers := 0, map[string]bool{}
		for i := range evs {
			e := &evs[i]
			if e.ListedIP != l.IP || !slices.Contains(e.BlocklistProviders, l.List) {
				continue
			}
			n++
			providers[provider(e)] = true
			if e.Category != "ip_blocklisted" {
				t.Errorf("%s listing: event classified %s: %q", l.List, e.Category, e.Response)
			}
		}
		if n != l.Events || n == 0 {
			t.Errorf("%s listing of %s: %d events, truth says %d", l.List, l.IP, n, l.Events)
		}
		if got := slices.Sorted(maps.Keys(providers)); !slices.Equal(got, l.Providers) {
			t.Errorf("%s listing of %s: refused by %v, truth says %v", l.List, l.IP, got, l.Providers)
		}
	}
	for _, m := range tr.Misconfigured {
		n := 0
		for i := range evs {
			if e := &evs[i]; e.SenderDomain == m.SenderDomain && e.Category == m.Category {
				n++
			}
		}
		if n != m.Events || n == 0 {
			t.Errorf("%s %s: %d %s events, truth says %d", m.Customer, m.Issue, n, m.Category, m.Events)
		}
	}
	for _, th := range tr.Throttling {
		n := 0
		for i := range evs {
			if e := &evs[i]; e.ProviderCode == th.ProviderCode {
				n++
				if e.Category != th.Category || e.Provider != th.Provider || e.SendingIP != th.IP || e.Outcome != ingest.Deferred {
					t.Errorf("%s event: %s %s from %s (%s)", th.ProviderCode, e.Category, e.Provider, e.SendingIP, e.Outcome)
				}
			}
		}
		if n != th.Events || n == 0 {
			t.Errorf("%s: %d events, truth says %d", th.ProviderCode, n, th.Events)
		}
	}
}

// TestInjectedFailures checks the events the scenario's incidents stand for, one by one.
func TestInjectedFailures(t *testing.T) {
	s := mustDefault(t)
	evs := mustDefaultEvents(t)
	count := func(f func(e *ingest.Event) bool) int {
		n := 0
		for i := range evs {
			if f(&evs[i]) {
				n++
			}
		}
		return n
	}
	zen := s.Truth.Listings[0]
	for _, p := range []string{"microsoft365", "yahoo", "other"} {
		if count(func(e *ingest.Event) bool {
			return e.ListedIP == zen.IP && provider(e) == p && e.Category == "ip_blocklisted"
		}) == 0 {
			t.Errorf("no Spamhaus refusal of %s from %s", zen.IP, p)
		}
	}
	if count(func(e *ingest.Event) bool { return e.ProviderCode == "BL21" && e.Outcome == ingest.Deferred }) == 0 {
		t.Error("no Yahoo BL21 deferral")
	}
	if count(func(e *ingest.Event) bool { return e.ProviderCode == "S3150" && e.MTA == "kumomta" }) == 0 {
		t.Error("no Microsoft S3150 refusal in the KumoMTA records")
	}
	// The listed IP delivers again once it is delisted.
	if count(func(e *ingest.Event) bool {
		return e.SendingIP == zen.IP && e.Outcome == ingest.Delivered && e.EventTime.After(zen.End) &&
			(e.Provider == "yahoo" || e.Provider == "microsoft365")
	}) == 0 {
		t.Errorf("no delivery from %s to Yahoo or Microsoft 365 after the delisting", zen.IP)
	}
	for _, c := range []struct{ rule, what string }{
		{"microsoft.tenant_attribution", "Microsoft 365 relay refusal"},
		{"en.relay_denied", "Postfix relay refusal"},
		{"en.mail_loop", "mail loop"},
		{"yahoo.tss", "Yahoo TSS04 deferral"},
		{"outlook.rp001", "Outlook.com rate limit"},
		{"en.rate_limited.unusual_rate", "Gmail rate limit"},
		{"en.greylisted", "greylisting"},
	} {
		if count(func(e *ingest.Event) bool { return e.Rule == c.rule }) == 0 {
			t.Errorf("no %s (rule %s)", c.what, c.rule)
		}
	}
	for _, st := range []string{"5.7.26", "5.7.27", "5.7.23"} {
		if count(func(e *ingest.Event) bool { return e.EnhancedStatus == st && e.Category == "spf_fail" }) == 0 {
			t.Errorf("no SPF refusal with %s", st)
		}
	}
	// Unknown users and full mailboxes in the receivers' languages.
	for _, lang := range []string{"sv", "de", "fr", "nl", "ru", "ja"} {
		for _, cat := range []string{"user_unknown", "mailbox_full"} {
			if count(func(e *ingest.Event) bool { return strings.HasPrefix(e.Rule, lang+".") && e.Category == cat }) == 0 {
				t.Errorf("no %s answer in %s", cat, lang)
			}
		}
	}
	// Deferrals that end in expiry, in every MTA that keeps transactional mail an hour.
	for _, mta := range []string{"postfix", "exim", "powermta"} {
		if count(func(e *ingest.Event) bool { return e.MTA == mta && e.Outcome == ingest.Expired }) == 0 {
			t.Errorf("no expiry in the %s records", mta)
		}
	}
	// Bounce emails: each is tied to its customer by the returned message.
	domains := map[string]bool{}
	for _, c := range s.Truth.Customers {
		domains[c.SenderDomain] = true
	}
	dsn, loops := 0, 0
	for i := range evs {
		e := &evs[i]
		if e.MTA != "dsn" {
			continue
		}
		dsn++
		if !domains[e.SenderDomain] || e.MessageID == "" || e.Recipient == "" || e.Outcome != ingest.Bounced {
			t.Errorf("bounce email event not tied to a customer: sender %q, message %q, recipient %q, %s",
				e.Sender, e.MessageID, e.Recipient, e.Outcome)
		}
		if e.Category == "mail_loop" {
			loops++
		}
	}
	if dsn != s.Truth.BounceEmails || loops == 0 {
		t.Errorf("%d events from %d bounce emails (%d loops)", dsn, s.Truth.BounceEmails, loops)
	}
}

// TestEnrichedEvents runs the scenario with the enrichment configuration it describes: every
// event has its customer, and every event of our MTAs its sending IP and pool.
func TestEnrichedEvents(t *testing.T) {
	s := mustDefault(t)
	tr := s.Truth
	opts := ingest.Options{Enrich: s.EnrichOptions()}
	opts.Frame.Now = func() time.Time { return tr.End } // syslog dates carry no year
	evs := runRecords(t, s.Records, opts)
	checkSummary(t, tr, summarize(evs))
	names := map[string]bool{}
	pools := map[string]string{}
	for _, c := range tr.Customers {
		names[c.Name] = true
	}
	for _, ip := range tr.IPs {
		pools[ip.IP] = ip.Pool
	}
	bad := 0
	for i := range evs {
		e := &evs[i]
		ok := names[e.Customer] && within(e.EventTime, tr.Start, tr.End) && e.Direction == ingest.Outbound
		if e.MTA != "dsn" {
			ok = ok && pools[e.SendingIP] != "" && e.Pool == pools[e.SendingIP]
		}
		if !ok {
			if bad++; bad <= 5 {
				t.Errorf("event at %s of %s (%s): customer %q, sending IP %q, pool %q", e.EventTime, e.MTA, e.Outcome, e.Customer, e.SendingIP, e.Pool)
			}
		}
	}
	for _, l := range tr.Listings {
		for i := range evs {
			e := &evs[i]
			if e.ListedIP == l.IP && slices.Contains(e.BlocklistProviders, l.List) {
				if e.SendingIP != l.IP || e.Pool != l.Pool || !within(e.EventTime, l.Start, l.End) {
					t.Errorf("%s refusal at %s from %s (%s), listed %s to %v", l.List, e.EventTime, e.SendingIP, e.Pool, l.Start, l.End)
				}
			}
		}
	}
	for _, m := range tr.Misconfigured {
		for i := range evs {
			e := &evs[i]
			if e.SenderDomain == m.SenderDomain && e.Category == m.Category {
				if e.Customer != m.Customer || !within(e.EventTime, m.Start, m.End) {
					t.Errorf("%s event of %q at %s, broken %s to %v", m.Category, e.Customer, e.EventTime, m.Start, m.End)
				}
			}
		}
	}
}

// TestTruth checks the shape of the scenario the truth describes.
func TestTruth(t *testing.T) {
	tr := mustDefault(t).Truth
	if n := len(tr.Customers); n < 6 || n > 10 {
		t.Errorf("%d customers, want 6-10", n)
	}
	pools := map[string]int{}
	mtas := map[string]bool{}
	for _, ip := range tr.IPs {
		pools[ip.Pool]++
		mtas[ip.MTA+"@"+ip.Host] = true
	}
	if len(tr.IPs) < 8 || len(pools) != 3 {
		t.Errorf("%d IPs in pools %v, want 8 or more in 3 pools", len(tr.IPs), pools)
	}
	if len(mtas) < 5 {
		t.Errorf("MTAs %v", mtas)
	}
	delisted, ongoing := 0, []string{}
	for _, l := range tr.Listings {
		if l.End.IsZero() {
			ongoing = append(ongoing, l.IP)
		} else {
			delisted++
		}
	}
	sort.Strings(ongoing)
	if delisted == 0 || len(ongoing) == 0 || !slices.Equal(ongoing, tr.BrokenAtEnd.IPs) {
		t.Errorf("%d delisted, still listed %v, broken at the end %v", delisted, ongoing, tr.BrokenAtEnd.IPs)
	}
	fixed, broken := 0, []string{}
	for _, m := range tr.Misconfigured {
		if m.End.IsZero() {
			broken = append(broken, m.Customer)
		} else {
			fixed++
		}
	}
	sort.Strings(broken)
	if fixed == 0 || len(broken) == 0 || !slices.Equal(broken, tr.BrokenAtEnd.Customers) {
		t.Errorf("%d fixed, still broken %v, broken at the end %v", fixed, broken, tr.BrokenAtEnd.Customers)
	}
	sum := 0
	for _, n := range tr.Outcomes {
		sum += n
	}
	fails := 0
	for _, n := range tr.Categories {
		fails += n
	}
	if sum != tr.ProducedEvents || fails != sum-tr.Outcomes["delivered"] {
		t.Errorf("outcomes add up to %d, categories to %d, of %d events", sum, fails, tr.ProducedEvents)
	}
}

// TestRecords checks the records themselves: time order, the window, the keys and the
// shapes the formats need.
func TestRecords(t *testing.T) {
	s := mustDefault(t)
	tr := s.Truth
	keys := map[string]int{}
	var last time.Time
	seen := map[string]bool{}
	for i, r := range s.Records {
		if r.Time.Before(last) {
			t.Fatalf("record %d at %s comes after one at %s", i, r.Time, last)
		}
		last = r.Time
		if !within(r.Time, tr.Start, tr.End) {
			t.Fatalf("record %d at %s is outside [%s, %s]", i, r.Time, tr.Start, tr.End)
		}
		keys[r.Kind+" "+r.Key]++
		v := string(r.Value)
		if r.Kind == scenario.KindLog && strings.ContainsAny(v, "\r\n") {
			t.Fatalf("log line %d holds a line break: %q", i, v)
		}
		if !seen[r.Key] && r.Key == "pmta1" && !strings.HasPrefix(v, "type,") {
			t.Errorf("first PowerMTA record is not the header: %q", v)
		}
		seen[r.Key] = true
	}
	want := []string{"bounce-email mx-in1", "mta-log kumo1", "mta-log mta2", "mta-log mx-out1", "mta-log mx-out2", "mta-log pmta1"}
	if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, want) {
		t.Errorf("record kinds and keys %v, want %v", got, want)
	}
	for _, needle := range []string{" postfix-out2/smtp[", " postfix/smtp[", " postfix-198.51.100.10/smtp[", " exim[",
		"gmail-smtp-in.l.google.com", ".mail.protection.outlook.com", "mta5.am0.yahoodns.net", "mx00.emig.gmx.net",
		"smtp-in.orange.fr", "mxs.mail.ru", "mx-ha03.web.de", "olc.protection.outlook.com"} {
		found := false
		for _, r := range s.Records {
			if bytes.Contains(r.Value, []byte(needle)) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no record holds %q", needle)
		}
	}
}

func TestDeterministic(t *testing.T) {
	cfg := scenario.Config{Seed: 42, Events: 5000, Duration: 45 * time.Minute}
	a, err := scenario.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := scenario.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two scenarios of the same seed differ")
	}
	cfg.Seed++
	c, err := scenario.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Records, c.Records) {
		t.Fatal("scenarios of different seeds are equal")
	}
}

// TestConfigs holds smaller and shorter scenarios of several seeds to their truth.
func TestConfigs(t *testing.T) {
	for _, cfg := range []scenario.Config{
		{Seed: 1, Events: 2000, Duration: 20 * time.Minute},
		{Seed: 2, Events: 4000, Duration: 4 * time.Hour, Start: time.Date(2026, 12, 31, 22, 0, 0, 0, time.UTC)},
		{Seed: 3, Events: 10_000, Duration: 90 * time.Minute, Start: time.Date(2026, 6, 1, 12, 0, 0, 0, time.FixedZone("CEST", 7200))},
		{Seed: 4, Events: 3000, Duration: 26 * time.Hour},
	} {
		s, err := scenario.Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkSummary(t, s.Truth, summarize(runRecords(t, s.Records, ingest.Options{})))
		if got, want := s.Truth.End.Sub(s.Truth.Start), cfg.Duration; got != want {
			t.Errorf("window of %s, want %s", got, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []scenario.Config{
		{Duration: 5 * time.Minute},
		{Duration: -time.Hour},
		{Events: 10},
		{Events: -1},
		{Events: 100_000_000},
	} {
		if _, err := scenario.Generate(cfg); err == nil {
			t.Errorf("Generate(%+v): no error", cfg)
		}
	}
}

// TestWriteFiles writes a scenario out and reads the files back through the same parser.
func TestWriteFiles(t *testing.T) {
	s, err := scenario.Generate(scenario.Config{Seed: 11, Events: 8000})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	var names []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"bounces", "kumo1.kumomta.jsonl", "mta2.exim.log", "mx-out1.postfix.log", "mx-out2.postfix.log", "pmta1.acct.csv", "truth.json"}
	if !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}

	p := newProcessor(t, ingest.Options{})
	var evs []ingest.Event
	lines := 0
	for _, name := range want[1:6] {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		n := 0
		for sc.Scan() {
			n++
			if n == 1 && name == "pmta1.acct.csv" && !strings.HasPrefix(sc.Text(), "type,") {
				t.Errorf("%s starts with %q", name, sc.Text())
			}
			if evs, err = p.Line(sc.Text(), n, ingest.FormatAuto, evs); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		lines += n
	}
	emls, err := filepath.Glob(filepath.Join(dir, "bounces", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range emls {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if evs, err = p.Message(raw, evs); err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
		}
	}
	evs = p.Flush(evs)
	if lines != s.Truth.LogLines || len(emls) != s.Truth.BounceEmails {
		t.Errorf("%d lines and %d emails written, truth says %d and %d", lines, len(emls), s.Truth.LogLines, s.Truth.BounceEmails)
	}
	checkSummary(t, s.Truth, summarize(evs))

	raw, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back scenario.Truth
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	orig, _ := json.Marshal(s.Truth)
	if !bytes.Equal(again, orig) {
		t.Errorf("truth.json does not read back to the truth:\n%s\n%s", again, orig)
	}
	for _, key := range []string{`"produced_events"`, `"misconfigured_customers"`, `"broken_at_end"`, `"listings"`} {
		if !bytes.Contains(raw, []byte(key)) {
			t.Errorf("truth.json has no %s", key)
		}
	}
}

// BenchmarkGenerate measures the default scenario (50,000 events).
//
//	go test -run '^$' -bench Generate -benchmem -count 6 ./scenario
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		s, err := scenario.Generate(scenario.Config{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		events = s.Truth.ProducedEvents
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
