package chdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The package's tests share one engine connection (chDB allows one data directory
// per process), opened by TestMain in a temporary directory; each test works in
// its own database.
var (
	testConn *Conn
	testLib  string
	testDir  string
	// skipReason is why the engine tests skip ("" when they run).
	skipReason string
	// signalsBefore holds the handler of each signal before the engine was loaded.
	signalsBefore [65]uintptr
	// openTime is how long the first Open (dlopen and connect) took.
	openTime time.Duration
	// rssBefore and rssAfter are the process's resident memory around that Open.
	rssBefore, rssAfter string
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// Without the library (or without cgo) the engine tests skip, except in CI.
	noEngine := func(err error) int {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "FAIL: the embedded ClickHouse engine is needed in CI: %v\n", err)
			return 1
		}
		skipReason = fmt.Sprintf("skipping the engine tests: %v", err)
		fmt.Fprintln(os.Stderr, skipReason)
		return m.Run()
	}
	lib, err := LibraryPath()
	if err != nil {
		return noEngine(err)
	}
	dir, err := os.MkdirTemp("", "chdb-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	for s := 1; s < len(signalsBefore); s++ {
		signalsBefore[s] = signalHandler(s)
	}
	rssBefore = residentMemory()
	start := time.Now()
	conn, err := Open(lib, filepath.Join(dir, "data"))
	if errors.Is(err, ErrNoCgo) {
		return noEngine(err)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	openTime = time.Since(start)
	rssAfter = residentMemory()
	testConn, testLib, testDir = conn, lib, filepath.Join(dir, "data")
	code := m.Run()
	if err := conn.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: close:", err)
		code = 1
	}
	return code
}

// conn returns the shared connection, or skips the test when there is no engine.
func conn(tb testing.TB) *Conn {
	tb.Helper()
	if testConn == nil {
		tb.Skip(skipReason)
	}
	return testConn
}

// newDatabase creates a fresh database for one test and returns its name.
func newDatabase(tb testing.TB, c *Conn, name string) string {
	tb.Helper()
	mustExec(tb, c, "DROP DATABASE IF EXISTS "+name)
	mustExec(tb, c, "CREATE DATABASE "+name)
	// Not "DROP ... SYNC": in chDB 26.5 it never returns once the database has a table.
	tb.Cleanup(func() { _, _ = c.Query("DROP DATABASE IF EXISTS "+name, "") })
	return name
}

func mustExec(tb testing.TB, c *Conn, sql string) {
	tb.Helper()
	if _, err := c.Query(sql, ""); err != nil {
		tb.Fatal(err)
	}
}

func mustQuery(tb testing.TB, c *Conn, sql, format string) string {
	tb.Helper()
	out, err := c.Query(sql, format)
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}

func TestLibraryPathFromEnv(t *testing.T) {
	lib := filepath.Join(t.TempDir(), "libchdb.so")
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHDB_LIB", lib)
	got, err := LibraryPath()
	if err != nil || got != lib {
		t.Fatalf("LibraryPath() = %q, %v; want %q", got, err, lib)
	}
}

func TestLibraryPathNotFound(t *testing.T) {
	if isFile("/usr/local/lib/libchdb.so") {
		t.Skip("/usr/local/lib/libchdb.so exists")
	}
	t.Setenv("CHDB_LIB", filepath.Join(t.TempDir(), "missing.so"))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	_, err := LibraryPath()
	if !errors.Is(err, ErrLibraryNotFound) || !strings.Contains(err.Error(), "scripts/install-libchdb.sh") {
		t.Fatalf("LibraryPath() error = %v; want ErrLibraryNotFound and the install hint", err)
	}
}

