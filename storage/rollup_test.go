package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/ingest"
)

// mixedRows is a realistic mix: several IPs, providers and customers, deliveries and
// failures, blocklist hits, inbound rejects and notifications.
func mixedRows(now time.Time, n int, seed uint64) []Row {
	rng := rand.New(rand.NewPCG(seed, 1))
	ips := []string{"203.0.113.10", "203.0.113.11", "203.0.113.12", "198.51.100.7"}
	providers := []string{"gmail", "microsoft", "yahoo", "gmx", ""}
	customers := []string{"acme", "globex", "initech"}
	cats := []string{"user_unknown", "ip_blocklisted", "spf_fail", "rate_limited", "reputation_block"}
	out := make([]Row, n)
	for i := range out {
		e := ev{at: time.Duration(rng.IntN(3*3600)) * time.Second, ip: ips[rng.IntN(len(ips))], pool: "pool-a",
			provider: providers[rng.IntN(len(providers))], customer: customers[rng.IntN(len(customers))], outcome: ingest.Delivered}
		e.domain = e.customer + ".example"
		if rng.IntN(10) < 3 {
			e.outcome, e.category = ingest.Bounced, cats[rng.IntN(len(cats))]
			if rng.IntN(2) == 0 {
				e.outcome = ingest.Deferred
			}
			if e.category == "ip_blocklisted" {
				e.lists = []string{"spamhaus_zen"}
				if rng.IntN(3) == 0 {
					e.lists = append(e.lists, "barracuda")
				}
			}
		}
		out[i] = e.row(now, int64(i))
		switch rng.IntN(20) {
		case 0:
			out[i].Direction, out[i].Outcome = ingest.Inbound, ingest.Rejected
		case 1:
			out[i].Notification = true
		}
	}
	return out
}

