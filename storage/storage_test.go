package storage

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/ingest"
	"github.com/bouncehouse/bouncehouse/storage/storagetest"
)

// dataDir is the embedded engine's data directory shared by the package's tests: chDB allows
// one per process. Tests isolate themselves by database name.
var dataDir string

func TestMain(m *testing.M) { os.Exit(storagetest.Main(m, "storage", &dataDir)) }

var dbSeq atomic.Int32

// openTestStore opens the embedded store with a database of the test's own, migrated.
func openTestStore(t testing.TB, mod func(*Config)) *Store {
	t.Helper()
	storagetest.RequireEngine(t)
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	cfg := Config{DataDir: dataDir, Database: fmt.Sprintf("t%d_%s", dbSeq.Add(1), name)}
	if mod != nil {
		mod(&cfg)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Without SYNC: chDB's DROP ... SYNC never returns.
		_ = s.Exec(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(cfg.Database), nil)
		s.Close()
	})
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// ev is a compact way to write a test event.
type ev struct {
	at                                   time.Duration // before now
	ip, pool, provider, customer, domain string
	outcome                              ingest.Outcome
	category                             string
	lists                                []string
	response                             string
}

func (e ev) row(now time.Time, offset int64) Row {
	r := Row{Event: ingest.Event{
		EventTime: now.Add(-e.at), MTA: "postfix", MTAHost: "mx1", Direction: ingest.Outbound,
		Outcome: e.outcome, Sender: "news@" + e.domain, SenderDomain: e.domain, Customer: e.customer,
		Recipient: fmt.Sprintf("user%d@%s.example", offset, e.provider), RecipientDomain: e.provider + ".example",
		SendingIP: e.ip, Pool: e.pool, Provider: e.provider, Category: e.category, BlocklistProviders: e.lists,
		Response: e.response, QueueID: fmt.Sprintf("Q%06d", offset),
	}, Topic: "mta-logs", Partition: int32(offset % 3), Offset: offset}
	if e.outcome == ingest.Delivered {
		r.SMTPCode, r.Response = 250, "250 2.0.0 OK"
	} else if r.Response == "" {
		r.SMTPCode, r.Response = 550, "550 5.7.1 "+e.category
	}
	return r
}

func rows(now time.Time, start int64, evs ...ev) []Row {
	out := make([]Row, len(evs))
	for i, e := range evs {
		out[i] = e.row(now, start+int64(i))
	}
	return out
}

func repeat(n int, e ev) []ev {
	out := make([]ev, n)
	for i := range out {
		out[i] = e
		out[i].at = e.at + time.Duration(i)*time.Second
	}
	return out
}

func queryInt(t *testing.T, s *Store, sql string, params Params) int64 {
	t.Helper()
	res, err := s.Query(context.Background(), sql, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		t.Fatalf("%s: want one value, got %v", sql, res.Rows)
	}
	return asInt(res.Rows[0][0])
}

func (s *Store) q(name string) string { return s.layout().view(name) }

// TestMigrate applies the schema from empty, then again: the second run changes nothing.
func TestMigrate(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := context.Background()
	rep, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 0 || len(rep.Skipped) != 4 || len(rep.Changed) != 0 || len(rep.Replaced) != 0 || rep.Retention != "" {
		t.Errorf("second migrate: %+v", rep)
	}
	res, err := s.Query(ctx, "SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name", Params{"db": s.Database()})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res.Rows {
		names = append(names, asString(r[0]))
	}
	for _, want := range []string{"delivery_events", "unparsed_records", "ingest_offsets", "consumer_state",
		"rollup_ip_provider_5m", "rollup_ip_blocklist_5m", "rollup_customer_1h", "rollup_provider_5m",
		"categories", "blocklists", "blocked_ips", "blocked_ips_now", "misconfigured_customers",
		"misconfigured_customers_now", "schema_migrations"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("table or view %s missing; have %v", want, names)
		}
	}
	if n := queryInt(t, s, "SELECT count() FROM "+s.q("schema_migrations")+" FINAL", nil); n != 4 {
		t.Errorf("schema_migrations has %d rows, want 4", n)
	}
	// A migration of views whose text changed is re-run; one with tables is only reported.
	if err := s.Exec(ctx, "INSERT INTO "+s.q("schema_migrations")+" (version, name, checksum) VALUES (3, 'reference', 'old'), (4, 'views', 'old')", nil); err != nil {
		t.Fatal(err)
	}
	rep, err = s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Replaced, []string{"0004_views"}) || !slices.Equal(rep.Changed, []string{"0003_reference"}) {
		t.Errorf("migrate after edits: %+v", rep)
	}
	if rep, err = s.Migrate(ctx); err != nil || len(rep.Replaced)+len(rep.Changed) != 1 {
		t.Errorf("migrate once more: %+v, %v (only 0003 stays changed)", rep, err)
	}
	if n := queryInt(t, s, "SELECT count() FROM "+s.q("categories")+" FINAL WHERE remediation != ''", nil); n < 30 {
		t.Errorf("categories has %d rows with remediation", n)
	}
	if n := queryInt(t, s, "SELECT count() FROM "+s.q("blocklists")+" FINAL WHERE id = 'spamhaus_zen' AND delist_url != ''", nil); n != 1 {
		t.Errorf("blocklists lacks spamhaus_zen with a delisting page")
	}
}
