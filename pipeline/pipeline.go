package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bouncehouse/bouncehouse/classify"
	"github.com/bouncehouse/bouncehouse/ingest"
	"github.com/bouncehouse/bouncehouse/storage"
)

// LineSink receives the raw lines of stored events (a Loki shipper); optional.
type LineSink interface {
	// Push hands over one raw line with its event's labels; it must not block for long.
	Push(l RawLine)
}

// RawLine is a raw input line and the labels of the event it produced.
type RawLine struct {
	Time                            time.Time
	Text                            string
	MTA, MTAHost, Outcome, Category string
}

// Pipeline consumes the configured topics into the store.
type Pipeline struct {
	cfg        Config
	store      *storage.Store
	classifier *classify.Classifier
	metrics    *Metrics
	sink       LineSink
	log        *slog.Logger

	ready    atomic.Bool // joined the group and assigned
	mu       sync.Mutex
	storeErr error // the last insert error, "" when the last insert succeeded

	hooks hooks // for tests: crash and failure injection
}

// hooks let tests crash a pipeline at chosen points and make the store fail.
type hooks struct {
	// crash makes workers stop without storing, saving or committing when their context
	// ends, like a killed process.
	crash atomic.Bool
	// afterStore runs after a batch is stored and before its state save and commit.
	afterStore func()
	// storeFault, when it returns an error, fails an insert attempt before it reaches the store.
	storeFault func() error
}

// New builds a pipeline over an open store. sink may be nil.
func New(cfg Config, store *storage.Store, c *classify.Classifier, m *Metrics, sink LineSink) (*Pipeline, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	if m == nil {
		m = NewMetrics()
	}
	for _, t := range cfg.Kafka.Topics {
		// Series that exist from the start, at zero: rate() and alerts see them.
		m.records.WithLabelValues(t.Name)
		m.parseErrors.WithLabelValues(t.Name)
		m.dropped.WithLabelValues(t.Name)
		m.commits.WithLabelValues(t.Name)
	}
	return &Pipeline{cfg: cfg, store: store, classifier: c, metrics: m, sink: sink, log: slog.Default()}, nil
}

// Ready reports whether the pipeline has joined its group and the store accepts inserts.
func (p *Pipeline) Ready() error {
	if !p.ready.Load() {
		return errors.New("not yet assigned partitions")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.storeErr != nil {
		return fmt.Errorf("store: %w", p.storeErr)
	}
	return nil
}

func (p *Pipeline) setStoreErr(err error) {
	p.mu.Lock()
	p.storeErr = err
	p.mu.Unlock()
}

// Run consumes until ctx is cancelled (SIGTERM): each partition's worker then stores its
// batch and commits before Run returns.
func (p *Pipeline) Run(ctx context.Context) error {
	d, err := p.cfg.Kafka.dialer()
	if err != nil {
		return err
	}
	topics := make([]string, len(p.cfg.Kafka.Topics))
	kinds := map[string]Kind{}
	for i, t := range p.cfg.Kafka.Topics {
		topics[i] = t.Name
		kinds[t.Name] = t.Kind
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: p.cfg.Kafka.Group, Brokers: p.cfg.Kafka.Brokers, Dialer: d, Topics: topics,
		StartOffset: kafka.FirstOffset, WatchPartitionChanges: true, Timeout: 10 * time.Second,
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second,
		JoinGroupBackoff: time.Second,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			p.log.Debug("kafka group", "msg", fmt.Sprintf(msg, args...))
		}),
	})
	if err != nil {
		return fmt.Errorf("join consumer group %s: %w", p.cfg.Kafka.Group, err)
	}
	defer group.Close()
	for {
		gen, err := group.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			p.log.Warn("consumer group: retrying", "group", p.cfg.Kafka.Group, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		n := 0
		for topic, parts := range gen.Assignments {
			for _, a := range parts {
				n++
				w := &worker{p: p, gen: gen, dialer: d, topic: topic, kind: kinds[topic], partition: a.ID, committed: a.Offset}
				gen.Start(w.run)
			}
		}
		p.metrics.partitions.Set(float64(n))
		p.ready.Store(true)
		p.log.Info("partitions assigned", "generation", gen.ID, "member", gen.MemberID, "partitions", n)
	}
}

// Metrics returns the pipeline's metrics.
func (p *Pipeline) Metrics() *Metrics { return p.metrics }

// newProcessor builds a partition's processor.
func (p *Pipeline) newProcessor() *ingest.Processor {
	return ingest.NewProcessor(p.classifier, p.cfg.Ingest)
}
