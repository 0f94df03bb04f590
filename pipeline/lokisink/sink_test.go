package lokisink

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
)

// received is one push request as a Loki server sees it.
type received struct {
	header  http.Header
	streams []push.Stream
}

// lokiServer is an in-test Loki push endpoint that decodes what it is sent.
type lokiServer struct {
	*httptest.Server
	mu       sync.Mutex
	reqs     []received
	attempts atomic.Int64
	// status, when set, answers an attempt instead of accepting it (0 accepts).
	status func(attempt int64) int
}

func newLokiServer(t testing.TB) *lokiServer {
	ls := &lokiServer{}
	ls.Server = httptest.NewServer(http.HandlerFunc(ls.handle))
	t.Cleanup(ls.Close)
	return ls
}

func (ls *lokiServer) handle(w http.ResponseWriter, r *http.Request) {
	n := ls.attempts.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ls.status != nil {
		if code := ls.status(n); code != 0 {
			http.Error(w, "ingester unavailable", code)
			return
		}
	}
	if r.URL.Path != DefaultPushPath || r.Method != http.MethodPost {
		http.Error(w, "wrong endpoint", http.StatusNotFound)
		return
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		http.Error(w, "snappy: "+err.Error(), http.StatusBadRequest)
		return
	}
	var req push.PushRequest
	if err := req.Unmarshal(raw); err != nil {
		http.Error(w, "protobuf: "+err.Error(), http.StatusBadRequest)
		return
	}
	ls.mu.Lock()
	ls.reqs = append(ls.reqs, received{header: r.Header.Clone(), streams: req.Streams})
	ls.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (ls *lokiServer) requests() []received {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return append([]received(nil), ls.reqs...)
}

// entry is a received line with its parsed labels.
type entry struct {
	labels string // canonical: name=value,... sorted
	t      time.Time
	line   string
}

// entries returns every received line, in the order the server received them.
func (ls *lokiServer) entries(t testing.TB) []entry {
	var out []entry
	for _, r := range ls.requests() {
		for _, s := range r.streams {
			lbls := parseLabels(t, s.Labels)
			for _, e := range s.Entries {
				out = append(out, entry{labels: lbls, t: e.Timestamp, line: e.Line})
			}
		}
	}
	return out
}

// parseLabels reads a stream's label string, {a="x", b="y"}, into "a=x,b=y" (sorted, as
// the client writes them), failing on anything Loki's parser would refuse.
func parseLabels(t testing.TB, s string) string {
	t.Helper()
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		t.Fatalf("labels %q: not {...}", s)
	}
	s = s[1 : len(s)-1]
	var parts []string
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || !validLabelName(s[:eq]) {
			t.Fatalf("labels: bad name in %q", s)
		}
		name := s[:eq]
		q, err := strconv.QuotedPrefix(s[eq+1:])
		if err != nil {
			t.Fatalf("labels: bad value in %q: %v", s, err)
		}
		v, _ := strconv.Unquote(q)
		if !utf8.ValidString(v) || strings.ContainsRune(v, utf8.RuneError) {
			// Prometheus's label parser, which Loki uses, refuses both.
			t.Fatalf("labels: value %q has invalid UTF-8 or U+FFFD", v)
		}
		parts = append(parts, name+"="+v)
		s = strings.TrimPrefix(s[eq+1+len(q):], ", ")
	}
	return strings.Join(parts, ",")
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustNew(t testing.TB, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPushPayload(t *testing.T) {
	srv := newLokiServer(t)
	pwFile := filepath.Join(t.TempDir(), "loki-password")
	if err := os.WriteFile(pwFile, []byte("s3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	s := mustNew(t, Config{
		URL:            srv.URL, // no path: the push path is added
		TenantID:       "acme",
		BatchWait:      time.Hour, // only Stop sends: one request
		ExternalLabels: map[string]string{"job": "bouncehouse", "env": "test"},
		BasicAuth:      BasicAuth{Username: "bh", PasswordFile: pwFile},
		Logger:         testLogger(&logs),
	})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	lines := []Line{
		{at(0), "mx1 postfix/smtp[1]: A1: to=<a@x.example>, status=bounced (550 5.1.1 user unknown)", "postfix", "mx1", "bounced", "user_unknown"},
		{at(1), "mx2 exim[2]: E1 == b@y.example R=dnslookup defer (-44): 451 4.7.1 slow down", "exim", "mx2", "deferred", "rate_limited"},
		{at(2), "mx1 postfix/smtp[1]: A2: to=<c@z.example>, status=sent (250 ok)", "postfix", "mx1", "delivered", ""},
		{at(3), "mx1 postfix/smtp[1]: A3: to=<d@x.example>, status=bounced (550 5.1.1 no such user)\n", "postfix", "mx1", "bounced", "user_unknown"},
		{at(4), "mx2 exim[2]: E2 == e@y.example defer: 421 4.7.0 try later", "exim", "mx2", "deferred", "rate_limited"},
		{at(3), "mx2 exim[2]: E3 == f@y.example defer: 421 4.7.0 out of order in time", "exim", "mx2", "deferred", "rate_limited"},
	}
	for _, l := range lines {
		s.Push(l)
	}
	s.Stop()

	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1 (Stop flushes the open batch)", len(reqs))
	}
	h := reqs[0].header
	if got := h.Get("Content-Type"); got != "application/x-protobuf" {
		t.Errorf("Content-Type %q", got)
	}
	if got := h.Get("X-Scope-OrgID"); got != "acme" {
		t.Errorf("X-Scope-OrgID %q", got)
	}
	if got, want := h.Get("Authorization"), "Basic "+base64.StdEncoding.EncodeToString([]byte("bh:s3cret-pw")); got != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}
	t.Logf("User-Agent: %q", h.Get("User-Agent"))

	want := map[string][]entry{
		"category=user_unknown,env=test,job=bouncehouse,mta=postfix,mta_host=mx1,outcome=bounced": {
			{t: at(0), line: lines[0].Text}, {t: at(3), line: strings.TrimSuffix(lines[3].Text, "\n")}},
		"category=rate_limited,env=test,job=bouncehouse,mta=exim,mta_host=mx2,outcome=deferred": {
			{t: at(1), line: lines[1].Text}, {t: at(4), line: lines[4].Text}, {t: at(3), line: lines[5].Text}},
		"env=test,job=bouncehouse,mta=postfix,mta_host=mx1,outcome=delivered": {
			{t: at(2), line: lines[2].Text}},
	}
	if len(reqs[0].streams) != len(want) {
		t.Fatalf("%d streams, want %d", len(reqs[0].streams), len(want))
	}
	for _, st := range reqs[0].streams {
		lbls := parseLabels(t, st.Labels)
		w, ok := want[lbls]
		if !ok {
			t.Errorf("unexpected stream %s", st.Labels)
			continue
		}
		if len(st.Entries) != len(w) {
			t.Errorf("stream %s: %d entries, want %d", lbls, len(st.Entries), len(w))
			continue
		}
		for i, e := range st.Entries {
			if !e.Timestamp.Equal(w[i].t) || e.Line != w[i].line {
				t.Errorf("stream %s entry %d: %v %q, want %v %q", lbls, i, e.Timestamp, e.Line, w[i].t, w[i].line)
			}
		}
	}
	st := s.Stats()
	if st.Pushed != 6 || st.Sent != 6 || st.Dropped != 0 || st.Failed != 0 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Errorf("the password was logged:\n%s", logs.String())
	}
}

