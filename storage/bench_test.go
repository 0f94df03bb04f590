package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/classify"
	"github.com/bouncehouse/bouncehouse/ingest"
	"github.com/bouncehouse/bouncehouse/storage/storagetest"
)

// BenchmarkInsertEvents measures the sustained insert rate into the embedded engine through
// the writer, with every rollup attached, in batches like the pipeline's: one writer, and two
// (the second encodes its batch while the engine stores the first). Each batch continues in
// time where the last one stopped, as a partition's log does; "scattered" batches hold
// events from anywhere in six hours instead, the worst case for the rollups.
func BenchmarkInsertEvents(b *testing.B) {
	for _, bc := range []struct {
		size, writers int
		scattered     bool
	}{{20_000, 1, false}, {100_000, 1, false}, {100_000, 2, false}, {100_000, 2, true}} {
		name := fmt.Sprintf("batch=%d/writers=%d", bc.size, bc.writers)
		if bc.scattered {
			name += "/scattered"
		}
		b.Run(name, func(b *testing.B) {
			base := make([][]Row, bc.writers)
			for w := range base {
				base[w] = realisticRows(bc.size, uint64(11+w), bc.scattered)
			}
			span := time.Duration(bc.size) * time.Second / trafficRate
			insertBench(b, bc.writers, bc.size, func(i int64, w int, batch []Row) {
				copy(batch, base[w])
				for j := range batch {
					batch[j].EventTime = batch[j].EventTime.Add(time.Duration(i) * span)
				}
			})
		})
	}
}

// insertBench runs b.N batches of size rows through Store.InsertEvents from the given number
// of concurrent writers, and reports events/s and the process's CPU time per event (Go and
// engine, background merges included). fill writes batch i of writer w; the offsets are set
// after it, unique per writer's partition.
func insertBench(b *testing.B, writers, size int, fill func(i int64, w int, batch []Row)) {
	s := openTestStore(b, nil)
	ctx := context.Background()
	b.ResetTimer()
	start, cpu0 := time.Now(), storagetest.CPUTime()
	var n, next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			batch := make([]Row, size)
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				fill(i, w, batch)
				for j := range batch {
					batch[j].Topic, batch[j].Partition, batch[j].Offset = "mta-logs", int32(w), i*int64(size)+int64(j)
				}
				if err := s.InsertEvents(ctx, batch, BatchToken("events", batch)); err != nil {
					errs <- err
					return
				}
				n.Add(int64(size))
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64((storagetest.CPUTime()-cpu0).Microseconds())/float64(n.Load()), "cpu-µs/event")
}

// realisticRows are events as a large sender's logs give them: unique recipients, queue and
// message ids, 70% deliveries with Gmail-like "250 2.0.0 OK <id> - gsmtp" answers, and
// failures whose responses are the rule files' examples (real receiver wordings, 19
// languages) with their categories.
// trafficRate is the rate of the traffic realisticRows describes: 5,000 events/s, so a
// batch of 100,000 covers 20 seconds.
const trafficRate = 5_000

