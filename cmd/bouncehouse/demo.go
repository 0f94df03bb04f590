package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bouncehouse/bouncehouse/classify"
	"github.com/bouncehouse/bouncehouse/ingest"
	"github.com/bouncehouse/bouncehouse/pipeline"
	"github.com/bouncehouse/bouncehouse/scenario"
	"github.com/bouncehouse/bouncehouse/storage"
)

// Demo topics on the embedded broker.
const (
	demoLogTopic    = "mta-logs"
	demoBounceTopic = "bounces"
)

type demoOptions struct {
	events  int
	seed    uint64
	dataDir string
	asJSON  bool
	serve   bool
	listen  string
	timeout time.Duration
}

func newDemoCommand(g *globalOptions) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on a generated scenario with the embedded Kafka and ClickHouse",
		Long: `demo starts an embedded Kafka broker and the embedded ClickHouse engine, generates a
realistic two-hour scenario ending now (customers, pools and IPs sending to Gmail, Microsoft,
Yahoo and others; an IP listed on Spamhaus and delisted, IPs still listed, a customer with a
broken SPF record, a relay-denied customer, a forwarding loop, Yahoo TSS04 deferrals, answers
in several languages), produces it into Kafka and runs the real pipeline until every record
is stored. Then it prints the NOC view: blocked IPs with their lists and providers,
misconfigured customers with the issue and the fix, the top failure categories, and the
throughput.

The data stays in --data (database bouncehouse, replaced at every demo), so "bouncehouse
query --data DIR" can look further. --json prints the same as one JSON object with the
produced and stored event counts and the scenario's ground truth. --serve keeps the pipeline
and /metrics running until interrupted.`,
		Example: `  bouncehouse demo
  bouncehouse demo --events 200000 --json | jq .stored_events
  bouncehouse demo --serve --listen :9108`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.events < 200 {
				return usagef("--events %d: at least 200", o.events)
			}
			c, err := loadClassifier(g)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, o, c, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.events, "events", 50_000, "delivery events the scenario describes")
	f.Uint64Var(&o.seed, "seed", 7, "scenario seed: the same seed gives the same scenario")
	f.StringVar(&o.dataDir, "data", defaultDataDir, "data directory of the embedded ClickHouse engine")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object instead of the text view")
	f.BoolVar(&o.serve, "serve", false, "keep the pipeline and /metrics running until interrupted")
	f.StringVar(&o.listen, "listen", "127.0.0.1:9108", "address of /metrics, /healthz and /readyz")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up if the pipeline has not stored everything by then")
	return cmd
}

// demoReport is what demo prints (as text, or as JSON with --json).
type demoReport struct {
	ProducedEvents   int              `json:"produced_events"`
	StoredEvents     int64            `json:"stored_events"`
	Records          int              `json:"records"`
	Seconds          float64          `json:"seconds"`
	EventsPerSecond  float64          `json:"events_per_second"`
	AsOf             time.Time        `json:"as_of"`
	BlockedIPs       []map[string]any `json:"blocked_ips"`
	Misconfigured    []map[string]any `json:"misconfigured_customers"`
	TopCategories    []map[string]any `json:"top_categories"`
	UnparsedRecords  int64            `json:"unparsed_records"`
	GroundTruth      scenario.Truth   `json:"ground_truth"`
	DataDir          string           `json:"data_dir"`
	MetricsAddr      string           `json:"metrics_addr,omitempty"`
	unclassifiedRows int64
}

