// Package lokisink ships raw log lines to Loki, labelled with the event they produced, so
// that an operator can jump from a dashboard row to its raw lines with a query such as
// {mta_host="mx1.example.net", outcome="bounced", category="ip_blocklisted"}.
//
// # Labels
//
// Every line carries at most the labels mta, mta_host, outcome and category, plus the
// configured external labels (job="bouncehouse" by default). Queue ids, message ids,
// recipients and IP addresses are never labels: each value would open a new Loki stream.
// They stay in the line, where LogQL line filters find them. A label whose value is empty
// (the category of a delivered line) is left out. Values are sanitised (see Line).
//
// # When Loki is slow or down
//
// Push never waits for Loki. It puts the line in a bounded buffer and returns; a single
// goroutine hands the buffered lines, in order, to the Loki client, which batches them
// (BatchWait, BatchSize) and sends one batch at a time. A batch that fails with a 429, a
// 5xx or a connection error is retried with exponential backoff (MinBackoff doubling up
// to MaxBackoff, MaxRetries attempts) and then given up (Stats.Failed). A batch refused
// with another 4xx is given up at once. While the client retries it accepts no new lines,
// so the buffer fills, and Push drops further lines (Stats.Dropped) until there is room.
//
// # The client library
//
// The Loki client is github.com/grafana/loki-client-go (snappy-compressed protobuf
// pushes), which calls itself experimental. Only client.go knows it, behind the small
// pusher interface, so another client (a plain HTTP push, or a Loki-compatible endpoint
// such as VictoriaLogs') replaces one file. Importing the library registers its counters
// (promtail_*) on the Prometheus default registry; Stats reads them from there.
//
// # Memory bound
//
// What the sink holds at any time is bounded by
//
//   - the buffer: at most BufferLines lines and at most BufferBytes bytes of line text
//     and label values, plus a slot of about 110 bytes per line of BufferLines, allocated
//     up front;
//   - one line in hand (at most MaxLineBytes plus its label values);
//   - the client's batch: at most BatchSize bytes of line text plus up to about 200 bytes
//     per entry, and while it is sent its encoded copies (protobuf, then snappy), together
//     at most about twice the text.
//
// With the defaults that is about 8 MiB + 1.1 MiB + 64 KiB + 3 MiB, plus the per-entry
// part of the batch, which depends on the line length (1 MiB for lines of 200 bytes):
// about 13 MiB. Push copies each line and its label values into one allocation of their
// own, so a line that is a slice of a larger record does not keep that record alive.
package lokisink

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Line is one raw input line and the labels of the event it produced.
type Line struct {
	// Time is the line's timestamp in Loki; the zero time means now.
	Time time.Time
	// Text is the raw line. A trailing line break is removed, invalid UTF-8 becomes
	// U+FFFD, and a line longer than MaxLineBytes is cut there. An empty line is not sent.
	Text string
	// MTA, MTAHost, Outcome and Category become the labels mta, mta_host, outcome and
	// category. Surrounding white space is trimmed, control characters, invalid UTF-8
	// and U+FFFD become "_", and a value is cut to 255 bytes; an empty value leaves its
	// label out.
	MTA, MTAHost, Outcome, Category string
}

// Secret is a password. It prints, logs and marshals as "<secret>", so that a Config can
// be logged as it is.
type Secret string

const redacted = "<secret>"

// String returns "<secret>".
func (Secret) String() string { return redacted }

// GoString returns "<secret>", for %#v.
func (Secret) GoString() string { return redacted }

// LogValue returns "<secret>", for log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "<secret>", for JSON and YAML encoders.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// BasicAuth is HTTP basic authentication for the push endpoint (a reverse proxy in front
// of Loki, Grafana Cloud). The password comes from Password, from the file PasswordFile
// (read for every request, so a rotated secret is picked up), or, when both are empty,
// from BOUNCEHOUSE_LOKI_PASSWORD or the file named by BOUNCEHOUSE_LOKI_PASSWORD_FILE.
type BasicAuth struct {
	Username     string
	Password     Secret
	PasswordFile string
}

