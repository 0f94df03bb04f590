package scenario

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Config sets the size and the window of a scenario. The zero value is a valid
// configuration: the defaults apply.
type Config struct {
	// Start is the beginning of the window. Zero means 2026-11-03 08:00 UTC. Log lines are
	// written in UTC, the zone ingest assumes for syslog timestamps.
	Start time.Time
	// Duration is the length of the window, in whole seconds: 2h when zero, at least 10
	// minutes. Every record falls inside [Start, Start+Duration].
	Duration time.Duration
	// Events is the approximate number of delivery events (one per recipient per attempt)
	// the records describe: 50,000 when zero, at least 200.
	Events int
	// Seed selects the random choices; the same Config gives the same scenario.
	Seed uint64
	// Quiet leaves the incidents out: no listing, no misconfigured customer, no throttling.
	// The traffic is otherwise the same: a quiet week to compare with.
	Quiet bool
}

// Defaults of Config.
const (
	DefaultDuration = 2 * time.Hour
	DefaultEvents   = 50_000
	minDuration     = 10 * time.Minute
	minEvents       = 200
	maxEvents       = 5_000_000
)

// DefaultStart is the start of the window when Config.Start is zero.
var DefaultStart = time.Date(2026, time.November, 3, 8, 0, 0, 0, time.UTC)

// Record kinds.
const (
	KindLog         = "mta-log"      // one MTA log line
	KindBounceEmail = "bounce-email" // one raw RFC 5322 bounce message
)

// Record is one input of the pipeline, as a producer would put it on Kafka.
type Record struct {
	// Kind is KindLog or KindBounceEmail.
	Kind string
	// Key is the host that wrote the record (the MTA host, or the inbound host that received
	// the bounce email): the Kafka key, so that one consumer sees all lines of a queue id.
	Key string
	// Value is one log line without its newline, or one raw RFC 5322 message.
	Value []byte
	// Time is when the record was written.
	Time time.Time
}

// Scenario is a generated traffic scenario: its records in time order and its ground truth.
type Scenario struct {
	Records []Record
	Truth   Truth
}

// Generate builds the scenario cfg describes.
func Generate(cfg Config) (*Scenario, error) {
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	if cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Events == 0 {
		cfg.Events = DefaultEvents
	}
	if cfg.Duration < minDuration {
		return nil, fmt.Errorf("scenario duration %s: want at least %s", cfg.Duration, minDuration)
	}
	if cfg.Events < minEvents || cfg.Events > maxEvents {
		return nil, fmt.Errorf("scenario events %d: want between %d and %d", cfg.Events, minEvents, maxEvents)
	}
	cfg.Start = cfg.Start.UTC().Truncate(time.Second)
	cfg.Duration = cfg.Duration.Truncate(time.Second)
	g := newGenerator(cfg)
	g.run()
	s := &Scenario{Records: g.sorted(), Truth: g.truth()}
	return s, nil
}

// sorted returns the records in time order; records of the same time keep the order they
// were written in.
func (g *generator) sorted() []Record {
	type key struct {
		t   int64
		seq int
	}
	keys := make([]key, len(g.records))
	for i := range g.records {
		keys[i] = key{g.records[i].Time.UnixNano(), g.records[i].seq}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]Record, len(keys))
	for i, k := range keys {
		out[i] = g.records[k.seq].Record
	}
	return out
}
