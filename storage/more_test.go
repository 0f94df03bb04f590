package storage

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/ingest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestRetention: rows older than the retention go; changing the retention applies to the
// existing tables.
func TestRetention(t *testing.T) {
	s := openTestStore(t, func(c *Config) { c.RetentionDays = 30 })
	ctx := context.Background()
	now := time.Now().UTC()
	insertAll(t, s, rows(now, 0,
		ev{at: 40 * 24 * time.Hour, ip: "203.0.113.1", provider: "gmail", customer: "acme", domain: "acme.example", outcome: ingest.Delivered},
		ev{at: 10 * 24 * time.Hour, ip: "203.0.113.1", provider: "gmail", customer: "acme", domain: "acme.example", outcome: ingest.Delivered},
		ev{at: time.Hour, ip: "203.0.113.1", provider: "gmail", customer: "acme", domain: "acme.example", outcome: ingest.Delivered},
	))
	optimize := func() {
		for _, tb := range []string{"delivery_events", "rollup_provider_5m"} {
			if err := s.Exec(ctx, "OPTIMIZE TABLE "+s.q(tb)+" FINAL", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	optimize()
	if n := queryInt(t, s, "SELECT count() FROM "+s.q("delivery_events"), nil); n != 2 {
		t.Errorf("30-day retention kept %d events, want 2", n)
	}
	if n := queryInt(t, s, "SELECT sum(events) FROM "+s.q("rollup_provider_5m"), nil); n != 2 {
		t.Errorf("30-day retention kept %d rolled-up events, want 2", n)
	}
	s.cfg.RetentionDays = 5
	rep, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Retention != "30 → 5 days" {
		t.Errorf("retention change reported as %q", rep.Retention)
	}
	optimize()
	if n := queryInt(t, s, "SELECT count() FROM "+s.q("delivery_events"), nil); n != 1 {
		t.Errorf("5-day retention kept %d events, want 1", n)
	}
	if rep, _ = s.Migrate(ctx); rep.Retention != "" {
		t.Errorf("unchanged retention reported as %q", rep.Retention)
	}
}

// TestQueryParams: parameters of every supported type reach the engine as values, never as
// SQL; bad names and types are refused.
func TestQueryParams(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := context.Background()
	at := time.Date(2026, 11, 16, 9, 30, 0, 123e6, time.UTC)
	res, err := s.Query(ctx, "SELECT {s:String} AS s, {i:Int64} AS i, {u:UInt32} AS u, {f:Float64} AS f, {b:Bool} AS b, "+
		"{t:DateTime64(3, 'UTC')} AS t, {l:Array(String)} AS l",
		Params{"s": "x'); DROP DATABASE " + s.Database() + "; --\\", "i": -42, "u": uint32(7), "f": 0.25, "b": true, "t": at,
			"l": []string{"spamhaus_zen", "it's"}})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Rows[0]
	if r[0] != "x'); DROP DATABASE "+s.Database()+"; --\\" || r[1] != int64(-42) || r[2] != uint64(7) || r[3] != 0.25 || r[4] != true {
		t.Errorf("scalars: %#v", r)
	}
	if !r[5].(time.Time).Equal(at) {
		t.Errorf("time %v, want %v", r[5], at)
	}
	if l := r[6].([]any); len(l) != 2 || l[1] != "it's" {
		t.Errorf("array %#v", r[6])
	}
	if res.Columns[5].Type != "DateTime64(3, 'UTC')" {
		t.Errorf("column type %q", res.Columns[5].Type)
	}
	if n := queryInt(t, s, "SELECT count() FROM system.databases WHERE name = {db:String}", Params{"db": s.Database()}); n != 1 {
		t.Error("the database is gone")
	}
	if _, err := s.Query(ctx, "SELECT 1", Params{"bad name": 1}); err == nil {
		t.Error("a parameter name with a space was accepted")
	}
	if _, err := s.Query(ctx, "SELECT {x:String}", Params{"x": struct{}{}}); err == nil {
		t.Error("a struct parameter was accepted")
	}
	if _, err := s.Query(ctx, "SELEC 1", nil); err == nil || !strings.Contains(err.Error(), "SYNTAX_ERROR") {
		t.Errorf("a syntax error: %v", err)
	}
	// Maps, tuples, NULL and 64-bit integers come back as Go values.
	res, err = s.Query(ctx, "SELECT map('a', 1, 'b', 2) AS m, tuple(1, 'x') AS tp, NULL AS n, toUInt64(18446744073709551615) AS big, toDate('2026-11-16') AS d", nil)
	if err != nil {
		t.Fatal(err)
	}
	r = res.Rows[0]
	if m := r[0].(map[string]any); m["b"] != uint64(2) {
		t.Errorf("map %#v", r[0])
	}
	if tp := r[1].([]any); tp[1] != "x" || r[2] != nil || r[3] != uint64(18446744073709551615) {
		t.Errorf("tuple/null/uint64: %#v", r)
	}
	if d := r[4].(time.Time); d.Format("2006-01-02") != "2026-11-16" {
		t.Errorf("date %v", d)
	}
}

// TestConsumerState saves and loads a partition's correlation state; the latest wins.
func TestConsumerState(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := context.Background()
	if _, _, err := s.LoadState(ctx, "mta-logs", 0); !errors.Is(err, ErrNoState) {
		t.Fatalf("no state yet: %v", err)
	}
	blob := []byte{0, 1, 2, 0xff, '\'', '\\', 'x'}
	if err := s.SaveState(ctx, "mta-logs", 0, 100, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveState(ctx, "mta-logs", 0, 250, blob); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveState(ctx, "mta-logs", 1, 7, []byte("other partition")); err != nil {
		t.Fatal(err)
	}
	// A state of megabytes (a busy partition's correlation state) is stored too.
	big := make([]byte, 5<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := s.SaveState(ctx, "mta-logs", 2, 9, big); err != nil {
		t.Fatal(err)
	}
	if off, got, err := s.LoadState(ctx, "mta-logs", 2); err != nil || off != 9 || string(got) != string(big) {
		t.Errorf("big state: offset %d, %d bytes, %v", off, len(got), err)
	}
	off, got, err := s.LoadState(ctx, "mta-logs", 0)
	if err != nil || off != 250 || string(got) != string(blob) {
		t.Errorf("LoadState = %d %q %v, want 250 %q", off, got, err, blob)
	}
}

// TestRecipientPrivacy: hash keeps addresses countable but unreadable; domain_only drops
// them; the domain stays.
func TestRecipientPrivacy(t *testing.T) {
	now := time.Now().UTC()
	for _, mode := range []Privacy{PrivacyKeep, PrivacyHash, PrivacyDomainOnly} {
		t.Run(string(mode), func(t *testing.T) {
			s := openTestStore(t, func(c *Config) { c.Privacy, c.HashSalt = mode, "pepper" })
			rs := rows(now, 0, ev{ip: "203.0.113.1", provider: "gmail", customer: "acme", domain: "acme.example", outcome: ingest.Bounced, category: "user_unknown"})
			rs[0].Recipient = "Ann.Lee@gmail.example"
			insertAll(t, s, rs)
			res, err := s.Query(context.Background(), "SELECT recipient, recipient_domain FROM "+s.q("delivery_events"), nil)
			if err != nil {
				t.Fatal(err)
			}
			rcpt, dom := asString(res.Rows[0][0]), asString(res.Rows[0][1])
			switch mode {
			case PrivacyKeep:
				if rcpt != "Ann.Lee@gmail.example" {
					t.Errorf("keep: %q", rcpt)
				}
			case PrivacyHash:
				if !strings.HasPrefix(rcpt, "sha256:") || strings.Contains(rcpt, "Ann") || rcpt != s.priv.recipient("ann.lee@gmail.example") {
					t.Errorf("hash: %q", rcpt)
				}
			case PrivacyDomainOnly:
				if rcpt != "" {
					t.Errorf("domain_only: %q", rcpt)
				}
			}
			if dom != "gmail.example" {
				t.Errorf("recipient_domain %q", dom)
			}
		})
	}
	if _, err := ParsePrivacy("scramble"); err == nil {
		t.Error("an unknown privacy setting was accepted")
	}
}

// TestEventRoundTrip stores an event with every column filled, awkward strings included,
// and reads it back.
func TestEventRoundTrip(t *testing.T) {
	s := openTestStore(t, nil)
	at := time.Now().UTC().Truncate(time.Millisecond)
	r := Row{Event: ingest.Event{EventTime: at, Line: 12, MTA: "exim", MTAHost: "mx2", MTAInstance: "exim", QueueID: "1tQy2K-000Abc-3F",
		MessageID: "order-1@shop.example", Direction: ingest.Outbound, Outcome: ingest.Deferred, Sender: "orders@shop.example",
		SenderDomain: "shop.example", Customer: "shop", Recipient: "a@b.example", RecipientDomain: "b.example", SendingIP: "192.0.2.1",
		Pool: "p1", RemoteHost: "mx.b.example", RemoteIP: "192.0.2.9", SMTPCode: 451, EnhancedStatus: "4.7.1", SMTPPhase: "rcpt",
		Response: "451 \"quoted\" \\ back\tslash\nnew line \x01 ünï 日本 \xff", Category: "greylisted", BounceClass: "soft",
		ActionParty: "transient", Provider: "gmx", ProviderCode: "X1", BlocklistProviders: []string{"spamhaus_zen", "barracuda"},
		ListedIP: "192.0.2.1", ThrottleScope: "ip", Rule: "en.greylisted", Notification: true, JobID: "job-7", VendorClass: "20"},
		Topic: "t", Partition: 2, Offset: 99, RecordIndex: 3}
	insertAll(t, s, []Row{r})
	res, err := s.Query(context.Background(), "SELECT "+strings.Join(eventColumns, ", ")+" FROM "+s.q("delivery_events"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Maps()[0]
	want := map[string]any{"event_time": at, "queue_id": r.QueueID, "outcome": "deferred", "smtp_code": uint64(451),
		"response": "451 \"quoted\" \\ back\tslash\nnew line \x01 ünï 日本 \ufffd", "notification": true, "source_line": uint64(12),
		"kafka_partition": int64(2), "kafka_offset": int64(0), "record_index": uint64(3), "vendor_class": "20", "job_id": "job-7"}
	for k, v := range want {
		if g := got[k]; g != v && !(k == "event_time" && g.(time.Time).Equal(at)) {
			t.Errorf("%s = %#v, want %#v", k, g, v)
		}
	}
	if l := got["blocklist_providers"].([]any); len(l) != 2 || l[1] != "barracuda" {
		t.Errorf("blocklist_providers %#v", got["blocklist_providers"])
	}
}

// TestClusterSchema renders the ReplicatedMergeTree + Distributed variant (no cluster runs
// here) and checks it against a golden file and its own consistency.
func TestClusterSchema(t *testing.T) {
	l := layout{DB: "bouncehouse", Cluster: "mail", RetentionDays: 180}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, m := range ms {
		st, err := l.statements(m)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, st...)
	}
	text := strings.Join(all, ";\n\n") + ";\n"
	for _, st := range all {
		if !strings.Contains(st, "ON CLUSTER `mail`") {
			t.Errorf("statement without ON CLUSTER: %.80s", st)
		}
		if strings.Contains(st, "ENGINE = MergeTree") || strings.Contains(st, "ENGINE = AggregatingMergeTree") {
			t.Errorf("non-replicated engine: %.80s", st)
		}
	}
	for _, tb := range []string{"delivery_events", "unparsed_records", "rollup_ip_provider_5m", "rollup_customer_1h", "rollup_provider_5m", "rollup_ip_blocklist_5m", "ingest_offsets", "consumer_state"} {
		if !strings.Contains(text, "`bouncehouse`.`"+tb+"` ON CLUSTER `mail` AS `bouncehouse`.`"+tb+"_local` ENGINE = Distributed(`mail`, `bouncehouse`, `"+tb+"_local`") {
			t.Errorf("no Distributed table over %s_local", tb)
		}
	}
	if !strings.Contains(text, "FROM `bouncehouse`.`delivery_events_local`") {
		t.Error("materialized views must read the local table")
	}
	golden := filepath.Join("testdata", "cluster-schema.sql")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./storage -run ClusterSchema -update writes it)", err)
	}
	if text != string(want) {
		t.Errorf("cluster schema differs from %s (go test ./storage -run ClusterSchema -update rewrites it)", golden)
	}
}