func TestCreateInsertSelect(t *testing.T) {
	c := conn(t)
	db := newDatabase(t, c, "t_basic")
	mustExec(t, c, "CREATE TABLE "+db+".people (id UInt32, name String, score Float64, tags Array(String)) ENGINE = MergeTree ORDER BY id")
	if out := mustQuery(t, c, "INSERT INTO "+db+".people FORMAT JSONEachRow\n"+
		`{"id":2,"name":"Bob \"the\" builder","score":1.5,"tags":[]}`+"\n"+
		`{"id":1,"name":"Ålice\ttab","score":-2,"tags":["a","b"]}`+"\n", ""); out != "" {
		t.Errorf("INSERT returned %q, want nothing", out)
	}

	got := mustQuery(t, c, "SELECT id, name, score, tags FROM "+db+".people ORDER BY id", "JSONEachRow")
	want := `{"id":1,"name":"Ålice\ttab","score":-2,"tags":["a","b"]}` + "\n" +
		`{"id":2,"name":"Bob \"the\" builder","score":1.5,"tags":[]}` + "\n"
	if got != want {
		t.Errorf("JSONEachRow:\n got %q\nwant %q", got, want)
	}

	got = mustQuery(t, c, "SELECT id, name FROM "+db+".people ORDER BY id", "TabSeparated")
	if want := "1\tÅlice\\ttab\n2\tBob \"the\" builder\n"; got != want {
		t.Errorf("TabSeparated:\n got %q\nwant %q", got, want)
	}
	if got2 := mustQuery(t, c, "SELECT id, name FROM "+db+".people ORDER BY id", ""); got2 != got {
		t.Errorf("format \"\" gave %q, want the TabSeparated output %q", got2, got)
	}

	var doc struct {
		Meta []struct{ Name, Type string }
		Data []struct {
			ID   uint32 `json:"id"`
			Name string `json:"name"`
		}
		Rows int
	}
	if err := json.Unmarshal([]byte(mustQuery(t, c, "SELECT id, name FROM "+db+".people ORDER BY id", "JSON")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Rows != 2 || len(doc.Data) != 2 || doc.Data[0].Name != "Ålice\ttab" || doc.Meta[0].Type != "UInt32" {
		t.Errorf("JSON: %+v", doc)
	}

	if got := mustQuery(t, c, "SELECT count() FROM "+db+".people WHERE id > 5", "TabSeparated"); got != "0\n" {
		t.Errorf("count of no rows = %q", got)
	}
}

func TestEngineError(t *testing.T) {
	c := conn(t)
	_, err := c.Query("SELEC 1", "")
	var ee *EngineError
	if !errors.As(err, &ee) {
		t.Fatalf("bad SQL: error %v is not an *EngineError", err)
	}
	if ee.Code != 62 || ee.Name != "SYNTAX_ERROR" || !strings.Contains(ee.Message, "Syntax error") {
		t.Errorf("bad SQL: %+v", ee)
	}
	if !strings.HasPrefix(err.Error(), `chdb query "SELEC 1": Code: 62.`) {
		t.Errorf("bad SQL: error %q lacks context", err)
	}

	_, err = c.Query("SELECT * FROM t_missing_db.nothing", "")
	if !errors.As(err, &ee) || ee.Name != "UNKNOWN_DATABASE" {
		t.Errorf("missing database: %v", err)
	}

	db := newDatabase(t, c, "t_error")
	mustExec(t, c, "CREATE TABLE "+db+".n (x UInt8) ENGINE = MergeTree ORDER BY x")
	_, err = c.Query("INSERT INTO "+db+".n FORMAT JSONEachRow\n{\"x\":\"not a number\"}\n"+strings.Repeat("{\"x\":1}\n", 1000), "")
	if !errors.As(err, &ee) || ee.Code == 0 {
		t.Errorf("bad data: %v", err)
	}
	// The engine quotes a little of the data near a parse error; the wrapper adds
	// only the statement's first line.
	if n := len(err.Error()); n > 2000 {
		t.Errorf("the error is %d bytes long: %.300s", n, err)
	}
	// The connection still works after errors.
	if got := mustQuery(t, c, "SELECT count() FROM "+db+".n", ""); got != "0\n" {
		t.Errorf("count after a failed insert = %q", got)
	}

	if _, err := c.Query("  \n", ""); err == nil {
		t.Error("empty statement: no error")
	}
}

func TestMergeTreeTTLLowCardinalityMaterializedView(t *testing.T) {
	c := conn(t)
	db := newDatabase(t, c, "t_features")
	mustExec(t, c, `CREATE TABLE `+db+`.events (
		ts DateTime,
		domain LowCardinality(String),
		outcome LowCardinality(String),
		code UInt16
	) ENGINE = MergeTree
	PARTITION BY toYYYYMM(ts)
	ORDER BY (domain, ts)
	TTL ts + INTERVAL 30 DAY DELETE`)
	mustExec(t, c, `CREATE TABLE `+db+`.by_domain (
		domain LowCardinality(String),
		outcome LowCardinality(String),
		n UInt64
	) ENGINE = SummingMergeTree ORDER BY (domain, outcome)`)
	mustExec(t, c, `CREATE MATERIALIZED VIEW `+db+`.by_domain_mv TO `+db+`.by_domain AS
		SELECT domain, outcome, count() AS n FROM `+db+`.events GROUP BY domain, outcome`)

	now := time.Now().UTC()
	var body strings.Builder
	counts := map[string]int{}
	for i := range 1000 {
		ts := now.Add(-time.Duration(i) * time.Minute)
		if i%10 == 0 {
			ts = now.AddDate(0, 0, -60) // expired by the TTL
		}
		domain, outcome := fmt.Sprintf("d%d.example", i%3), []string{"bounced", "deferred"}[i%2]
		counts[domain+"\t"+outcome]++
		fmt.Fprintf(&body, `{"ts":"%s","domain":"%s","outcome":"%s","code":%d}`+"\n",
			ts.Format(time.DateTime), domain, outcome, 550+i%5)
	}
	mustExec(t, c, "INSERT INTO "+db+".events FORMAT JSONEachRow\n"+body.String())
	keys := slices.Sorted(maps.Keys(counts))
	var want strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&want, "%s\t%d\n", k, counts[k])
	}

	if got := mustQuery(t, c, "SELECT toTypeName(domain) FROM "+db+".events LIMIT 1", ""); got != "LowCardinality(String)\n" {
		t.Errorf("domain type = %q", got)
	}
	got := mustQuery(t, c, "SELECT domain, outcome, sum(n) FROM "+db+".by_domain GROUP BY domain, outcome ORDER BY domain, outcome", "")
	// The view sees every inserted row, the expired ones too.
	if got != want.String() {
		t.Errorf("materialized view:\n got %q\nwant %q", got, want.String())
	}
	mustExec(t, c, "OPTIMIZE TABLE "+db+".events FINAL")
	// Expired rows go at a merge, which may come right after the INSERT; OPTIMIZE
	// FINAL forces one.
	if got := mustQuery(t, c, "SELECT count() FROM "+db+".events", ""); got != "900\n" {
		t.Errorf("rows after the TTL = %q, want 900", got)
	}
	// multiMatchAnyIndex (Hyperscan) is in this build.
	if got := mustQuery(t, c, `SELECT multiMatchAnyIndex('550 5.2.2 mailbox full', ['quota', 'mailbox (is )?full'])`, ""); got != "2\n" {
		t.Errorf("multiMatchAnyIndex = %q, want 2", got)
	}
}