// Config says where to push and how much to hold back. Zero fields take the defaults.
type Config struct {
	// URL is the push endpoint, e.g. http://loki:3100/loki/api/v1/push. An address without
	// a path gets /loki/api/v1/push. Credentials go in BasicAuth, not in the URL.
	URL string
	// TenantID is sent as X-Scope-OrgID when set (multi-tenant Loki).
	TenantID string
	// BatchWait is how long a batch may wait for more lines before it is sent; default 1s.
	BatchWait time.Duration
	// BatchSize is the line bytes after which a batch is sent; default 1 MiB.
	BatchSize int
	// Timeout bounds one push request; default 10s.
	Timeout time.Duration
	// ExternalLabels are added to every line. Nil means job="bouncehouse"; an empty map
	// means none. Names must match [a-zA-Z_][a-zA-Z0-9_]*, must not start with "__" and
	// must not be one of the line labels; values must not be empty.
	ExternalLabels map[string]string
	// BasicAuth authenticates the pushes when its Username is set.
	BasicAuth BasicAuth

	// BufferLines is how many lines may wait for the client; default 10,000.
	BufferLines int
	// BufferBytes is how many bytes of text and label values may wait; default 8 MiB.
	BufferBytes int
	// MaxLineBytes is where a longer line is cut; default 64 KiB, below Loki's default
	// max_line_size (256 KB): Loki answers a push with a line over its limit with 400,
	// and the client then gives up the whole batch.
	MaxLineBytes int
	// MinBackoff is the first wait before a failed batch is sent again; default 500ms.
	MinBackoff time.Duration
	// MaxBackoff caps the doubling wait between attempts; default 30s.
	MaxBackoff time.Duration
	// MaxRetries is how many attempts a batch gets before it is given up; default 10.
	// With the defaults a failing batch is given up after 1.5 to 2.5 minutes of backoff
	// (jittered), plus the time its attempts took (at most Timeout each).
	MaxRetries int
	// StopTimeout is the longest Stop waits for the buffered lines to be sent; default 5s.
	StopTimeout time.Duration

	// Logger receives the client's warnings (failed attempts) and errors (batches given
	// up); default slog.Default().
	Logger *slog.Logger
}

// The defaults of Config.
const (
	DefaultBatchWait    = time.Second
	DefaultBatchSize    = 1 << 20
	DefaultTimeout      = 10 * time.Second
	DefaultBufferLines  = 10_000
	DefaultBufferBytes  = 8 << 20
	DefaultMaxLineBytes = 64 << 10
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultMaxRetries   = 10
	DefaultStopTimeout  = 5 * time.Second
	// DefaultPushPath is the path of Loki's push API, used when URL has none.
	DefaultPushPath = "/loki/api/v1/push"
)

// The environment variables that give the basic-auth password when the Config does not.
const (
	EnvPassword     = "BOUNCEHOUSE_LOKI_PASSWORD"
	EnvPasswordFile = "BOUNCEHOUSE_LOKI_PASSWORD_FILE"
)

