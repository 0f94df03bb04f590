package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/bouncehouse/bouncehouse/classify"
	"github.com/bouncehouse/bouncehouse/ingest"
	"github.com/bouncehouse/bouncehouse/pipeline"
	"github.com/bouncehouse/bouncehouse/storage"
)

// runFile is the YAML configuration of run (see docs/configuration.md).
type runFile struct {
	Kafka         pipeline.Kafka       `yaml:"kafka"`
	BatchSize     int                  `yaml:"batch_size"`
	FlushInterval time.Duration        `yaml:"flush_interval"`
	StateInterval time.Duration        `yaml:"state_interval"`
	Store         storeFile            `yaml:"store"`
	Loki          lokiFile             `yaml:"loki"`
	Enrich        ingest.EnrichOptions `yaml:"enrich"`
	Listen        string               `yaml:"listen"`
}

type storeFile struct {
	Data             string `yaml:"data"`
	ClickHouse       string `yaml:"clickhouse"`
	Database         string `yaml:"database"`
	RetentionDays    int    `yaml:"retention_days"`
	RecipientPrivacy string `yaml:"recipient_privacy"`
}

type lokiFile struct {
	URL      string `yaml:"url"`
	TenantID string `yaml:"tenant_id"`
}

// defaultListen is where run serves /metrics, /healthz and /readyz.
const defaultListen = ":9108"

