package storage

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkInsertEvents measures the sustained insert rate into the embedded engine through
// the writer, with every rollup attached, in batches like the pipeline's, and the bytes each
// stored event takes on disk after compression.
func BenchmarkInsertEvents(b *testing.B) {
	for _, bc := range []struct{ size, writers int }{{20_000, 1}, {100_000, 1}, {100_000, 2}} {
		b.Run(fmt.Sprintf("batch=%d/writers=%d", bc.size, bc.writers), func(b *testing.B) {
			s := openBenchStore(b)
			ctx := context.Background()
			now := time.Now().UTC()
			batches := make([][]Row, bc.writers)
			for w := range batches {
				batches[w] = mixedRows(now, bc.size, uint64(11+w))
				for j := range batches[w] {
					batches[w][j].Partition = int32(w)
				}
			}
			b.ResetTimer()
			start := time.Now()
			var n atomic.Int64
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, bc.writers)
			for w := 0; w < bc.writers; w++ {
				wg.Add(1)
				go func(batch []Row) {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						for j := range batch {
							batch[j].Offset = i*int64(bc.size) + int64(j)
						}
						if err := s.InsertEvents(ctx, batch, BatchToken("events", batch)); err != nil {
							errs <- err
							return
						}
						n.Add(int64(bc.size))
					}
				}(batches[w])
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "events/s")
			b.StopTimer()
			if err := s.Exec(ctx, "OPTIMIZE TABLE "+s.q("delivery_events")+" FINAL", nil); err != nil {
				b.Fatal(err)
			}
			res, err := s.Query(ctx, "SELECT sum(data_compressed_bytes) / sum(rows) FROM system.parts WHERE database = {db:String} AND table = 'delivery_events' AND active",
				Params{"db": s.Database()})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.Rows[0][0].(float64), "bytes/event")
		})
	}
}

func openBenchStore(b *testing.B) *Store {
	b.Helper()
	if _, err := EmbeddedLibrary(); err != nil {
		b.Skip("embedded engine not installed:", err)
	}
	cfg := Config{DataDir: dataDir, Database: fmt.Sprintf("bench%d", dbSeq.Add(1))}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = s.Exec(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(cfg.Database), nil)
		s.Close()
	})
	if _, err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s
}