// TestRollupsAgreeWithEvents inserts a mix in several batches and checks every rollup
// against the same aggregation over delivery_events.
func TestRollupsAgreeWithEvents(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := context.Background()
	now := time.Now().UTC()
	all := mixedRows(now, 5000, 7)
	for i := 0; i < len(all); i += 1000 {
		batch := all[i : i+1000]
		if err := s.InsertEvents(ctx, batch, BatchToken("events", batch)); err != nil {
			t.Fatal(err)
		}
	}
	if n := queryInt(t, s, "SELECT count() FROM "+s.q("delivery_events"), nil); n != 5000 {
		t.Fatalf("stored %d events, want 5000", n)
	}
	checks := []struct{ name, rollup, events string }{
		{"ip × provider × category × outcome",
			"SELECT bucket, sending_ip, pool, provider, category, outcome, sum(events) FROM " + s.q("rollup_ip_provider_5m") + " GROUP BY ALL ORDER BY ALL",
			"SELECT toStartOfFiveMinutes(event_time) AS bucket, sending_ip, pool, provider, category, outcome, count() FROM " + s.q("delivery_events") + " WHERE direction = 'outbound' GROUP BY ALL ORDER BY ALL"},
		{"customer × sender domain × category × outcome",
			"SELECT bucket, customer, sender_domain, category, outcome, sum(events), uniqMerge(recipients) FROM " + s.q("rollup_customer_1h") + " GROUP BY ALL ORDER BY ALL",
			"SELECT toStartOfHour(event_time) AS bucket, customer, sender_domain, category, outcome, count(), uniq(recipient) FROM " + s.q("delivery_events") + " WHERE direction = 'outbound' AND NOT notification GROUP BY ALL ORDER BY ALL"},
		{"provider × outcome",
			"SELECT bucket, provider, outcome, sum(events) FROM " + s.q("rollup_provider_5m") + " GROUP BY ALL ORDER BY ALL",
			"SELECT toStartOfFiveMinutes(event_time) AS bucket, provider, outcome, count() FROM " + s.q("delivery_events") + " WHERE direction = 'outbound' GROUP BY ALL ORDER BY ALL"},
		{"ip × blocklist × provider",
			"SELECT bucket, sending_ip, pool, blocklist, provider, sum(events) FROM " + s.q("rollup_ip_blocklist_5m") + " GROUP BY ALL ORDER BY ALL",
			"SELECT toStartOfFiveMinutes(event_time) AS bucket, sending_ip, pool, blocklist, provider, count() FROM " + s.q("delivery_events") + " ARRAY JOIN blocklist_providers AS blocklist WHERE direction = 'outbound' GROUP BY ALL ORDER BY ALL"},
	}
	for _, c := range checks {
		a, err := s.Query(ctx, c.rollup, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Query(ctx, c.events, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Rows) == 0 || fmt.Sprint(a.Rows) != fmt.Sprint(b.Rows) {
			t.Errorf("%s: rollup (%d rows) and events (%d rows) disagree", c.name, len(a.Rows), len(b.Rows))
		}
	}
}

// TestDuplicateBatches: a retried batch (same token) adds nothing to the table or to any
// rollup, and the watermarks say which offsets are stored.
func TestDuplicateBatches(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := context.Background()
	now := time.Now().UTC()
	batch := mixedRows(now, 600, 3)
	token := BatchToken("events", batch)
	counts := func() string {
		var out string
		for _, q := range []string{
			"SELECT count() FROM " + s.q("delivery_events"),
			"SELECT sum(events) FROM " + s.q("rollup_ip_provider_5m"),
			"SELECT sum(events) FROM " + s.q("rollup_customer_1h"),
			"SELECT sum(events) FROM " + s.q("rollup_provider_5m"),
			"SELECT sum(events) FROM " + s.q("rollup_ip_blocklist_5m"),
		} {
			out += fmt.Sprint(queryInt(t, s, q, nil), " ")
		}
		return out
	}
	if err := s.InsertEvents(ctx, batch, token); err != nil {
		t.Fatal(err)
	}
	first := counts()
	for i := 0; i < 3; i++ {
		if err := s.InsertEvents(ctx, batch, token); err != nil {
			t.Fatal(err)
		}
	}
	if got := counts(); got != first {
		t.Errorf("after retries: counts %s, want %s", got, first)
	}
	// Another batch (another token) is stored.
	more := mixedRows(now, 10, 4)
	for i := range more {
		more[i].Offset = 1000 + int64(i)
		more[i].Partition = 0
	}
	if err := s.InsertEvents(ctx, more, BatchToken("events", more)); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, s, "SELECT count() FROM "+s.q("delivery_events"), nil); n != 610 {
		t.Errorf("stored %d events, want 610", n)
	}
	// The same rows under another token are not deduplicated by the engine; the pipeline
	// drops them by watermark before they get here.
	wm, err := s.Watermarks(ctx, "mta-logs")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{0: 1009, 1: 598, 2: 599}
	if fmt.Sprint(wm) != fmt.Sprint(want) {
		t.Errorf("watermarks %v, want %v", wm, want)
	}
	// Unparsed records count for the watermark too.
	if err := s.InsertUnparsed(ctx, []Unparsed{{Source: "mta", Topic: "mta-logs", Partition: 1, Offset: 2000, Err: "unrecognized record", Raw: "garbage"}}, "u-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertUnparsed(ctx, []Unparsed{{Source: "mta", Topic: "mta-logs", Partition: 1, Offset: 2000, Err: "unrecognized record", Raw: "garbage"}}, "u-1"); err != nil {
		t.Fatal(err)
	}
	if wm, _ = s.Watermarks(ctx, "mta-logs"); wm[1] != 2000 {
		t.Errorf("watermark of partition 1 = %d, want 2000", wm[1])
	}
	if n := queryInt(t, s, "SELECT count() FROM "+s.q("unparsed_records"), nil); n != 1 {
		t.Errorf("unparsed_records has %d rows, want 1", n)
	}
	if wm, _ = s.Watermarks(ctx, "other-topic"); len(wm) != 0 {
		t.Errorf("watermarks of an unknown topic: %v", wm)
	}
}

// TestBatchToken: the same records give the same token; other records another one.
func TestBatchToken(t *testing.T) {
	now := time.Now()
	a := mixedRows(now, 50, 1)
	b := mixedRows(now, 50, 1)
	if BatchToken("e", a) != BatchToken("e", b) {
		t.Error("same records, different tokens")
	}
	if BatchToken("e", a) == BatchToken("e", a[:49]) || BatchToken("e", a) == BatchToken("u", a) {
		t.Error("different batches, same token")
	}
}
