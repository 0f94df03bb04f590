package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestServerOptions: DSN parsing, LZ4 by default, TLS from the DSN, the password from the
// environment or a file when the DSN has none, and UTC sessions.
func TestServerOptions(t *testing.T) {
	t.Setenv("BOUNCEHOUSE_CLICKHOUSE_PASSWORD", "")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BOUNCEHOUSE_CLICKHOUSE_PASSWORD_FILE", pwFile)
	o, err := serverOptions(Config{DSN: "clickhouse://ingest@ch1:9440,ch2:9440/bouncehouse?secure=true&dial_timeout=3s"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Auth.Username != "ingest" || o.Auth.Password != "s3cret" || o.Auth.Database != "bouncehouse" {
		t.Errorf("auth %+v", o.Auth)
	}
	if len(o.Addr) != 2 || o.TLS == nil || o.Compression == nil || o.Compression.Method != clickhouse.CompressionLZ4 {
		t.Errorf("addr %v, tls %v, compression %+v", o.Addr, o.TLS != nil, o.Compression)
	}
	if o.Settings["session_timezone"] != "UTC" || o.DialTimeout != 3*time.Second {
		t.Errorf("settings %v, dial timeout %v", o.Settings, o.DialTimeout)
	}
	t.Setenv("BOUNCEHOUSE_CLICKHOUSE_PASSWORD", "from-env")
	if o, _ = serverOptions(Config{DSN: "clickhouse://u@h:9000/db"}); o.Auth.Password != "from-env" {
		t.Errorf("password from env: %q", o.Auth.Password)
	}
	if o, _ = serverOptions(Config{DSN: "clickhouse://u:inline@h:9000/db?compress=zstd"}); o.Auth.Password != "inline" || o.Compression.Method != clickhouse.CompressionZSTD {
		t.Errorf("inline password or zstd: %q %+v", o.Auth.Password, o.Compression)
	}
	if _, err := serverOptions(Config{DSN: "://nonsense"}); err == nil {
		t.Error("a broken DSN was accepted")
	}
}

// TestServerUnreachable: a server that does not answer is an error with its address, not a
// hang.
func TestServerUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Open(ctx, Config{DSN: "clickhouse://default@127.0.0.1:1/db?dial_timeout=500ms"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Open of a closed port: %v", err)
	}
}

// TestEventValues: the server batch gets one value per column, in the column's Go type.
func TestEventValues(t *testing.T) {
	r := mixedRows(time.Now(), 1, 9)[0]
	vals := eventValues(&r, privacy{mode: PrivacyKeep}, time.Now())
	if len(vals) != len(eventColumns) {
		t.Fatalf("%d values for %d columns", len(vals), len(eventColumns))
	}
	want := map[string]reflect.Kind{"event_time": reflect.Struct, "smtp_code": reflect.Uint16, "blocklist_providers": reflect.Slice,
		"notification": reflect.Bool, "source_line": reflect.Uint32, "kafka_partition": reflect.Int32, "kafka_offset": reflect.Int64,
		"record_index": reflect.Uint32, "response": reflect.String}
	for i, c := range eventColumns {
		if k, ok := want[c]; ok && reflect.TypeOf(vals[i]).Kind() != k {
			t.Errorf("%s: %T", c, vals[i])
		}
	}
	r.SMTPCode = 70000
	if v := eventValues(&r, privacy{}, time.Now())[17]; v != uint16(0) {
		t.Errorf("out-of-range reply code stored as %v", v)
	}
}

// TestNormalize: scanned driver values become the Result's Go values.
func TestNormalize(t *testing.T) {
	at := time.Date(2026, 11, 16, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	s := "x"
	cases := []struct {
		in   any
		want any
	}{
		{uint8(3), uint64(3)}, {int32(-4), int64(-4)}, {float32(0.5), 0.5}, {true, true}, {"s", "s"},
		{&s, "x"}, {(*string)(nil), nil}, {at, at.UTC()}, {[]string{"a"}, []any{"a"}},
		{map[string]uint64{"k": 1}, map[string]any{"k": uint64(1)}},
	}
	for _, c := range cases {
		if got := normalize(reflect.ValueOf(c.in)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("normalize(%#v) = %#v, want %#v", c.in, got, c.want)
		}
	}
}

// TestServerIntegration runs the store against a real ClickHouse server when
// BOUNCEHOUSE_CLICKHOUSE_DSN names one (for example
// clickhouse://default:@localhost:9000/default); see docs/storage.md.
func TestServerIntegration(t *testing.T) {
	dsn := os.Getenv("BOUNCEHOUSE_CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("BOUNCEHOUSE_CLICKHOUSE_DSN is not set: no ClickHouse server to test against")
	}
	ctx := context.Background()
	db := fmt.Sprintf("bouncehouse_test_%d", time.Now().UnixNano())
	s, err := Open(ctx, Config{DSN: dsn, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = s.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(db), nil)
		s.Close()
	}()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rs := mixedRows(time.Now().UTC(), 2000, 5)
	for i := 0; i < 2; i++ {
		if err := s.InsertEvents(ctx, rs, BatchToken("events", rs)); err != nil {
			t.Fatal(err)
		}
	}
	if n := queryInt(t, s, "SELECT count() FROM "+s.q("delivery_events"), nil); n != 2000 {
		t.Errorf("stored %d events, want 2000 (the retry must be dropped)", n)
	}
	if n := queryInt(t, s, "SELECT sum(events) FROM "+s.q("rollup_provider_5m"), nil); n == 0 {
		t.Error("rollup_provider_5m is empty")
	}
	if _, err := s.Query(ctx, "SELECT * FROM "+s.q("blocked_ips_now"), nil); err != nil {
		t.Error(err)
	}
}