// TestInsertDeduplicationToken pins down how a retried INSERT (same
// insert_deduplication_token) is dropped with non-replicated MergeTree tables in
// chDB 26.5:
//   - the table needs SETTINGS non_replicated_deduplication_window = N (0 by
//     default, which turns deduplication off);
//   - a materialized view's target table is deduplicated only when it has the
//     window too, and only while deduplicate_blocks_in_dependent_materialized_views
//     is 1 (the default);
//   - this holds with async_insert = 0 and with chDB's default async_insert = 1;
//   - with the window set, an INSERT without a token is deduplicated by a hash of
//     its data: two identical batches keep one.
func TestInsertDeduplicationToken(t *testing.T) {
	c := conn(t)
	db := newDatabase(t, c, "t_dedup")
	const window = " SETTINGS non_replicated_deduplication_window = 1000"
	mustExec(t, c, "CREATE TABLE "+db+".raw (k UInt32, v String) ENGINE = MergeTree ORDER BY k"+window)
	mustExec(t, c, "CREATE TABLE "+db+".plain (k UInt32, v String) ENGINE = MergeTree ORDER BY k")
	mustExec(t, c, "CREATE TABLE "+db+".agg (v String, n UInt64) ENGINE = SummingMergeTree ORDER BY v"+window)
	mustExec(t, c, "CREATE MATERIALIZED VIEW "+db+".mv TO "+db+".agg AS SELECT v, count() AS n FROM "+db+".raw GROUP BY v")
	mustExec(t, c, "CREATE TABLE "+db+".agg_nowindow (v String, n UInt64) ENGINE = SummingMergeTree ORDER BY v")
	mustExec(t, c, "CREATE MATERIALIZED VIEW "+db+".mv_nowindow TO "+db+".agg_nowindow AS SELECT v, count() AS n FROM "+db+".raw GROUP BY v")

	body := " FORMAT JSONEachRow\n{\"k\":1,\"v\":\"a\"}\n{\"k\":2,\"v\":\"b\"}\n"
	state := func() string {
		return strings.TrimSpace(mustQuery(t, c, "SELECT (SELECT count() FROM "+db+".raw), (SELECT count() FROM "+db+".plain), "+
			"(SELECT sum(n) FROM "+db+".agg), (SELECT sum(n) FROM "+db+".agg_nowindow)", ""))
	}
	check := func(what, want string) {
		t.Helper()
		if got := state(); got != want {
			t.Errorf("%s: raw, plain, agg, agg_nowindow = %q, want %q", what, got, want)
		}
	}
	for range 3 {
		mustExec(t, c, "INSERT INTO "+db+".raw SETTINGS async_insert = 0, insert_deduplication_token = 'batch-1'"+body)
		mustExec(t, c, "INSERT INTO "+db+".plain SETTINGS async_insert = 0, insert_deduplication_token = 'batch-1'"+body)
	}
	check("three INSERTs with one token", "2\t6\t2\t6")

	mustExec(t, c, "INSERT INTO "+db+".raw SETTINGS async_insert = 0, insert_deduplication_token = 'batch-1', "+
		"deduplicate_blocks_in_dependent_materialized_views = 0"+body)
	check("the token again without deduplication in views", "2\t6\t4\t8")

	mustExec(t, c, "INSERT INTO "+db+".raw SETTINGS insert_deduplication_token = 'batch-1'"+body)
	check("the token again, chDB's default async_insert", "2\t6\t4\t10")

	for range 2 {
		mustExec(t, c, "INSERT INTO "+db+".raw SETTINGS insert_deduplication_token = 'batch-2'"+body)
	}
	check("a new token twice, chDB's default async_insert", "4\t6\t6\t14")

	for range 2 {
		mustExec(t, c, "INSERT INTO "+db+".raw SETTINGS async_insert = 0 FORMAT JSONEachRow\n{\"k\":7,\"v\":\"z\"}\n")
	}
	check("two identical INSERTs without a token", "5\t6\t7\t16")
}