func realisticRows(n int, seed uint64, scattered bool) []Row {
	c, err := classify.Default()
	if err != nil {
		panic(err) // test setup
	}
	type sample struct{ text, category string }
	var failures []sample
	for _, r := range c.Rules() {
		for _, ex := range r.Examples {
			failures = append(failures, sample{ex, string(r.Category)})
		}
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	providers := []string{"gmail", "microsoft", "yahoo", "gmx", "orange", "mailru", "icloud", "comcast", "", ""}
	now := time.Now().UTC()
	hex := func(k int) string {
		const digits = "0123456789ABCDEF"
		b := make([]byte, k)
		for i := range b {
			b[i] = digits[rng.IntN(16)]
		}
		return string(b)
	}
	out := make([]Row, n)
	for i := range out {
		cust := fmt.Sprintf("customer%02d", rng.IntN(40))
		prov := providers[rng.IntN(len(providers))]
		rcptDomain := prov + ".example"
		if prov == "" {
			rcptDomain = fmt.Sprintf("corp%03d.example", rng.IntN(500))
		}
		// In time order, as a partition's log gives them, at trafficRate. Scattered:
		// anywhere in the last six hours.
		at := now.Add(time.Duration(i-n)*time.Second/trafficRate + time.Duration(rng.IntN(1000))*time.Microsecond)
		if scattered {
			at = now.Add(-time.Duration(rng.IntN(6*3600*1000)) * time.Millisecond)
		}
		ip := 10 + rng.IntN(40)
		e := ingest.Event{
			EventTime: at, MTA: "postfix",
			MTAHost: fmt.Sprintf("mx-out%d", rng.IntN(8)), MTAInstance: "postfix", QueueID: hex(10 + rng.IntN(4)),
			MessageID: fmt.Sprintf("%d.%s@mail.%s.example", now.Unix()-int64(rng.IntN(86400)), hex(12), cust),
			Direction: ingest.Outbound, Sender: "news@" + cust + ".example", SenderDomain: cust + ".example", Customer: cust,
			Recipient:       fmt.Sprintf("%s.%d@%s", []string{"ann", "ben", "cleo", "dora", "erik", "fay"}[rng.IntN(6)], rng.IntN(1_000_000), rcptDomain),
			RecipientDomain: rcptDomain, SendingIP: fmt.Sprintf("203.0.113.%d", ip), Pool: fmt.Sprintf("pool-%d", ip%4),
			RemoteHost: "mx." + rcptDomain, RemoteIP: fmt.Sprintf("198.51.100.%d", rng.IntN(250)), Provider: prov,
		}
		if rng.IntN(10) < 7 {
			e.Outcome, e.SMTPCode, e.EnhancedStatus = ingest.Delivered, 250, "2.0.0"
			e.Response = fmt.Sprintf("250 2.0.0 OK  %d %s.%d - gsmtp", now.Unix(), strings.ToLower(hex(8)), rng.IntN(1000))
		} else {
			f := failures[rng.IntN(len(failures))]
			res := c.Classify(classify.Input{Text: f.text})
			e.Outcome, e.Response, e.Category = ingest.Bounced, res.Response, string(res.Category)
			if rng.IntN(3) == 0 {
				e.Outcome = ingest.Deferred
			}
			e.SMTPCode, e.EnhancedStatus, e.BounceClass, e.ActionParty = res.SMTPCode, res.EnhancedStatus, string(res.BounceClass), string(res.ActionParty)
			e.ProviderCode, e.BlocklistProviders, e.ListedIP, e.Rule = res.ProviderCode, res.BlocklistProviders, res.ListedIP, res.Rule
		}
		out[i] = Row{Event: e, Topic: "mta-logs", Partition: int32(rng.IntN(12)), Offset: int64(i), RecordIndex: 0}
	}
	return out
}

// BenchmarkStoredBytes inserts distinct realistic events and reports what one takes on disk
// after compression (all columns of delivery_events, merged into final parts).
func BenchmarkStoredBytes(b *testing.B) {
	s := openTestStore(b, nil)
	ctx := context.Background()
	const n = 200_000
	rows := realisticRows(n, 21, false)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i > 0 {
			continue // one load is the measurement; repeats would be deduplicated
		}
		for j := 0; j < n; j += 50_000 {
			if err := s.InsertEvents(ctx, rows[j:j+50_000], BatchToken("events", rows[j:j+50_000])); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if err := s.Exec(ctx, "OPTIMIZE TABLE "+s.q("delivery_events")+" FINAL", nil); err != nil {
		b.Fatal(err)
	}
	res, err := s.Query(ctx, "SELECT sum(data_compressed_bytes), sum(data_uncompressed_bytes), sum(rows) FROM system.parts WHERE database = {db:String} AND table = 'delivery_events' AND active",
		Params{"db": s.Database()})
	if err != nil {
		b.Fatal(err)
	}
	comp, raw, stored := asInt(res.Rows[0][0]), asInt(res.Rows[0][1]), asInt(res.Rows[0][2])
	if stored != n {
		b.Fatalf("stored %d rows, want %d", stored, n)
	}
	b.ReportMetric(float64(comp)/float64(stored), "bytes/event")
	b.ReportMetric(float64(raw)/float64(comp), "compression-ratio")
}