func TestPasswordFromEnvironment(t *testing.T) {
	srv := newLokiServer(t)
	t.Setenv(EnvPassword, "from-env")
	s := mustNew(t, Config{URL: srv.URL + DefaultPushPath, BasicAuth: BasicAuth{Username: "bh"}})
	s.Push(Line{Text: "x", MTA: "postfix"})
	s.Stop()
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if got, want := reqs[0].header.Get("Authorization"), "Basic "+base64.StdEncoding.EncodeToString([]byte("bh:from-env")); got != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}
	cfg := Config{BasicAuth: BasicAuth{Username: "bh", Password: "hunter2"}}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), slogText(cfg)} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("password shown: %s", out)
		}
	}
}

func slogText(v any) string {
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("cfg", "cfg", v)
	return b.String()
}

func TestRetriesUntilLokiRecovers(t *testing.T) {
	srv := newLokiServer(t)
	var failing atomic.Bool
	failing.Store(true)
	srv.status = func(int64) int {
		if failing.Load() {
			return http.StatusInternalServerError
		}
		return 0
	}
	var logs syncBuffer
	s := mustNew(t, Config{
		URL:        srv.URL + DefaultPushPath,
		BatchWait:  10 * time.Millisecond,
		BatchSize:  4 << 10, // many batches
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		MaxRetries: 1000,
		Logger:     testLogger(&logs),
	})
	const n = 2000
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		s.Push(Line{Time: t0.Add(time.Duration(i) * time.Microsecond), Text: fmt.Sprintf("line %05d padding padding padding", i),
			MTA: "postfix", MTAHost: "mx1", Outcome: "deferred", Category: "remote_temp_failure"})
	}
	waitFor(t, 5*time.Second, "failed attempts", func() bool { return srv.attempts.Load() >= 5 })
	if got := len(srv.requests()); got != 0 {
		t.Fatalf("%d requests accepted while failing", got)
	}
	failing.Store(false)
	waitFor(t, 10*time.Second, "all lines", func() bool { return s.Stats().Sent == n })
	s.Stop()

	got := srv.entries(t)
	if len(got) != n {
		t.Fatalf("received %d lines, want %d", len(got), n)
	}
	for i, e := range got {
		if want := fmt.Sprintf("line %05d padding padding padding", i); e.line != want || !e.t.Equal(t0.Add(time.Duration(i)*time.Microsecond)) {
			t.Fatalf("line %d: %q at %v, want %q (order, duplicates)", i, e.line, e.t, want)
		}
	}
	st := s.Stats()
	if st.Retries == 0 || st.Failed != 0 || st.Dropped != 0 || st.Sent != n {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "error sending batch, will retry") || !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no retry warning logged:\n%.2000s", logs.String())
	}
	t.Logf("%d attempts for %d accepted requests; %d retries", srv.attempts.Load(), len(srv.requests()), st.Retries)
}