func (c Config) withDefaults() Config {
	if c.BatchWait <= 0 {
		c.BatchWait = DefaultBatchWait
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ExternalLabels == nil {
		c.ExternalLabels = map[string]string{"job": "bouncehouse"}
	}
	if c.BufferLines <= 0 {
		c.BufferLines = DefaultBufferLines
	}
	if c.BufferBytes <= 0 {
		c.BufferBytes = DefaultBufferBytes
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// pushURL checks the endpoint and fills in the default path.
func pushURL(s string) (*url.URL, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("no Loki URL")
	}
	u, err := url.Parse(s)
	if err != nil {
		// The error quotes the URL; a URL with a password in it is refused below, but
		// one that does not parse is not echoed.
		return nil, errors.New("Loki URL does not parse")
	}
	if u.User != nil {
		return nil, errors.New("Loki URL carries credentials: put them in BasicAuth")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("Loki URL %q: want http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("Loki URL %q has no host", u.Redacted())
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = DefaultPushPath
	}
	return u, nil
}

// validTenant reports whether id is a Loki tenant ID: at most 150 of the characters
// Loki allows, which also keeps the X-Scope-OrgID header well formed.
func validTenant(id string) bool {
	if len(id) > 150 || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!-_.*'()", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// resolveAuth fills the password from the environment when the Config has none, and
// checks that a password file can be read.
func resolveAuth(a BasicAuth) (BasicAuth, error) {
	if a.Username == "" {
		if a.Password != "" || a.PasswordFile != "" {
			return a, errors.New("Loki basic auth has a password but no username")
		}
		return a, nil
	}
	if a.Password != "" && a.PasswordFile != "" {
		return a, errors.New("Loki basic auth: set Password or PasswordFile, not both")
	}
	if a.Password == "" && a.PasswordFile == "" {
		if p := os.Getenv(EnvPassword); p != "" {
			a.Password = Secret(p)
		} else if f := os.Getenv(EnvPasswordFile); f != "" {
			a.PasswordFile = f
		} else {
			return a, fmt.Errorf("Loki basic auth user %q has no password: set it in the config, %s or %s",
				a.Username, EnvPassword, EnvPasswordFile)
		}
	}
	if a.PasswordFile != "" {
		b, err := os.ReadFile(a.PasswordFile)
		if err != nil {
			return a, fmt.Errorf("Loki password file: %w", err)
		}
		if strings.TrimSpace(string(b)) == "" {
			return a, fmt.Errorf("Loki password file %s is empty", a.PasswordFile)
		}
	}
	return a, nil
}

// pusher is what the sink needs of a Loki client: the one place that knows the client
// library is lokiClient (client.go).
type pusher interface {
	// push adds a line to the next batch. It may block while a batch is being sent.
	push(labels labelKey, t time.Time, line string)
	// stop sends what is batched and ends the client.
	stop()
	// stats reports the client's counts since the sink was created.
	stats() clientStats
}

// clientStats are the counts the client keeps.
type clientStats struct {
	sent, failed, retries uint64
}

// item is one buffered line. text and the label values are slices of one allocation.
type item struct {
	t    time.Time
	text string
	key  labelKey
	size int64
}

// Sink ships lines to Loki. Its methods are safe for concurrent use.
type Sink struct {
	cfg    Config
	client pusher
	log    *slog.Logger

	// labelled is false when there are no external labels, so a line needs one of its own.
	labelled bool

	mu     sync.RWMutex // held for reading while a line is queued, for writing to close
	closed bool
	queue  chan item

	queuedBytes atomic.Int64
	abort       atomic.Bool // Stop gave up waiting: drop what is left
	done        chan struct{}
	stopOnce    sync.Once

	pushed, dropped, truncated atomic.Uint64
}

// New validates cfg, starts the Loki client and returns a Sink. It does not contact Loki:
// a Loki that is down shows in Stats and in the log.
func New(cfg Config) (*Sink, error) {
	cfg = cfg.withDefaults()
	u, err := pushURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.TenantID != "" && !validTenant(cfg.TenantID) {
		return nil, fmt.Errorf("Loki tenant ID %q: want at most 150 of a-z A-Z 0-9 ! - _ . * ' ( )", cfg.TenantID)
	}
	ext, err := externalLabels(cfg.ExternalLabels)
	if err != nil {
		return nil, err
	}
	if cfg.BasicAuth, err = resolveAuth(cfg.BasicAuth); err != nil {
		return nil, err
	}
	c, err := newLokiClient(cfg, u, ext)
	if err != nil {
		return nil, fmt.Errorf("Loki client: %w", err)
	}
	return newSink(cfg, c, len(ext) > 0), nil
}

func newSink(cfg Config, c pusher, hasExternal bool) *Sink {
	s := &Sink{
		cfg:    cfg,
		client: c,
		log:    cfg.Logger,
		queue:  make(chan item, cfg.BufferLines),
		done:   make(chan struct{}),

		labelled: hasExternal,
	}
	go s.forward()
	return s
}

// Push queues a line for Loki and returns at once. When the buffer is full, or the sink
// is stopped, the line is dropped and counted in Stats.Dropped.
func (s *Sink) Push(l Line) {
	text := strings.TrimRight(l.Text, "\r\n")
	if text == "" {
		return
	}
	s.pushed.Add(1)
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	if len(text) > s.cfg.MaxLineBytes {
		text = cutUTF8(text, s.cfg.MaxLineBytes)
		s.truncated.Add(1)
	}
	key := labelKey{
		mta:      sanitizeValue(l.MTA),
		host:     sanitizeValue(l.MTAHost),
		outcome:  sanitizeValue(l.Outcome),
		category: sanitizeValue(l.Category),
	}
	if key == (labelKey{}) && !s.labelled {
		// Loki answers a push with a stream without labels with 400, and the client
		// then gives up the whole batch.
		s.dropped.Add(1)
		return
	}
	size := int64(len(text) + len(key.mta) + len(key.host) + len(key.outcome) + len(key.category))
	if s.queuedBytes.Add(size) > int64(s.cfg.BufferBytes) {
		s.queuedBytes.Add(-size)
		s.dropped.Add(1)
		return
	}
	it := copyItem(l.Time, text, key, size)

	s.mu.RLock()
	ok := false
	if !s.closed {
		select {
		case s.queue <- it:
			ok = true
		default:
		}
	}
	s.mu.RUnlock()
	if !ok {
		s.queuedBytes.Add(-size)
		s.dropped.Add(1)
	}
}

// copyItem copies the text and label values into one new string, so the item holds
// nothing of the caller's memory.
func copyItem(t time.Time, text string, k labelKey, size int64) item {
	if t.IsZero() {
		t = time.Now()
	}
	var b strings.Builder
	b.Grow(int(size))
	for _, s := range [...]string{text, k.mta, k.host, k.outcome, k.category} {
		b.WriteString(s)
	}
	all := b.String()
	cut := func(n int) string {
		s := all[:n]
		all = all[n:]
		return s
	}
	it := item{t: t, size: size}
	it.text = cut(len(text))
	it.key.mta = cut(len(k.mta))
	it.key.host = cut(len(k.host))
	it.key.outcome = cut(len(k.outcome))
	it.key.category = cut(len(k.category))
	return it
}

// forward hands the buffered lines to the client, in order, until Stop closes the buffer.
func (s *Sink) forward() {
	defer close(s.done)
	for it := range s.queue {
		s.queuedBytes.Add(-it.size)
		if s.abort.Load() {
			s.dropped.Add(1)
			continue
		}
		s.client.push(it.key, it.t, it.text)
	}
	s.client.stop()
}

// Stop flushes: it sends the buffered lines and the client's open batch, and returns when
// they are sent or given up, or after StopTimeout. Lines still buffered then are dropped
// and counted; a batch the client is retrying at that moment keeps its goroutine until it
// is sent or given up (at most MaxRetries attempts). Push after Stop drops the line.
// Stop may be called more than once.
func (s *Sink) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.queue)
		s.mu.Unlock()

		timer := time.NewTimer(s.cfg.StopTimeout)
		defer timer.Stop()
		select {
		case <-s.done:
			return
		case <-timer.C:
		}
		s.abort.Store(true)
		n := 0
		for it := range s.queue { // the forwarder may take some of them too
			s.queuedBytes.Add(-it.size)
			s.dropped.Add(1)
			n++
		}
		s.log.Warn("loki: stop timed out, buffered lines dropped", "timeout", s.cfg.StopTimeout, "dropped", n)
	})
}