func runDemo(ctx context.Context, o *demoOptions, c *classify.Classifier, out, errOut io.Writer) error {
	progress := func(format string, args ...any) {
		if !o.asJSON {
			fmt.Fprintf(errOut, "demo: "+format+"\n", args...)
		}
	}
	store, err := storage.Open(ctx, storage.Config{DataDir: o.dataDir})
	if err != nil {
		return err
	}
	defer store.Close()
	// The demo owns its database: the embedded broker's offsets start at zero each time, so
	// the stored watermarks of a previous demo must go.
	if err := store.Exec(ctx, "DROP DATABASE IF EXISTS bouncehouse", nil); err != nil {
		return err
	}
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	progress("embedded ClickHouse ready in %s", o.dataDir)

	broker, err := pipeline.StartEmbeddedBroker(map[string]int32{demoLogTopic: 4, demoBounceTopic: 1})
	if err != nil {
		return err
	}
	defer broker.Close()
	progress("embedded Kafka broker on %s", strings.Join(broker.Addrs(), ","))

	end := time.Now().UTC().Truncate(time.Second)
	sc, err := scenario.Generate(scenario.Config{Start: end.Add(-scenario.DefaultDuration), Events: o.events, Seed: o.seed})
	if err != nil {
		return err
	}
	k := pipeline.Kafka{Brokers: broker.Addrs(), Group: "bouncehouse-demo",
		Topics: []pipeline.Topic{{Name: demoLogTopic, Kind: pipeline.KindMTALogs}, {Name: demoBounceTopic, Kind: pipeline.KindBounceEmails}}}
	if err := produceScenario(ctx, k, sc); err != nil {
		return err
	}
	progress("scenario: %d records (%d log lines, %d bounce emails) describing %d events, produced",
		len(sc.Records), sc.Truth.LogLines, sc.Truth.BounceEmails, sc.Truth.ProducedEvents)

	metrics := pipeline.NewMetrics()
	p, err := pipeline.New(pipeline.Config{Kafka: k, BatchSize: 50_000, FlushInterval: 500 * time.Millisecond,
		Ingest: ingest.Options{Enrich: sc.EnrichOptions()}}, store, c, metrics, nil)
	if err != nil {
		return err
	}
	srv, addr, err := serveHTTP(o.listen, p)
	if err != nil {
		return err
	}
	defer srv.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- p.Run(runCtx) }()

	rep := &demoReport{ProducedEvents: sc.Truth.ProducedEvents, Records: len(sc.Records), GroundTruth: sc.Truth,
		DataDir: o.dataDir, AsOf: sc.Truth.End}
	if o.serve {
		rep.MetricsAddr = addr.String()
	}
	deadline := time.Now().Add(o.timeout)
	lastShown := time.Now()
	for {
		n, err := scalar(ctx, store, "SELECT count() FROM bouncehouse.delivery_events")
		if err != nil {
			return err
		}
		rep.StoredEvents = n
		if n >= int64(sc.Truth.ProducedEvents) {
			break
		}
		if time.Since(lastShown) > 5*time.Second {
			progress("%d of %d events stored", n, sc.Truth.ProducedEvents)
			lastShown = time.Now()
		}
		select {
		case err := <-done:
			return fmt.Errorf("pipeline stopped early: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d events stored after %s", n, sc.Truth.ProducedEvents, o.timeout)
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.EventsPerSecond = float64(rep.StoredEvents) / rep.Seconds
	if err := fillDemoReport(ctx, store, rep); err != nil {
		return err
	}
	if o.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printDemo(out, rep, addr)
	}
	if o.serve {
		progress("serving /metrics on http://%s until interrupted", addr)
		<-ctx.Done()
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		slog.Warn("pipeline", "err", err)
	}
	return nil
}

// produceScenario sends the log lines (keyed by MTA host) and the bounce emails.
func produceScenario(ctx context.Context, k pipeline.Kafka, sc *scenario.Scenario) error {
	logs, err := pipeline.NewProducer(k, demoLogTopic)
	if err != nil {
		return err
	}
	defer logs.Close()
	bounces, err := pipeline.NewProducer(k, demoBounceTopic)
	if err != nil {
		return err
	}
	defer bounces.Close()
	// Records go in batches: a send waits for the broker's acknowledgement.
	var lines, emails []pipeline.Message
	for _, r := range sc.Records {
		if r.Kind == scenario.KindBounceEmail {
			emails = append(emails, pipeline.Message{Key: []byte(r.Key), Value: r.Value})
			if len(emails) == 500 {
				if err := bounces.Send(ctx, emails...); err != nil {
					return err
				}
				emails = emails[:0]
			}
			continue
		}
		lines = append(lines, pipeline.Message{Key: []byte(r.Key), Value: r.Value})
		if len(lines) == 5000 {
			if err := logs.Send(ctx, lines...); err != nil {
				return err
			}
			lines = lines[:0]
		}
	}
	if len(emails) > 0 {
		if err := bounces.Send(ctx, emails...); err != nil {
			return err
		}
	}
	if len(lines) > 0 {
		return logs.Send(ctx, lines...)
	}
	return nil
}

func scalar(ctx context.Context, s *storage.Store, sql string) (int64, error) {
	res, err := s.Query(ctx, sql, nil)
	if err != nil {
		return 0, err
	}
	if len(res.Rows) == 0 {
		return 0, nil
	}
	switch v := res.Rows[0][0].(type) {
	case uint64:
		return int64(v), nil
	case int64:
		return v, nil
	}
	return 0, fmt.Errorf("%s: not a number", sql)
}

func rowsOf(res *storage.Result) []map[string]any {
	out := make([]map[string]any, 0, len(res.Rows))
	for _, r := range res.Rows {
		m := make(map[string]any, len(r))
		for i, v := range r {
			m[res.Columns[i].Name] = jsonValue(v)
		}
		out = append(out, m)
	}
	return out
}