func TestConcurrentPush(t *testing.T) {
	srv := newLokiServer(t)
	const workers, each = 8, 2000
	// The buffer holds every line, so that none is dropped and each host's lines arrive
	// complete and in order.
	s := mustNew(t, Config{URL: srv.URL, BatchWait: 10 * time.Millisecond, BatchSize: 16 << 10, BufferLines: workers * each})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			host := "mx" + strconv.Itoa(w)
			for i := range each {
				s.Push(Line{Text: fmt.Sprintf("%s %05d", host, i), MTA: "postfix", MTAHost: host, Outcome: "bounced"})
			}
		})
	}
	wg.Wait()
	s.Stop()
	next := map[string]int{}
	for _, e := range srv.entries(t) {
		host, n, _ := strings.Cut(e.line, " ")
		if !strings.Contains(e.labels, "mta_host="+host) {
			t.Fatalf("line %q in stream %s", e.line, e.labels)
		}
		if want := fmt.Sprintf("%05d", next[host]); n != want {
			t.Fatalf("%s: line %s, want %s", host, n, want)
		}
		next[host]++
	}
	for w := range workers {
		if got := next["mx"+strconv.Itoa(w)]; got != each {
			t.Errorf("mx%d: %d lines", w, got)
		}
	}
	if st := s.Stats(); st.Pushed != workers*each || st.Sent != workers*each || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestGivesUpBatchOnClientError(t *testing.T) {
	srv := newLokiServer(t)
	srv.status = func(int64) int { return http.StatusBadRequest }
	s := mustNew(t, Config{URL: srv.URL, BatchWait: 10 * time.Millisecond, MinBackoff: time.Millisecond, Logger: testLogger(&syncBuffer{})})
	for i := range 10 {
		s.Push(Line{Text: "l" + strconv.Itoa(i), MTA: "postfix"})
	}
	waitFor(t, 5*time.Second, "failed lines", func() bool { return s.Stats().Failed == 10 })
	s.Stop()
	if st := s.Stats(); st.Retries != 0 || st.Sent != 0 {
		t.Errorf("a 400 is not retried: %+v", st)
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestLokiDownMemoryBounded(t *testing.T) {
	// A port nobody listens on: every attempt is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	goroutines := runtime.NumGoroutine()
	cfg := Config{
		URL:         "http://" + addr,
		BatchWait:   10 * time.Millisecond,
		BatchSize:   256 << 10,
		BufferLines: 10_000,
		BufferBytes: 2 << 20,
		MinBackoff:  20 * time.Millisecond,
		MaxBackoff:  40 * time.Millisecond,
		MaxRetries:  3,
		StopTimeout: 100 * time.Millisecond,
		Logger:      testLogger(&syncBuffer{}),
	}
	// What the sink may hold (see the package doc), with room for the test's own noise.
	const lineLen = 200
	bound := uint64(cfg.BufferBytes + cfg.BufferLines*110 + 3*cfg.BatchSize + (cfg.BatchSize/lineLen)*200 + 4<<20)

	before := heapInUse()
	s := mustNew(t, cfg)
	const n = 1_000_000
	if testing.Short() {
		t.Log("short: 1M lines anyway, the test takes a few seconds")
	}
	var peak uint64
	var slowest time.Duration
	pad := strings.Repeat("x", lineLen-20)
	buf := make([]byte, 0, lineLen)
	start := time.Now()
	for i := range n {
		// A new string every line, as a parser produces: a sink that kept them would grow.
		buf = strconv.AppendInt(append(buf[:0], "id="...), int64(i), 10)
		buf = append(buf, ' ')
		buf = append(buf, pad...)
		text := string(buf)
		t0 := time.Now()
		s.Push(Line{Text: text, MTA: "postfix", MTAHost: "mx" + strconv.Itoa(i%4), Outcome: "deferred", Category: "remote_temp_failure"})
		if d := time.Since(t0); d > slowest {
			slowest = d
		}
		if i%100_000 == 99_999 {
			if h := heapInUse(); h > before && h-before > peak {
				peak = h - before
			}
		}
	}
	elapsed := time.Since(start)
	t.Logf("1M pushes in %v; slowest Push %v; peak heap growth %.1f MiB (bound %.1f MiB)",
		elapsed, slowest, float64(peak)/(1<<20), float64(bound)/(1<<20))
	if peak > bound {
		t.Errorf("heap grew by %d bytes, bound %d", peak, bound)
	}
	// The client is stuck in retries all along: a Push that waited for it would take
	// tens of milliseconds, and the million of them many minutes.
	if slowest > 250*time.Millisecond || elapsed > time.Minute {
		t.Errorf("slowest Push %v, 1M pushes %v", slowest, elapsed)
	}
	// The client gives up a batch after MaxRetries and takes the next: most lines are
	// dropped at the buffer, the rest fail in the client.
	st := s.Stats()
	if st.Pushed != n || st.Dropped < n/2 || st.Sent != 0 {
		t.Errorf("stats %+v", st)
	}

	stopStart := time.Now()
	s.Stop()
	if d := time.Since(stopStart); d > cfg.StopTimeout+time.Second {
		t.Errorf("Stop took %v", d)
	}
	// Every line is accounted for once the client's goroutine has given up its batches.
	waitFor(t, 10*time.Second, "the client to give up", func() bool {
		st := s.Stats()
		return st.Dropped+st.Failed == n
	})
	st = s.Stats()
	if st.Sent != 0 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
	waitFor(t, 10*time.Second, "the client's goroutines to end", func() bool { return runtime.NumGoroutine() <= goroutines })
	t.Logf("final stats %+v", st)
}

// blockingClient is a pusher that holds each line until released.
type blockingClient struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	lines   []string
	stopped bool
}

func (b *blockingClient) push(_ labelKey, _ time.Time, line string) {
	b.entered <- struct{}{}
	<-b.release
	b.mu.Lock()
	b.lines = append(b.lines, line)
	b.mu.Unlock()
}
func (b *blockingClient) stop()              { b.mu.Lock(); b.stopped = true; b.mu.Unlock() }
func (b *blockingClient) stats() clientStats { return clientStats{} }

func newBlocking() *blockingClient {
	return &blockingClient{entered: make(chan struct{}, 1_000_000), release: make(chan struct{})}
}

func TestDropPolicy(t *testing.T) {
	cfg := Config{BufferLines: 100, StopTimeout: time.Minute}.withDefaults()
	c := newBlocking()
	s := newSink(cfg, c, true)
	s.Push(Line{Text: "first", MTA: "postfix"})
	<-c.entered // the forwarder holds "first" in the client
	for i := range 100 {
		s.Push(Line{Text: fmt.Sprint("q", i), MTA: "postfix"})
	}
	if st := s.Stats(); st.Queued != 100 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	start := time.Now()
	for range 50 {
		s.Push(Line{Text: "overflow", MTA: "postfix"})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("50 Pushes on a full buffer took %v", d)
	}
	if st := s.Stats(); st.Dropped != 50 || st.Pushed != 151 {
		t.Fatalf("stats %+v", st)
	}
	close(c.release)
	s.Stop()
	s.Push(Line{Text: "late", MTA: "postfix"})
	s.Stop() // twice is fine
	if len(c.lines) != 101 || c.lines[0] != "first" || c.lines[100] != "q99" || !c.stopped {
		t.Errorf("client got %d lines (%q … %q), stopped %v", len(c.lines), c.lines[0], c.lines[len(c.lines)-1], c.stopped)
	}
	if st := s.Stats(); st.Dropped != 51 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestDropPolicyBytes(t *testing.T) {
	cfg := Config{BufferLines: 1000, BufferBytes: 1000}.withDefaults()
	c := newBlocking()
	s := newSink(cfg, c, true)
	s.Push(Line{Text: "first", MTA: "postfix"})
	<-c.entered
	line := Line{Text: strings.Repeat("a", 93), MTA: "postfix"} // 100 bytes with the label
	for range 15 {
		s.Push(line)
	}
	if st := s.Stats(); st.Queued != 10 || st.Dropped != 5 {
		t.Errorf("stats %+v", st)
	}
	close(c.release)
	s.Stop()
	if st := s.Stats(); st.Queued != 0 || s.queuedBytes.Load() != 0 {
		t.Errorf("after stop: %+v, %d bytes", st, s.queuedBytes.Load())
	}
}

func TestStopTimesOut(t *testing.T) {
	cfg := Config{StopTimeout: 50 * time.Millisecond, Logger: testLogger(&syncBuffer{})}.withDefaults()
	c := newBlocking()
	s := newSink(cfg, c, true)
	for i := range 20 {
		s.Push(Line{Text: fmt.Sprint(i), MTA: "postfix"})
	}
	<-c.entered
	start := time.Now()
	s.Stop()
	if d := time.Since(start); d < cfg.StopTimeout || d > cfg.StopTimeout+time.Second {
		t.Errorf("Stop took %v", d)
	}
	if st := s.Stats(); st.Dropped != 19 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
	close(c.release)
	<-s.done
	if len(c.lines) != 1 || !c.stopped {
		t.Errorf("client got %d lines, stopped %v", len(c.lines), c.stopped)
	}
}

func TestLabelSanitising(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"postfix", "postfix"},
		{" mx1.example.net\n", "mx1.example.net"},
		{"mx\t1", "mx_1"},
		{"a\x00b\x7fc", "a_b_c"},
		{"\xff", "_"},
		{"bad\xffutf8", "bad_utf8"},
		{"rep\uFFFDlaced", "rep_laced"},
		{"relä\u200bis", "relä_is"}, // a zero-width space is not printable
		{`quote" back\slash`, `quote" back\slash`},
		{"Ретранслятор", "Ретранслятор"},
		{long, strings.Repeat("é", 127)}, // 254 bytes: the next character would pass 255
		{strings.Repeat("x", 300), strings.Repeat("x", 255)},
	} {
		if got := sanitizeValue(tc.in); got != tc.want {
			t.Errorf("sanitizeValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}

	srv := newLokiServer(t)
	var logs syncBuffer
	s := mustNew(t, Config{URL: srv.URL, BatchWait: time.Hour, ExternalLabels: map[string]string{"job": " bouncehouse\n"},
		Logger: testLogger(&logs)})
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	s.Push(Line{Time: ts, Text: "delivered\r\n", MTA: "postfix", MTAHost: " MX1.example.net ", Outcome: "delivered", Category: ""})
	s.Push(Line{Time: ts, Text: "odd", MTA: "post\nfix", MTAHost: `h"o\st` + "\xfe", Outcome: "bounced", Category: "user_unknown"})
	s.Push(Line{Time: ts, Text: "no labels but job"})
	s.Stop()
	got := map[string]string{}
	for _, e := range srv.entries(t) {
		got[e.line] = e.labels
	}
	want := map[string]string{
		"delivered":         "job=bouncehouse,mta=postfix,mta_host=MX1.example.net,outcome=delivered",
		"odd":               `category=user_unknown,job=bouncehouse,mta=post_fix,mta_host=h"o\st_,outcome=bounced`,
		"no labels but job": "job=bouncehouse",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("labels\n got %v\nwant %v", got, want)
	}
	if logs.String() != "" {
		t.Errorf("the client complained:\n%s", logs.String())
	}

	// Without external labels a line without labels would make Loki refuse the batch.
	s = mustNew(t, Config{URL: srv.URL, ExternalLabels: map[string]string{}})
	s.Push(Line{Text: "nothing", MTA: " "})
	s.Stop()
	if st := s.Stats(); st.Dropped != 1 || st.Sent != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestLineText(t *testing.T) {
	srv := newLokiServer(t)
	s := mustNew(t, Config{URL: srv.URL, BatchWait: time.Hour, MaxLineBytes: 10})
	before := time.Now()
	s.Push(Line{Text: "0123456789abc", MTA: "postfix"})
	s.Push(Line{Text: "012345678é", MTA: "postfix"}) // 11 bytes: é is not split
	s.Push(Line{Text: "lat\xe9in1", MTA: "postfix"})
	s.Push(Line{Text: "\r\n", MTA: "postfix"}) // empty: not sent, not counted
	s.Stop()
	var lines []string
	for _, e := range srv.entries(t) {
		lines = append(lines, e.line)
		if e.t.Before(before) || e.t.After(time.Now()) {
			t.Errorf("zero time became %v, want now", e.t)
		}
	}
	if want := []string{"0123456789", "012345678", "lat\uFFFDin1"}; fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("lines %q, want %q", lines, want)
	}
	if st := s.Stats(); st.Pushed != 3 || st.Truncated != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestConfigErrors(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvPassword, "")
	t.Setenv(EnvPasswordFile, "")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no url", Config{}, "no Loki URL"},
		{"scheme", Config{URL: "loki:3100"}, "want http or https"},
		{"no host", Config{URL: "http:///push"}, "no host"},
		{"credentials in url", Config{URL: "http://u:hunter2@loki:3100"}, "BasicAuth"},
		{"tenant", Config{URL: "http://loki", TenantID: "a\nb"}, "tenant ID"},
		{"label name", Config{URL: "http://loki", ExternalLabels: map[string]string{"a-b": "x"}}, "label name"},
		{"reserved label", Config{URL: "http://loki", ExternalLabels: map[string]string{"__tenant_id__": "x"}}, "reserved"},
		{"line label", Config{URL: "http://loki", ExternalLabels: map[string]string{"mta": "x"}}, "line labels"},
		{"empty value", Config{URL: "http://loki", ExternalLabels: map[string]string{"job": " "}}, "no value"},
		{"password without user", Config{URL: "http://loki", BasicAuth: BasicAuth{Password: "x"}}, "no username"},
		{"user without password", Config{URL: "http://loki", BasicAuth: BasicAuth{Username: "u"}}, "has no password"},
		{"both passwords", Config{URL: "http://loki", BasicAuth: BasicAuth{Username: "u", Password: "x", PasswordFile: pw}}, "not both"},
		{"empty password file", Config{URL: "http://loki", BasicAuth: BasicAuth{Username: "u", PasswordFile: pw}}, "is empty"},
		{"missing password file", Config{URL: "http://loki", BasicAuth: BasicAuth{Username: "u", PasswordFile: pw + "x"}}, "password file"},
	} {
		s, err := New(tc.cfg)
		if err == nil {
			s.Stop()
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	many := map[string]string{}
	for i := range 12 {
		many["l"+strconv.Itoa(i)] = "v"
	}
	if _, err := New(Config{URL: "http://loki", ExternalLabels: many}); err == nil {
		t.Error("16 labels per stream accepted")
	}
}

func TestStopLeavesNoGoroutines(t *testing.T) {
	srv := newLokiServer(t)
	before := runtime.NumGoroutine()
	s := mustNew(t, Config{URL: srv.URL, BatchWait: 10 * time.Millisecond})
	for i := range 100 {
		s.Push(Line{Text: strconv.Itoa(i), MTA: "postfix"})
	}
	s.Stop()
	if got := len(srv.entries(t)); got != 100 {
		t.Fatalf("%d lines", got)
	}
	// The client keeps its idle keep-alive connection (5 minutes); closing the server's
	// side ends its goroutines.
	srv.CloseClientConnections()
	waitFor(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func BenchmarkPush(b *testing.B) {
	srv := newLokiServer(b)
	s := mustNew(b, Config{URL: srv.URL, BufferLines: 100_000, BufferBytes: 64 << 20})
	text := "Mar  1 12:00:00 mx1 postfix/smtp[1234]: 4F1A2B3C4D: to=<someone@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1.2, status=deferred (451 4.7.1 try again later)"
	lines := make([]Line, 64)
	for i := range lines {
		lines[i] = Line{Text: text, MTA: "postfix", MTAHost: "mx" + strconv.Itoa(i%8), Outcome: "deferred", Category: "remote_temp_failure"}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Push(lines[i%len(lines)])
	}
	b.StopTimer()
	st := s.Stats()
	s.Stop()
	b.ReportMetric(float64(st.Dropped)/float64(st.Pushed), "dropped/line")
}

// BenchmarkDelivered measures lines per second from Push to an accepting endpoint: the
// buffer holds every line, so nothing is dropped and Stop waits until all are sent.
func BenchmarkDelivered(b *testing.B) {
	srv := newLokiServer(b)
	text := "Mar  1 12:00:00 mx1 postfix/smtp[1234]: 4F1A2B3C4D: to=<someone@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1.2, status=deferred (451 4.7.1 try again later)"
	n := b.N
	s := mustNew(b, Config{URL: srv.URL, BufferLines: n + 1, BufferBytes: (n + 1) * 256, StopTimeout: time.Hour})
	b.ResetTimer()
	start := time.Now()
	for i := range n {
		s.Push(Line{Text: text, MTA: "postfix", MTAHost: "mx" + strconv.Itoa(i%8), Outcome: "deferred", Category: "remote_temp_failure"})
	}
	s.Stop()
	el := time.Since(start)
	b.StopTimer()
	if st := s.Stats(); st.Sent != uint64(n) {
		b.Fatalf("stats %+v", st)
	}
	b.ReportMetric(float64(n)/el.Seconds(), "lines/s")
}