func TestLargeInsert(t *testing.T) {
	c := conn(t)
	db := newDatabase(t, c, "t_large")
	createEventTables(t, c, db)
	const rows = 20_000
	body := eventRows(0, rows, 2200)
	if len(body) < 50<<20 {
		t.Fatalf("body is %d bytes, want 50 MB", len(body))
	}
	sql := "INSERT INTO " + db + ".events FORMAT JSONEachRow\n" + body
	start := time.Now()
	mustExec(t, c, sql)
	elapsed := time.Since(start)
	t.Logf("one INSERT of %d rows, %.1f MB: %v, %.0f rows/s, %.0f MB/s", rows, float64(len(sql))/(1<<20), elapsed,
		rows/elapsed.Seconds(), float64(len(sql))/(1<<20)/elapsed.Seconds())
	if got := mustQuery(t, c, "SELECT count(), sum(length(raw)) > 0 FROM "+db+".events", ""); got != "20000\t1\n" {
		t.Errorf("count = %q", got)
	}
	if got := mustQuery(t, c, "SELECT sum(n) FROM "+db+".per_minute", ""); got != "20000\n" {
		t.Errorf("materialized view sum = %q", got)
	}
}

func TestConcurrentQueries(t *testing.T) {
	c := conn(t)
	db := newDatabase(t, c, "t_concurrent")
	const workers, batches, perBatch = 8, 20, 500
	for w := range workers {
		mustExec(t, c, fmt.Sprintf("CREATE TABLE %s.w%d (id UInt64, s String) ENGINE = MergeTree ORDER BY id", db, w))
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*batches*2)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var body strings.Builder
				for i := range perBatch {
					fmt.Fprintf(&body, `{"id":%d,"s":"w%d"}`+"\n", b*perBatch+i, w)
				}
				if _, err := c.Query(fmt.Sprintf("INSERT INTO %s.w%d SETTINGS async_insert = 0 FORMAT JSONEachRow\n%s", db, w, body.String()), ""); err != nil {
					errs <- err
					return
				}
				out, err := c.Query(fmt.Sprintf("SELECT count() FROM %s.w%d", db, w), "")
				if err != nil {
					errs <- err
					return
				}
				if got, want := string(out), strconv.Itoa((b+1)*perBatch)+"\n"; got != want {
					errs <- fmt.Errorf("worker %d batch %d: count %q, want %q", w, b, got, want)
				}
				if _, err := c.Query("SELECT no_such_column", ""); err == nil {
					errs <- errors.New("bad query: no error")
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := mustQuery(t, c, fmt.Sprintf("SELECT count() FROM merge(%s, '^w')", db), "")
	if want := strconv.Itoa(workers*batches*perBatch) + "\n"; got != want {
		t.Errorf("total = %q, want %q", got, want)
	}
}

func TestQueryAfterClose(t *testing.T) {
	c := conn(t)
	other, err := Open(testLib, testDir)
	if err != nil {
		t.Fatalf("second Open of the same directory: %v", err)
	}
	if got := mustQuery(t, other, "SELECT 42", ""); got != "42\n" {
		t.Errorf("second handle: %q", got)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := other.Query("SELECT 1", ""); !errors.Is(err, ErrClosed) {
		t.Errorf("query after Close: error %v, want ErrClosed", err)
	}
	var nilConn *Conn
	if _, err := nilConn.Query("SELECT 1", ""); !errors.Is(err, ErrClosed) {
		t.Errorf("query on nil Conn: error %v, want ErrClosed", err)
	}
	if got := mustQuery(t, c, "SELECT 1", ""); got != "1\n" {
		t.Errorf("the shared handle after another handle's Close: %q", got)
	}
}

func TestOpenOtherDirectoryFails(t *testing.T) {
	conn(t)
	if c, err := Open(testLib, t.TempDir()); err == nil {
		c.Close()
		t.Fatal("Open of a second data directory succeeded")
	} else if !strings.Contains(err.Error(), "one data directory per process") {
		t.Errorf("error %q does not explain the limit", err)
	}
	if c, err := Open(filepath.Join(t.TempDir(), "other.so"), testDir); err == nil {
		c.Close()
		t.Fatal("Open of a second library succeeded")
	}
}

// TestSignalsStayWithGo checks that loading and using the engine leaves the Go
// runtime's signal handlers in place: nil dereferences still panic (SIGSEGV) and
// goroutines are still preempted (SIGURG).
func TestSignalsStayWithGo(t *testing.T) {
	c := conn(t)
	mustQuery(t, c, "SELECT count() FROM numbers(10000000) WHERE number % 7 = 3", "")
	for s := 1; s < len(signalsBefore); s++ {
		if s == int(syscall.SIGKILL) || s == int(syscall.SIGSTOP) {
			continue
		}
		if now := signalHandler(s); now != signalsBefore[s] {
			t.Errorf("signal %d: handler %#x, was %#x before the engine was loaded", s, now, signalsBefore[s])
		}
	}
	if engine.restoredSignals != 0 {
		t.Logf("connecting changed signal dispositions that were put back: mask %#x", engine.restoredSignals)
	}
	defer func() {
		if recover() == nil {
			t.Error("nil dereference did not panic")
		}
	}()
	var p *int
	_ = *p
}

// TestOpenStats logs what loading the engine costs.
func TestOpenStats(t *testing.T) {
	conn(t)
	t.Logf("first Open (dlopen + chdb_connect): %v; resident memory %s before, %s after; now %s",
		openTime, rssBefore, rssAfter, residentMemory())
}

// residentMemory returns the process's VmRSS from /proc/self/status.
func residentMemory() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "?"
}

// createEventTables creates a ~25-column table like bouncehouse's delivery events,
// with a materialized view counting them per minute, domain and outcome.
func createEventTables(tb testing.TB, c *Conn, db string) {
	tb.Helper()
	mustExec(tb, c, `CREATE TABLE `+db+`.events (
		ts DateTime64(3),
		received_at DateTime64(3),
		mta_host LowCardinality(String),
		mta LowCardinality(String),
		queue_id String,
		message_id String,
		sender String,
		sender_domain LowCardinality(String),
		recipient String,
		recipient_domain LowCardinality(String),
		relay String,
		relay_ip String,
		smtp_code UInt16,
		enhanced_code LowCardinality(String),
		outcome LowCardinality(String),
		category LowCardinality(String),
		class LowCardinality(String),
		who_acts LowCardinality(String),
		rule LowCardinality(String),
		attempt UInt16,
		delay_s Float64,
		size UInt64,
		tls UInt8,
		tenant LowCardinality(String),
		response String,
		raw String
	) ENGINE = MergeTree
	PARTITION BY toYYYYMMDD(ts)
	ORDER BY (recipient_domain, ts)
	TTL toDateTime(ts) + INTERVAL 90 DAY DELETE`)
	mustExec(tb, c, `CREATE TABLE `+db+`.per_minute (
		minute DateTime,
		recipient_domain LowCardinality(String),
		outcome LowCardinality(String),
		category LowCardinality(String),
		n UInt64
	) ENGINE = SummingMergeTree ORDER BY (minute, recipient_domain, outcome, category)`)
	mustExec(tb, c, `CREATE MATERIALIZED VIEW `+db+`.per_minute_mv TO `+db+`.per_minute AS
		SELECT toStartOfMinute(ts) AS minute, recipient_domain, outcome, category, count() AS n
		FROM `+db+`.events GROUP BY minute, recipient_domain, outcome, category`)
}

// eventRows returns rows first..first+n-1 as JSONEachRow, each with a raw line of
// about rawLen bytes.
func eventRows(first, n, rawLen int) string {
	domains := []string{"gmail.com", "yahoo.com", "outlook.com", "example.org", "mail.ru", "web.de", "qq.com", "icloud.com"}
	outcomes := []string{"bounced", "deferred", "delivered", "expired"}
	categories := []string{"mailbox_full", "user_unknown", "spam_block", "greylisted", "dns", "policy", "tls", "other"}
	pad := strings.Repeat("x", max(rawLen-200, 0))
	// Recent, so that the table's 90-day TTL does not delete the rows.
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var b bytes.Buffer
	b.Grow(n * (rawLen + 700))
	for i := first; i < first+n; i++ {
		ts := base.Add(time.Duration(i) * 37 * time.Millisecond).Format("2006-01-02 15:04:05.000")
		d := domains[i%len(domains)]
		o := outcomes[i%len(outcomes)]
		cat := categories[i%len(categories)]
		fmt.Fprintf(&b, `{"ts":"%s","received_at":"%s","mta_host":"mx%d.bouncehouse.test","mta":"postfix",`+
			`"queue_id":"4Fx%07X","message_id":"<%d.%d@sender.example>","sender":"news@sender.example","sender_domain":"sender.example",`+
			`"recipient":"user%d@%s","recipient_domain":"%s","relay":"mx.%s","relay_ip":"192.0.2.%d",`+
			`"smtp_code":%d,"enhanced_code":"5.%d.%d","outcome":"%s","category":"%s","class":"hard","who_acts":"recipient",`+
			`"rule":"rule-%d","attempt":%d,"delay_s":%d.25,"size":%d,"tls":1,"tenant":"t%d",`+
			`"response":"550 5.1.1 <user%d@%s>: Recipient address rejected: User unknown in virtual mailbox table",`+
			`"raw":"May  1 00:00:00 mx postfix/smtp[123]: 4Fx%07X: to=<user%d@%s>, status=%s %s"}`+"\n",
			ts, ts, i%4, i, i, i%1000, i%100000, d, d, d, i%250,
			550+i%5, i%8, i%4, o, cat,
			i%40, 1+i%5, i%3600, 1000+i%50000, i%10,
			i%100000, d,
			i, i%100000, d, o, pad)
	}
	return b.String()
}

// BenchmarkInsertJSONEachRow measures INSERT ... FORMAT JSONEachRow of ~25-column
// rows in batches of 20,000 into a MergeTree table with a materialized view, the
// data passed in the statement. typical rows are ~825 bytes (a 16.5 MB
// statement), large rows ~2.6 kB (a 53 MB statement). Reports rows/s and MB/s.
func BenchmarkInsertJSONEachRow(b *testing.B) {
	c := conn(b)
	for _, bc := range []struct {
		name   string
		rawLen int
	}{
		{"typical", 250},
		{"large", 2200},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db := newDatabase(b, c, "b_insert_"+bc.name)
			createEventTables(b, c, db)
			const batch = 20_000
			bodies := []string{eventRows(0, batch, bc.rawLen), eventRows(batch, batch, bc.rawLen)}
			prefix := "INSERT INTO " + db + ".events SETTINGS async_insert = 0 FORMAT JSONEachRow\n"
			sqls := []string{prefix + bodies[0], prefix + bodies[1]}
			b.SetBytes(int64(len(sqls[0])))
			for i := 0; b.Loop(); i++ {
				if _, err := c.Query(sqls[i%2], ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
