package storage_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/scenario"
	"github.com/bouncehouse/bouncehouse/scenario/scenariotest"
	"github.com/bouncehouse/bouncehouse/storage"
)

// BenchmarkInsertScenario stores the demo's own traffic: a generated scenario (customers,
// pools, providers, a Spamhaus listing, a broken SPF record, TSS04 deferrals, bounce emails)
// parsed and classified as the pipeline does, inserted through the writer in batches of
// 100,000 with every rollup attached. The scenario holds 400,000 events in ten minutes, so
// a batch covers two and a half minutes of traffic; after the last event the scenario starts
// over ten minutes later, so that the store sees time go on as it does in production.
func BenchmarkInsertScenario(b *testing.B) {
	const window = 10 * time.Minute
	sc, err := scenario.Generate(scenario.Config{Events: 400_000, Duration: window, Seed: 7})
	if err != nil {
		b.Fatal(err)
	}
	rows, err := scenariotest.Rows(sc)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ size, writers int }{{100_000, 1}, {100_000, 2}, {300_000, 2}} {
		size, writers := bc.size, bc.writers
		b.Run(fmt.Sprintf("batch=%d/writers=%d", size, writers), func(b *testing.B) {
			storage.InsertBench(b, writers, size, func(i int64, w int, batch []storage.Row) {
				for j := range batch {
					k := int(i)*size + j
					batch[j] = rows[k%len(rows)]
					batch[j].EventTime = batch[j].EventTime.Add(time.Duration(k/len(rows)) * window)
				}
			})
		})
	}
}