// loadRunConfig reads the configuration: built-in defaults, then the file, then the
// environment (BOUNCEHOUSE_*), then the flags, each overriding the one before.
func loadRunConfig(path string, flags *runFlags, cmd *cobra.Command) (runFile, error) {
	cfg := runFile{Listen: defaultListen, BatchSize: pipeline.DefaultBatchSize,
		FlushInterval: pipeline.DefaultFlushInterval, StateInterval: pipeline.DefaultStateInterval,
		Store: storeFile{Database: storage.DefaultDatabase, RetentionDays: storage.DefaultRetentionDays, RecipientPrivacy: "keep"}}
	cfg.Kafka.Group = pipeline.DefaultGroup
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	env := func(name string, set func(string) error) error {
		if v := os.Getenv(name); v != "" {
			if err := set(v); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	}
	str := func(dst *string) func(string) error { return func(v string) error { *dst = v; return nil } }
	errs := []error{
		env("BOUNCEHOUSE_KAFKA_BROKERS", func(v string) error { cfg.Kafka.Brokers = splitList(v); return nil }),
		env("BOUNCEHOUSE_KAFKA_GROUP", str(&cfg.Kafka.Group)),
		env("BOUNCEHOUSE_KAFKA_TOPICS", func(v string) error { return setTopics(&cfg.Kafka, splitList(v)) }),
		env("BOUNCEHOUSE_DATA", str(&cfg.Store.Data)),
		env("BOUNCEHOUSE_CLICKHOUSE_DSN", str(&cfg.Store.ClickHouse)),
		env("BOUNCEHOUSE_LOKI_URL", str(&cfg.Loki.URL)),
		env("BOUNCEHOUSE_LISTEN", str(&cfg.Listen)),
		env("BOUNCEHOUSE_BATCH_SIZE", func(v string) error { n, err := strconv.Atoi(v); cfg.BatchSize = n; return err }),
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, usageError{err}
	}
	f := cmd.Flags()
	if f.Changed("brokers") {
		cfg.Kafka.Brokers = splitList(flags.brokers)
	}
	if f.Changed("topic") {
		if err := setTopics(&cfg.Kafka, flags.topics); err != nil {
			return cfg, usageError{err}
		}
	}
	if f.Changed("group") {
		cfg.Kafka.Group = flags.group
	}
	if f.Changed("data") {
		cfg.Store.Data = flags.data
	}
	if f.Changed("clickhouse") {
		cfg.Store.ClickHouse = flags.dsn
	}
	if f.Changed("listen") {
		cfg.Listen = flags.listen
	}
	if f.Changed("loki-url") {
		cfg.Loki.URL = flags.loki
	}
	if f.Changed("batch-size") {
		cfg.BatchSize = flags.batchSize
	}
	if f.Changed("flush-interval") {
		cfg.FlushInterval = flags.flushInterval
	}
	return cfg, nil
}

// setTopics parses "name" or "name:kind" entries.
func setTopics(k *pipeline.Kafka, entries []string) error {
	k.Topics = k.Topics[:0]
	for _, e := range entries {
		name, kind, _ := strings.Cut(e, ":")
		kd, err := pipeline.ParseKind(kind)
		if err != nil {
			return fmt.Errorf("topic %s: %w", e, err)
		}
		k.Topics = append(k.Topics, pipeline.Topic{Name: name, Kind: kd})
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// storeConfig turns the store section into a storage configuration: data wins over a DSN.
func (f storeFile) storeConfig() (storage.Config, error) {
	return storeConfig(f.Data, f.ClickHouse, f.Database, f.RetentionDays, f.RecipientPrivacy)
}

type runFlags struct {
	config, brokers, group, data, dsn, listen, loki string
	topics                                          []string
	batchSize                                       int
	flushInterval                                   time.Duration
	migrate                                         bool
}

func newRunCommand(g *globalOptions) *cobra.Command {
	fl := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Consume Kafka topics into ClickHouse: the pipeline's main job",
		Long: `run joins a Kafka consumer group on the configured topics (MTA logs, bounce emails, ESP
events), parses, correlates, classifies and enriches every record, and stores batches in
ClickHouse exactly once, committing offsets only after a batch is stored. Several instances
in one group share the partitions. It serves Prometheus metrics on /metrics and health on
/healthz and /readyz, and stops cleanly on SIGTERM or SIGINT (batches stored, offsets
committed).

Configuration comes from --config (YAML), then BOUNCEHOUSE_* environment variables, then
flags; docs/configuration.md lists every setting. Secrets come from the environment or files.`,
		Example: `  bouncehouse run --config /etc/bouncehouse/bouncehouse.yaml
  bouncehouse run --brokers kafka:9092 --topic mta-logs:mta-logs --topic bounces:bounce-emails --clickhouse clickhouse://default@ch:9000/default`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadRunConfig(fl.config, fl, cmd)
			if err != nil {
				return err
			}
			c, err := loadClassifier(g)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runPipeline(ctx, cfg, c, fl.migrate, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.config, "config", "", "YAML configuration file")
	f.StringVar(&fl.brokers, "brokers", "", "Kafka brokers, comma-separated (default $BOUNCEHOUSE_KAFKA_BROKERS)")
	f.StringArrayVar(&fl.topics, "topic", nil, "topic to consume, name or name:kind (kind: auto, mta-logs, bounce-emails, esp-events); repeatable")
	f.StringVar(&fl.group, "group", pipeline.DefaultGroup, "Kafka consumer group")
	f.StringVar(&fl.data, "data", "", "data directory of the embedded ClickHouse engine (wins over --clickhouse)")
	f.StringVar(&fl.dsn, "clickhouse", "", "ClickHouse server DSN (default $BOUNCEHOUSE_CLICKHOUSE_DSN)")
	f.StringVar(&fl.listen, "listen", defaultListen, "address of /metrics, /healthz and /readyz")
	f.StringVar(&fl.loki, "loki-url", "", "Loki push URL for raw lines, e.g. http://loki:3100/loki/api/v1/push (default off)")
	f.IntVar(&fl.batchSize, "batch-size", pipeline.DefaultBatchSize, "events per ClickHouse insert")
	f.DurationVar(&fl.flushInterval, "flush-interval", pipeline.DefaultFlushInterval, "longest time an event waits in a batch")
	f.BoolVar(&fl.migrate, "migrate", false, "apply the schema migrations before consuming")
	return cmd
}

// runPipeline opens the store, serves metrics and health, and runs the pipeline until ctx
// ends. started, when not nil, is called once the HTTP listener is up.
func runPipeline(ctx context.Context, cfg runFile, clf *classify.Classifier, migrate bool, started func(*pipeline.Pipeline, net.Addr)) error {
	scfg, err := cfg.Store.storeConfig()
	if err != nil {
		return err
	}
	store, err := storage.Open(ctx, scfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if migrate {
		if _, err := store.Migrate(ctx); err != nil {
			return err
		}
	}
	metrics := pipeline.NewMetrics()
	var sink pipeline.LineSink
	if cfg.Loki.URL != "" {
		s, closeSink, err := newLokiSink(cfg.Loki, metrics)
		if err != nil {
			return err
		}
		defer closeSink()
		sink = s
	}
	p, err := pipeline.New(pipeline.Config{Kafka: cfg.Kafka, BatchSize: cfg.BatchSize, FlushInterval: cfg.FlushInterval,
		StateInterval: cfg.StateInterval, Ingest: ingest.Options{Enrich: cfg.Enrich}}, store, clf, metrics, sink)
	if err != nil {
		return usageError{err}
	}
	srv, addr, err := serveHTTP(cfg.Listen, p)
	if err != nil {
		return err
	}
	defer srv.Close()
	slog.Info("bouncehouse run", "brokers", strings.Join(cfg.Kafka.Brokers, ","), "group", cfg.Kafka.Group,
		"store", store.Engine(), "database", store.Database(), "http", addr.String())
	if started != nil {
		started(p, addr)
	}
	return p.Run(ctx)
}

// serveHTTP serves /metrics, /healthz (the process is alive) and /readyz (joined the
// group, and the store accepts inserts).
func serveHTTP(listen string, p *pipeline.Pipeline) (*http.Server, net.Addr, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(p.Metrics().Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := p.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("metrics server", "err", err)
		}
	}()
	return srv, ln.Addr(), nil
}