// Stats are the sink's counters, for metrics. Counts start at zero when the sink is made.
type Stats struct {
	// Pushed counts the non-empty lines given to Push, sent or not.
	Pushed uint64
	// Dropped counts the lines that never reached the client: the buffer was full, the
	// sink was stopped, Stop gave up waiting, or the line had no label at all.
	Dropped uint64
	// Truncated counts the lines cut to MaxLineBytes (they are sent).
	Truncated uint64
	// Queued is the number of lines in the buffer now.
	Queued int
	// Sent counts the lines Loki accepted.
	Sent uint64
	// Failed counts the lines of batches the client gave up: retries exhausted, or refused
	// with a 4xx other than 429. Loki may have stored some of the lines of a batch it
	// answered with 400 (one invalid line refuses the request, not the other lines).
	Failed uint64
	// Retries counts the failed push attempts that were retried.
	Retries uint64
}

// Stats returns the current counters. The client's counts (Sent, Failed, Retries) are read
// from the Prometheus default registry, where the client library keeps them per Loki host:
// two sinks pushing to the same host:port see each other's counts there.
func (s *Sink) Stats() Stats {
	c := s.client.stats()
	return Stats{
		Pushed:    s.pushed.Load(),
		Dropped:   s.dropped.Load(),
		Truncated: s.truncated.Load(),
		Queued:    len(s.queue),
		Sent:      c.sent,
		Failed:    c.failed,
		Retries:   c.retries,
	}
}
