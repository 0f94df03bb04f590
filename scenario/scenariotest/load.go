// Package scenariotest stores a generated scenario straight into a store, parsed and
// classified as the pipeline would but without Kafka, for the tests of what reads the store
// (dashboards, alert rules, reports).
package scenariotest

import (
	"context"
	"fmt"
	"time"

	"github.com/bouncehouse/bouncehouse/classify"
	"github.com/bouncehouse/bouncehouse/ingest"
	"github.com/bouncehouse/bouncehouse/scenario"
	"github.com/bouncehouse/bouncehouse/storage"
)

// Topics the rows are stored under, as the demo names them.
const (
	LogTopic    = "mta-logs"
	BounceTopic = "bounce-emails"
)

// Rows parses every record of the scenario, in order, with the scenario's enrichment (log
// lines by the host of their Kafka key, bounce emails whole) and returns the rows the
// pipeline would store: one partition per topic, the record's index as its offset.
func Rows(s *scenario.Scenario) ([]storage.Row, error) {
	c, err := classify.Default()
	if err != nil {
		return nil, err
	}
	opts := ingest.Options{Enrich: s.EnrichOptions()}
	end := s.Truth.End
	opts.Frame.Now = func() time.Time { return end } // syslog dates carry no year
	p := ingest.NewProcessor(c, opts)
	var rows []storage.Row
	var evs []ingest.Event
	lineNo := map[string]int{}
	for i, r := range s.Records {
		topic := LogTopic
		switch r.Kind {
		case scenario.KindLog:
			lineNo[r.Key]++
			evs, err = p.HostLine(r.Key, string(r.Value), lineNo[r.Key], ingest.FormatAuto, evs[:0])
		case scenario.KindBounceEmail:
			topic = BounceTopic
			evs, err = p.Message(r.Value, evs[:0])
		default:
			err = fmt.Errorf("unknown kind %q", r.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("scenario record %d (%s): %w", i, r.Key, err)
		}
		for j := range evs {
			if evs[j].MTAHost == "" {
				evs[j].MTAHost = r.Key
			}
			rows = append(rows, storage.Row{Event: evs[j], Topic: topic, Offset: int64(i), RecordIndex: uint32(j)})
		}
	}
	for j, e := range p.Flush(nil) {
		rows = append(rows, storage.Row{Event: e, Topic: LogTopic, Offset: int64(len(s.Records)), RecordIndex: uint32(j)})
	}
	return rows, nil
}

// Load stores the scenario's rows in batches and returns how many it stored.
func Load(ctx context.Context, st *storage.Store, s *scenario.Scenario) (int, error) {
	rows, err := Rows(s)
	if err != nil {
		return 0, err
	}
	const batch = 50_000
	for lo := 0; lo < len(rows); lo += batch {
		b := rows[lo:min(lo+batch, len(rows))]
		if err := st.InsertEvents(ctx, b, storage.BatchToken("events", b)); err != nil {
			return lo, err
		}
	}
	return len(rows), nil
}

// Open opens the embedded store in dataDir, applies the schema to database and stores the
// scenarios of cfgs in it, for tests that read them. The caller closes the store.
func Open(ctx context.Context, dataDir, database string, cfgs ...scenario.Config) (*storage.Store, []*scenario.Scenario, error) {
	st, err := storage.Open(ctx, storage.Config{DataDir: dataDir, Database: database})
	if err != nil {
		return nil, nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	var scs []*scenario.Scenario
	for _, cfg := range cfgs {
		sc, err := scenario.Generate(cfg)
		if err == nil {
			var n int
			n, err = Load(ctx, st, sc)
			if err == nil && n != sc.Truth.ProducedEvents {
				err = fmt.Errorf("stored %d events, the scenario has %d", n, sc.Truth.ProducedEvents)
			}
		}
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		scs = append(scs, sc)
	}
	return st, scs, nil
}