// fillDemoReport reads the NOC view as of the scenario's end.
func fillDemoReport(ctx context.Context, s *storage.Store, rep *demoReport) error {
	at := storage.Params{"at": rep.AsOf}
	res, err := s.Query(ctx, "SELECT sending_ip, pool, providers, blocklists, delist_urls, blocked_attempts, attempts, blocked_share, since, example_response, affected_customers "+
		"FROM bouncehouse.blocked_ips(t_end = {at:DateTime64(3, 'UTC')}, window_min = 60) ORDER BY blocked_attempts DESC", at)
	if err != nil {
		return err
	}
	rep.BlockedIPs = rowsOf(res)
	res, err = s.Query(ctx, "SELECT customer, sender_domain, issue, category, failures, attempts, failure_share, since, example_response, remediation "+
		"FROM bouncehouse.misconfigured_customers(t_end = {at:DateTime64(3, 'UTC')}, window_min = 60) ORDER BY failures DESC", at)
	if err != nil {
		return err
	}
	rep.Misconfigured = rowsOf(res)
	res, err = s.Query(ctx, "SELECT category, count() AS events, round(count() / (SELECT count() FROM bouncehouse.delivery_events WHERE outcome != 'delivered'), 4) AS share "+
		"FROM bouncehouse.delivery_events WHERE outcome != 'delivered' GROUP BY category ORDER BY events DESC LIMIT 10", nil)
	if err != nil {
		return err
	}
	rep.TopCategories = rowsOf(res)
	if rep.UnparsedRecords, err = scalar(ctx, s, "SELECT count() FROM bouncehouse.unparsed_records"); err != nil {
		return err
	}
	return nil
}

func printDemo(w io.Writer, rep *demoReport, addr net.Addr) {
	fmt.Fprintf(w, "\nbouncehouse demo: %d events from %d records stored in %.1fs (%.0f events/s), %d unparsed records\n",
		rep.StoredEvents, rep.Records, rep.Seconds, rep.EventsPerSecond, rep.UnparsedRecords)
	fmt.Fprintf(w, "NOC view as of %s (last 60 minutes)\n", rep.AsOf.Format("2006-01-02 15:04 MST"))

	fmt.Fprintf(w, "\nBlocked sending IPs\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  IP\tPOOL\tLISTS\tPROVIDERS REFUSING\tBLOCKED\tSINCE\tDELIST")
	for _, b := range rep.BlockedIPs {
		fmt.Fprintf(tw, "  %v\t%v\t%s\t%s\t%.0f%% of %v\t%s\t%s\n", b["sending_ip"], b["pool"], joinAny(b["blocklists"]),
			joinAny(b["providers"]), 100*toFloat(b["blocked_share"]), b["attempts"], shortTime(b["since"]), joinAny(b["delist_urls"]))
	}
	if len(rep.BlockedIPs) == 0 {
		fmt.Fprintln(tw, "  (none)")
	}
	tw.Flush()

	fmt.Fprintf(w, "\nMisconfigured customers\n")
	for _, m := range rep.Misconfigured {
		fmt.Fprintf(w, "  %v (%v): %v, %v failures, %.0f%% of their mail, since %s\n    example: %v\n    fix: %v\n",
			m["customer"], m["sender_domain"], m["issue"], m["failures"], 100*toFloat(m["failure_share"]), shortTime(m["since"]),
			truncate(fmt.Sprint(m["example_response"]), 140), m["remediation"])
	}
	if len(rep.Misconfigured) == 0 {
		fmt.Fprintln(w, "  (none)")
	}

	fmt.Fprintf(w, "\nTop failure categories\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range rep.TopCategories {
		fmt.Fprintf(tw, "  %v\t%v\t%.1f%%\n", c["category"], c["events"], 100*toFloat(c["share"]))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nGround truth: %d listings (%s still listed), %d misconfigurations (%s still broken).\n",
		len(rep.GroundTruth.Listings), strings.Join(rep.GroundTruth.BrokenAtEnd.IPs, ", "),
		len(rep.GroundTruth.Misconfigured), strings.Join(rep.GroundTruth.BrokenAtEnd.Customers, ", "))
	fmt.Fprintf(w, "Explore: bin/bouncehouse query --data %s \"SELECT * FROM bouncehouse.blocked_ips_now\"\n", rep.DataDir)
}

func joinAny(v any) string {
	xs, _ := v.([]any)
	parts := make([]string, 0, len(xs))
	for _, x := range xs {
		if s := fmt.Sprint(x); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

func toFloat(v any) float64 {
	f, _ := storage.Float(v)
	return f
}

func shortTime(v any) string {
	if s, ok := v.(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC().Format("15:04")
		}
		return s
	}
	return fmt.Sprint(v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
