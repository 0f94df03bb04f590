package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/classify"
	"github.com/bouncehouse/bouncehouse/ingest"
	"github.com/bouncehouse/bouncehouse/storage"
	"github.com/bouncehouse/bouncehouse/storage/storagetest"
)

// dataDir is the embedded engine's data directory shared by the package's tests (one per
// process); tests use databases of their own.
var dataDir string

func TestMain(m *testing.M) { os.Exit(storagetest.Main(m, "pipeline", &dataDir)) }

var dbSeq atomic.Int32

func openStore(t *testing.T) *storage.Store {
	t.Helper()
	storagetest.RequireEngine(t)
	db := fmt.Sprintf("p%d_%s", dbSeq.Add(1), strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	s, err := storage.Open(context.Background(), storage.Config{DataDir: dataDir, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`", nil)
		s.Close()
	})
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// openStoreB opens a fresh database for one benchmark iteration.
func openStoreB(b *testing.B, i int) *storage.Store {
	b.Helper()
	storagetest.RequireEngine(b)
	db := fmt.Sprintf("bench%d_%d", dbSeq.Add(1), i)
	s, err := storage.Open(context.Background(), storage.Config{DataDir: dataDir, Database: db})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = s.Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`", nil)
		s.Close()
	})
	if _, err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s
}

func classifier(t testing.TB) *classify.Classifier {
	c, err := classify.Default()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fileMessages reads an ingest golden log as records keyed by the host of each line.
func fileMessages(t *testing.T, name string) ([]Message, int) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "ingest", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs []Message
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		host := "h"
		if fs := strings.Fields(line); len(fs) > 3 {
			host = fs[3]
		}
		msgs = append(msgs, Message{Key: []byte(host), Value: []byte(line)})
	}
	// What ingest makes of the same lines, one processor per host as the partitions will.
	procs := map[string]*ingest.Processor{}
	events := 0
	for _, m := range msgs {
		p := procs[string(m.Key)]
		if p == nil {
			p = ingest.NewProcessor(classifier(t), ingest.Options{})
			procs[string(m.Key)] = p
		}
		evs, _ := p.Line(string(m.Value), 1, ingest.FormatAuto, nil)
		events += len(evs)
	}
	return msgs, events
}

func count(t *testing.T, s *storage.Store, sql string) int64 {
	t.Helper()
	res, err := s.Query(context.Background(), sql, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch v := res.Rows[0][0].(type) {
	case uint64:
		return int64(v)
	case int64:
		return v
	}
	t.Fatalf("%s: %v", sql, res.Rows)
	return 0
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEndToEnd produces the Postfix golden log and an unparseable record into the embedded
// broker and runs the pipeline: every event is stored once, the poison record goes to
// unparsed_records, and offsets are committed.
func TestEndToEnd(t *testing.T) {
	s := openStore(t)
	b, err := StartEmbeddedBroker(map[string]int32{"mta-logs": 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	msgs, want := fileMessages(t, "postfix.log")
	msgs = append(msgs, Message{Key: []byte("mx-out1"), Value: []byte("\x00\x01 this is no log line of any MTA")})
	k := Kafka{Brokers: b.Addrs(), Group: "e2e", Topics: []Topic{{Name: "mta-logs", Kind: KindMTALogs}}}
	prod, err := NewProducer(k, "mta-logs")
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Send(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	prod.Close()

	p, err := New(Config{Kafka: k, BatchSize: 5, FlushInterval: 200 * time.Millisecond}, s, classifier(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, 60*time.Second, "all events stored", func() bool {
		return count(t, s, "SELECT count() FROM "+s.Database()+".delivery_events") >= int64(want) &&
			count(t, s, "SELECT count() FROM "+s.Database()+".unparsed_records") >= 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count() FROM "+s.Database()+".delivery_events"); n != int64(want) {
		t.Errorf("stored %d events, want %d", n, want)
	}
	if n := count(t, s, "SELECT count() FROM (SELECT kafka_partition, kafka_offset, record_index FROM "+s.Database()+".delivery_events GROUP BY ALL HAVING count() > 1)"); n != 0 {
		t.Errorf("%d duplicated events", n)
	}
	if n := count(t, s, "SELECT count() FROM "+s.Database()+".unparsed_records WHERE error != '' AND raw LIKE '%no log line%'"); n != 1 {
		t.Errorf("unparsed_records: %d poison rows, want 1", n)
	}
	if n := count(t, s, "SELECT count() FROM "+s.Database()+".delivery_events WHERE kafka_topic = 'mta-logs' AND customer != '' AND category != '' AND outcome != 'delivered'"); n == 0 {
		t.Error("no classified failures with a customer")
	}
}
