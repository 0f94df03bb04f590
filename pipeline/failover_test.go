package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// syntheticPostfix returns n messages: per message a qmgr from= line and a delivery line,
// spread over hosts (Kafka keys), and the number of delivery events they hold.
func syntheticPostfix(n int) ([]Message, int) {
	var msgs []Message
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("mx%d", i%7)
		qid := fmt.Sprintf("%X", 0x10000000+i)
		at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format("Jan _2 15:04:05")
		msgs = append(msgs,
			Message{Key: []byte(host), Value: []byte(fmt.Sprintf("%s %s postfix/qmgr[10]: %s: from=<news@c%d.example>, size=100, nrcpt=1 (queue active)", at, host, qid, i%5))},
		)
		status := "status=sent (250 2.0.0 OK)"
		if i%4 == 0 {
			status = "status=bounced (host mx.r.example[192.0.2.9] said: 550 5.1.1 <u@r.example>: Recipient address rejected: User unknown (in reply to RCPT TO command))"
		}
		msgs = append(msgs, Message{Key: []byte(host), Value: []byte(fmt.Sprintf(
			"%s %s postfix/smtp[11]: %s: to=<u%d@r.example>, relay=mx.r.example[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, %s", at, host, qid, i, status))})
	}
	return msgs, n
}

func produce(t *testing.T, k Kafka, topic string, msgs []Message) {
	t.Helper()
	prod, err := NewProducer(k, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.Send(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

func startPipeline(t *testing.T, p *Pipeline) (context.CancelFunc, chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return cancel, done
}

func assertExactlyOnce(t *testing.T, s interface {
	Database() string
}, st func(string) int64, want int) {
	t.Helper()
	db := s.Database()
	if n := st("SELECT count() FROM " + db + ".delivery_events"); n != int64(want) {
		t.Errorf("stored %d events, want %d", n, want)
	}
	if n := st("SELECT count() FROM (SELECT kafka_partition, kafka_offset, record_index FROM " + db + ".delivery_events GROUP BY ALL HAVING count() > 1)"); n != 0 {
		t.Errorf("%d events stored more than once", n)
	}
	if n := st("SELECT sum(events) FROM " + db + ".rollup_provider_5m"); n != int64(want) {
		t.Errorf("rollup_provider_5m counts %d events, want %d", n, want)
	}
	if n := st("SELECT count() FROM " + db + ".delivery_events WHERE sender = ''"); n != 0 {
		t.Errorf("%d events lost their sender (correlation state not carried over)", n)
	}
}

// TestKilledConsumer runs two consumers in one group; one is killed right after storing a
// batch and before committing it, then restarted. Nothing is lost and nothing is stored
// twice, in the table and in the rollups, and correlation survives the takeover.
func TestKilledConsumer(t *testing.T) {
	s := openStore(t)
	b, err := StartEmbeddedBroker(map[string]int32{"logs": 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	msgs, want := syntheticPostfix(3000)
	k := Kafka{Brokers: b.Addrs(), Group: "g", Topics: []Topic{{Name: "logs", Kind: KindMTALogs}}}
	produce(t, k, "logs", msgs)
	st := func(q string) int64 { return count(t, s, q) }
	cfg := Config{Kafka: k, BatchSize: 200, FlushInterval: 100 * time.Millisecond, StateInterval: time.Hour}

	a, _ := New(cfg, s, classifier(t), nil, nil)
	cancelA, doneA := startPipeline(t, a)
	var stored atomic.Int32
	a.hooks.afterStore = func() {
		if stored.Add(1) == 4 {
			a.hooks.crash.Store(true)
			cancelA() // killed between the insert and the commit
		}
	}
	bp, _ := New(cfg, s, classifier(t), nil, nil)
	cancelB, doneB := startPipeline(t, bp)
	<-doneA
	if stored.Load() < 4 {
		t.Fatalf("consumer A stored only %d batches before it was killed", stored.Load())
	}
	// A comes back.
	a2, _ := New(cfg, s, classifier(t), nil, nil)
	cancelA2, doneA2 := startPipeline(t, a2)
	waitFor(t, 90*time.Second, "every event stored", func() bool {
		return st("SELECT count() FROM "+s.Database()+".delivery_events") >= int64(want)
	})
	time.Sleep(500 * time.Millisecond) // a duplicate, if any, would land now
	cancelB()
	cancelA2()
	for _, d := range []chan error{doneB, doneA2} {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	assertExactlyOnce(t, s, st, want)
	if n := bp.metrics.dropped.WithLabelValues("logs"); n == nil {
		t.Fatal("no dropped counter")
	}
}

// TestStoreOutage makes every insert fail for two seconds: the partitions stop reading
// (memory stays bounded by two batches and the reader's queue), then everything is stored once.
func TestStoreOutage(t *testing.T) {
	s := openStore(t)
	b, err := StartEmbeddedBroker(map[string]int32{"logs": 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	msgs, want := syntheticPostfix(2000)
	k := Kafka{Brokers: b.Addrs(), Group: "g", Topics: []Topic{{Name: "logs", Kind: KindMTALogs}}}
	produce(t, k, "logs", msgs)
	cfg := Config{Kafka: k, BatchSize: 100, FlushInterval: 100 * time.Millisecond}
	p, _ := New(cfg, s, classifier(t), nil, nil)
	outageEnd := time.Now().Add(2 * time.Second)
	var failures atomic.Int32
	p.hooks.storeFault = func() error {
		if time.Now().Before(outageEnd) {
			failures.Add(1)
			return errors.New("connection refused (simulated outage)")
		}
		return nil
	}
	cancel, done := startPipeline(t, p)
	time.Sleep(1500 * time.Millisecond)
	// During the outage each partition holds at most two batches of events (one being
	// stored, one cut and waiting): it stops reading.
	if err := p.Ready(); err == nil {
		t.Error("Ready() during the outage: want an error")
	}
	readDuring := testutilCounter(p.metrics.records.WithLabelValues("logs"))
	// Two batches per partition: BatchSize events, two records (qmgr and delivery line) each.
	if limit := float64(2 * 2 * (2*cfg.BatchSize + 2)); readDuring > limit {
		t.Errorf("read %v records while the store was down, want at most %v (two batches per partition)", readDuring, limit)
	}
	if readDuring >= float64(len(msgs)) {
		t.Errorf("read all %v records during the outage", readDuring)
	}
	st := func(q string) int64 { return count(t, s, q) }
	waitFor(t, 60*time.Second, "every event stored", func() bool {
		return st("SELECT count() FROM "+s.Database()+".delivery_events") >= int64(want)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if failures.Load() < 2 {
		t.Errorf("only %d failed attempts", failures.Load())
	}
	if err := p.Ready(); err != nil {
		t.Errorf("Ready() after recovery: %v", err)
	}
	assertExactlyOnce(t, s, st, want)
}
