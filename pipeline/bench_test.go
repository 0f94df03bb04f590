package pipeline

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/ingest"
	"github.com/bouncehouse/bouncehouse/scenario"
	"github.com/bouncehouse/bouncehouse/storage/storagetest"
)

// BenchmarkEndToEnd measures the pipeline from the embedded broker to the embedded engine:
// a generated scenario (BENCH_EVENTS events, default 200,000) is produced first, then the
// clock runs from the pipeline's start until every event is stored.
func BenchmarkEndToEnd(b *testing.B) {
	events := 200_000
	if v := getenvInt("BENCH_EVENTS"); v > 0 {
		events = v
	}
	sc, err := scenario.Generate(scenario.Config{Start: time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second), Events: events, Seed: 3})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		s := openStoreB(b, i)
		br, err := StartEmbeddedBroker(map[string]int32{"logs": 4, "bounces": 1})
		if err != nil {
			b.Fatal(err)
		}
		k := Kafka{Brokers: br.Addrs(), Group: "bench", Topics: []Topic{{Name: "logs", Kind: KindMTALogs}, {Name: "bounces", Kind: KindBounceEmails}}}
		logs, _ := NewProducer(k, "logs")
		bounces, _ := NewProducer(k, "bounces")
		var batch []Message
		for _, r := range sc.Records {
			if r.Kind == scenario.KindBounceEmail {
				if err := bounces.Send(context.Background(), Message{Key: []byte(r.Key), Value: r.Value}); err != nil {
					b.Fatal(err)
				}
				continue
			}
			batch = append(batch, Message{Key: []byte(r.Key), Value: r.Value})
			if len(batch) == 5000 {
				if err := logs.Send(context.Background(), batch...); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if err := logs.Send(context.Background(), batch...); err != nil {
			b.Fatal(err)
		}
		logs.Close()
		bounces.Close()
		b.StartTimer()
		if path := getenv("BENCH_CPUPROFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				b.Fatal(err)
			}
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
		start, cpu0 := time.Now(), storagetest.CPUTime()
		p, err := New(Config{Kafka: k, BatchSize: 50_000, FlushInterval: benchFlush(),
			Ingest: ingest.Options{Enrich: sc.EnrichOptions()}}, s, classifier(b), nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		for {
			res, err := s.Query(context.Background(), "SELECT count() FROM "+s.Database()+".delivery_events", nil)
			if err != nil {
				b.Fatal(err)
			}
			if res.Rows[0][0].(uint64) >= uint64(sc.Truth.ProducedEvents) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		elapsed, cpu := time.Since(start), storagetest.CPUTime()-cpu0
		b.StopTimer()
		cancel()
		<-done
		br.Close()
		b.ReportMetric(float64(sc.Truth.ProducedEvents)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(len(sc.Records))/elapsed.Seconds(), "records/s")
		b.ReportMetric(float64(cpu.Microseconds())/float64(sc.Truth.ProducedEvents), "cpu-µs/event")
	}
}

func getenvInt(name string) int {
	var n int
	fmt.Sscan(getenv(name), &n)
	return n
}

// benchFlush is the flush interval of the end-to-end benchmark: BENCH_FLUSH (a duration),
// 500ms by default.
func benchFlush() time.Duration {
	if d, err := time.ParseDuration(getenv("BENCH_FLUSH")); err == nil && d > 0 {
		return d
	}
	return 500 * time.Millisecond
}
