package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/bouncehouse/bouncehouse/classify"
	"github.com/bouncehouse/bouncehouse/pipeline"
	"github.com/bouncehouse/bouncehouse/scenario"
	"github.com/bouncehouse/bouncehouse/storage"
	"github.com/bouncehouse/bouncehouse/storage/storagetest"
)

// TestRunConfigPrecedence: defaults, then the file, then the environment, then flags.
func TestRunConfigPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bh.yaml")
	err := os.WriteFile(path, []byte(`kafka:
  brokers: [file-broker:9092]
  group: from-file
  topics:
    - {name: mta-logs, kind: mta-logs}
    - {name: bounces, kind: bounce-emails}
  sasl: {mechanism: scram-sha-512, username: bh, password_file: /run/secrets/kafka}
batch_size: 5000
flush_interval: 3s
store: {clickhouse: "clickhouse://file@ch:9000/x", retention_days: 90, recipient_privacy: hash}
enrich:
  customers:
    sender_domains: {acme.example: acme}
listen: ":9999"
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BOUNCEHOUSE_KAFKA_GROUP", "from-env")
	t.Setenv("BOUNCEHOUSE_BATCH_SIZE", "7000")
	t.Setenv("BOUNCEHOUSE_CLICKHOUSE_DSN", "")
	cmd := newRunCommand(&globalOptions{})
	if err := cmd.ParseFlags([]string{"--batch-size", "9000", "--topic", "x:esp-events"}); err != nil {
		t.Fatal(err)
	}
	fl := runFlagsOf(t, cmd)
	cfg, err := loadRunConfig(path, fl, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.Brokers[0] != "file-broker:9092" || cfg.Kafka.Group != "from-env" || cfg.BatchSize != 9000 ||
		cfg.FlushInterval != 3*time.Second || cfg.Listen != ":9999" || cfg.Kafka.SASL.Mechanism != "scram-sha-512" {
		t.Errorf("config: %+v", cfg)
	}
	if len(cfg.Kafka.Topics) != 1 || cfg.Kafka.Topics[0].Kind != pipeline.KindESPEvents {
		t.Errorf("topics from the flag: %+v", cfg.Kafka.Topics)
	}
	if cfg.Enrich.Customers.BySenderDomain["acme.example"] != "acme" {
		t.Errorf("enrich: %+v", cfg.Enrich)
	}
	sc, err := cfg.Store.storeConfig()
	if err != nil || sc.DSN != "clickhouse://file@ch:9000/x" || sc.RetentionDays != 90 || sc.Privacy != storage.PrivacyHash {
		t.Errorf("store: %+v %v", sc, err)
	}
	// An unknown key is an error, not silently ignored.
	if err := os.WriteFile(path, []byte("kafka: {brokerz: [x]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadRunConfig(path, fl, cmd); err == nil || !strings.Contains(err.Error(), "brokerz") {
		t.Errorf("unknown key: %v", err)
	}
}

// runFlagsOf digs the flag values out of a parsed run command.
func runFlagsOf(t *testing.T, cmd *cobra.Command) *runFlags {
	t.Helper()
	f := cmd.Flags()
	fl := &runFlags{}
	fl.brokers, _ = f.GetString("brokers")
	fl.topics, _ = f.GetStringArray("topic")
	fl.group, _ = f.GetString("group")
	fl.batchSize, _ = f.GetInt("batch-size")
	fl.flushInterval, _ = f.GetDuration("flush-interval")
	fl.listen, _ = f.GetString("listen")
	return fl
}

// TestRunServesAndStops runs the real pipeline on the embedded broker and engine: events are
// stored, /healthz, /readyz and /metrics answer, and cancelling (what SIGTERM does) stops it.
func TestRunServesAndStops(t *testing.T) {
	storagetest.RequireEngine(t)
	b, err := pipeline.StartEmbeddedBroker(map[string]int32{"mta-logs": 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	k := pipeline.Kafka{Brokers: b.Addrs(), Group: "run-test", Topics: []pipeline.Topic{{Name: "mta-logs", Kind: pipeline.KindMTALogs}}}
	log, err := os.ReadFile(filepath.Join("..", "..", "ingest", "testdata", "postfix.log"))
	if err != nil {
		t.Fatal(err)
	}
	prod, err := pipeline.NewProducer(k, "mta-logs")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []pipeline.Message
	for _, l := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		msgs = append(msgs, pipeline.Message{Key: []byte(strings.Fields(l)[3]), Value: []byte(l)})
	}
	if err := prod.Send(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	prod.Close()

	data := filepath.Join(t.TempDir(), "data")
	cfg := runFile{Kafka: k, BatchSize: 100, FlushInterval: 200 * time.Millisecond, StateInterval: time.Second,
		Store: storeFile{Data: data, Database: "bouncehouse", RetentionDays: 180}, Listen: "127.0.0.1:0"}
	c, err := classify.Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- runPipeline(ctx, cfg, c, true, func(_ *pipeline.Pipeline, a net.Addr) { addrCh <- a })
	}()
	var base string
	select {
	case a := <-addrCh:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("run ended early: %v", err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := get("/metrics")
		if code == 200 && strings.Contains(body, `bouncehouse_events_total{category="spf_fail"`) || code == 200 && strings.Contains(body, "bouncehouse_offset_commits_total") && strings.Contains(body, `outcome="bounced"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed stored events:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz: %d %s", code, body)
	}
	_, body := get("/metrics")
	for _, want := range []string{"bouncehouse_records_total", "bouncehouse_batch_events", "bouncehouse_insert_seconds", "bouncehouse_consumer_lag", "bouncehouse_correlation_state_entries", "bouncehouse_parse_errors_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
	// The store holds the events, committed.
	out, _, code := runCLI(t, "", "query", "--data", data, "--format", "csv", "SELECT count() > 0 FROM bouncehouse.delivery_events")
	if code != exitOK || !strings.Contains(out, "1") {
		t.Errorf("stored events: %q", out)
	}
}

// TestExampleConfig: the documented example configuration loads.
func TestExampleConfig(t *testing.T) {
	cmd := newRunCommand(&globalOptions{})
	cfg, err := loadRunConfig(filepath.Join("..", "..", "examples", "bouncehouse.yaml"), &runFlags{}, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Kafka.Topics) != 3 || cfg.Kafka.Topics[1].Kind != pipeline.KindBounceEmails || cfg.Enrich.Customers.Header != "X-Customer-ID" {
		t.Errorf("example config: %+v", cfg)
	}
}

// TestSend replays a log file and a bounce email into the embedded broker: one record per
// line keyed by the line's host, one record per email.
func TestSend(t *testing.T) {
	b, err := pipeline.StartEmbeddedBroker(map[string]int32{"in": 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	logPath := filepath.Join("..", "..", "ingest", "testdata", "postfix.log")
	eml := filepath.Join("..", "..", "ingest", "testdata", "dsn", "exim.eml")
	out, errOut, code := runCLI(t, "", "send", "--brokers", strings.Join(b.Addrs(), ","), "--topic", "in", "--quiet", logPath, eml)
	raw, _ := os.ReadFile(logPath)
	lines := len(strings.Split(strings.TrimSpace(string(raw)), "\n"))
	if code != exitOK || !strings.Contains(out, "sent "+itoa(lines+1)+" records") {
		t.Fatalf("send: code %d, %q %s", code, out, errOut)
	}
	r := kafkaReader(b.Addrs(), "in")
	defer r.Close()
	keys := map[string]int{}
	for i := 0; i < lines+1; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		keys[string(m.Key)]++
	}
	if keys["mx-out1"] == 0 || keys["exim.eml"] != 1 {
		t.Errorf("keys %v", keys)
	}
}

// TestDemoJSON runs the demo on a small scenario: every produced event is stored, and the
// IPs and customers the scenario leaves broken are the ones the NOC view shows.
func TestDemoJSON(t *testing.T) {
	storagetest.RequireEngine(t)
	data := filepath.Join(t.TempDir(), "data")
	out, errOut, code := runCLI(t, "", "demo", "--events", "4000", "--data", data, "--json", "--listen", "127.0.0.1:0")
	if code != exitOK {
		t.Fatalf("demo: code %d\n%s", code, errOut)
	}
	var rep struct {
		Produced   int `json:"produced_events"`
		Stored     int `json:"stored_events"`
		Unparsed   int `json:"unparsed_records"`
		BlockedIPs []struct {
			IP    string   `json:"sending_ip"`
			Lists []string `json:"blocklists"`
		} `json:"blocked_ips"`
		Misconfigured []struct {
			Customer string `json:"customer"`
			Issue    string `json:"issue"`
		} `json:"misconfigured_customers"`
		Truth struct {
			BrokenAtEnd struct {
				IPs       []string `json:"ips"`
				Customers []string `json:"customers"`
			} `json:"broken_at_end"`
		} `json:"ground_truth"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("demo --json: %v\n%s", err, out)
	}
	if rep.Produced == 0 || rep.Stored != rep.Produced || rep.Unparsed != 0 {
		t.Errorf("produced %d, stored %d, unparsed %d", rep.Produced, rep.Stored, rep.Unparsed)
	}
	blocked := map[string]bool{}
	for _, b := range rep.BlockedIPs {
		blocked[b.IP] = true
	}
	for _, ip := range rep.Truth.BrokenAtEnd.IPs {
		if !blocked[ip] {
			t.Errorf("IP %s is listed at the end of the scenario but not in blocked_ips: %+v", ip, rep.BlockedIPs)
		}
	}
	mis := map[string]bool{}
	for _, m := range rep.Misconfigured {
		mis[m.Customer] = true
	}
	for _, c := range rep.Truth.BrokenAtEnd.Customers {
		if !mis[c] {
			t.Errorf("customer %s is broken at the end but not in misconfigured_customers: %+v", c, rep.Misconfigured)
		}
	}
}

// TestComposeConfig: the configuration the docker-compose stack runs with loads, and maps
// the generator's MTA hosts, sending IPs and customers exactly as the scenario defines them
// (-update rewrites its enrich section from the scenario).
func TestComposeConfig(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "bouncehouse.yaml")
	sc, err := scenario.Generate(scenario.Config{Events: 200, Duration: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := sc.EnrichOptions()
	if want.Customers.ByJobID == nil {
		want.Customers.ByJobID = map[string]string{} // as YAML reads "jobs: {}"
	}
	if *update {
		var enrich bytes.Buffer
		enc := yaml.NewEncoder(&enrich)
		enc.SetIndent(2)
		if err := enc.Encode(map[string]any{"enrich": want}); err != nil {
			t.Fatal(err)
		}
		head := `# The configuration of bouncehouse in the docker-compose stack. Brokers, the ClickHouse DSN
# and password and the Loki URL come from the environment (see docker-compose.yml). The
# enrich section maps the generator's MTA hosts, sending IPs and customers.
kafka:
  group: bouncehouse
  topics:
    - {name: mta-logs, kind: mta-logs}
    - {name: bounce-emails, kind: bounce-emails}
batch_size: 20000
flush_interval: 2s
store:
  database: bouncehouse
  retention_days: 180
listen: ":9108"
`
		if err := os.WriteFile(path, append([]byte(head), enrich.Bytes()...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("BOUNCEHOUSE_KAFKA_BROKERS", "kafka:9092")
	t.Setenv("BOUNCEHOUSE_CLICKHOUSE_DSN", "clickhouse://bouncehouse@clickhouse:9000/bouncehouse")
	cfg, err := loadRunConfig(path, &runFlags{}, newRunCommand(&globalOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Enrich, want) {
		t.Errorf("deploy/bouncehouse.yaml maps\n%+v\nthe scenario\n%+v\n(go test ./cmd/bouncehouse -run ComposeConfig -update)", cfg.Enrich, want)
	}
	if len(cfg.Kafka.Topics) != 2 || cfg.Store.ClickHouse == "" || len(cfg.Kafka.Brokers) != 1 {
		t.Errorf("compose config: %+v", cfg)
	}
}
