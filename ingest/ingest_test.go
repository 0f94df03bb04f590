package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/classify"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	clsOnce sync.Once
	cls     *classify.Classifier
	clsErr  error
)

func classifier(t testing.TB) *classify.Classifier {
	t.Helper()
	clsOnce.Do(func() { cls, clsErr = classify.Default() })
	if clsErr != nil {
		t.Fatal(clsErr)
	}
	return cls
}

// testOptions pins the clock so that year-less syslog dates come out the same every run.
func testOptions() Options {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	return Options{Frame: FrameOptions{Now: func() time.Time { return now }}}
}

// processFile runs a whole file through a fresh Processor.
func processFile(t testing.TB, path string, format Format, opts Options) (evs []Event, errs []error, lines int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := NewProcessor(classifier(t), opts)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		lines++
		var err error
		evs, err = p.Line(sc.Text(), n, format, evs)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return p.Flush(evs), errs, lines
}

func golden(t *testing.T, name string, evs []Event) {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, ev := range evs {
		if err := enc.Encode(ev); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (go test -update creates it): %v", path, err)
	}
	if b.String() != string(want) {
		t.Errorf("events differ from %s (go test ./ingest -update rewrites it); got:\n%s", path, b.String())
	}
}

// TestPostfixGolden covers deliveries, bounces, deferrals, the expiry fan-out, NDR linking,
// multi-instance names, long queue ids, out-of-order from=, and inbound rejects.
func TestPostfixGolden(t *testing.T) {
	evs, errs, _ := processFile(t, filepath.Join("testdata", "postfix.log"), FormatAuto, testOptions())
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	golden(t, "postfix.golden", evs)
}

// TestEximGolden covers arrivals, deliveries, failures, deferrals, the retry-time skip,
// expiry and rejectlog refusals.
func TestEximGolden(t *testing.T) {
	evs, errs, _ := processFile(t, filepath.Join("testdata", "exim.log"), FormatAuto, testOptions())
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	golden(t, "exim.golden", evs)
}

// TestPostfixBehaviour pins what a user would notice, independently of the golden file.
func TestPostfixBehaviour(t *testing.T) {
	evs, _, _ := processFile(t, filepath.Join("testdata", "postfix.log"), FormatAuto, testOptions())
	find := func(rcpt string, outcome Outcome) *Event {
		for i := range evs {
			if evs[i].Recipient == rcpt && evs[i].Outcome == outcome {
				return &evs[i]
			}
		}
		t.Fatalf("no %s event for %s", outcome, rcpt)
		return nil
	}
	b := find("bob@outlook.example", Bounced)
	if b.Sender != "news@acme.example" || b.Customer != "acme.example" || b.Category != "ip_blocklisted" ||
		b.MessageID != "20261103091502.1@acme.example" || b.RemoteIP != "52.101.68.3" || b.SMTPPhase != "mail" {
		t.Errorf("bounce: %+v", *b)
	}
	ex := find("carl@yahoo.example", Expired)
	if ex.Category != "message_expired" || ex.Sender != "news@acme.example" {
		t.Errorf("expiry fan-out: %+v", *ex)
	}
	ndr := find("news@acme.example", Bounced)
	if !ndr.Notification {
		t.Errorf("the NDR's own bounce must be marked as a notification: %+v", *ndr)
	}
	mi := find("dora@mail.example.ru", Bounced)
	if mi.Sender != "billing@acme.example" || mi.SendingIP != "203.0.113.5" || mi.MTAInstance != "postfix-203.0.113.5" {
		t.Errorf("out-of-order from= or multi-instance IP: %+v", *mi)
	}
	rj := find("frank@acme.example", Rejected)
	if rj.Direction != Inbound || rj.RemoteIP != "192.0.2.201" || rj.Category != "ip_blocklisted" {
		t.Errorf("postscreen reject: %+v", *rj)
	}
	if ev := find("gina@acme.example", Rejected); ev.EnhancedStatus != "5.7.1" || ev.Category != "content_spam" {
		t.Errorf("milter reject: %+v", *ev)
	}
}

// TestStateSurvivesRestart saves the correlation state half-way and restores it in a new
// Processor: the sender of a deferred message must still be known.
func TestStateSurvivesRestart(t *testing.T) {
	opts := testOptions()
	p1 := NewProcessor(classifier(t), opts)
	var evs []Event
	evs, _ = p1.Line("Nov  3 09:15:02 h postfix/qmgr[1]: ABCDEF1234: from=<a@acme.example>, size=1, nrcpt=1 (queue active)", 1, FormatAuto, evs)
	var buf strings.Builder
	if err := p1.State().Save(&buf); err != nil {
		t.Fatal(err)
	}
	p2 := NewProcessor(classifier(t), opts)
	if err := p2.State().Restore(strings.NewReader(buf.String())); err != nil {
		t.Fatal(err)
	}
	evs, _ = p2.Line("Nov  3 10:15:02 h postfix/smtp[2]: ABCDEF1234: to=<b@example.net>, relay=none, delay=3600, delays=3600/0/0/0, dsn=4.4.1, status=deferred (connect to mx.example.net[192.0.2.1]:25: Connection refused)", 2, FormatAuto, evs)
	if len(evs) != 1 || evs[0].Sender != "a@acme.example" {
		t.Fatalf("after restore: %+v", evs)
	}
}

// TestQueueIDReuse checks that a removed queue id starts afresh.
func TestQueueIDReuse(t *testing.T) {
	p := NewProcessor(classifier(t), testOptions())
	var evs []Event
	for i, l := range []string{
		"Nov  3 09:00:00 h postfix/qmgr[1]: 1A2B3C4D5E: from=<first@one.example>, size=1, nrcpt=1 (queue active)",
		"Nov  3 09:00:01 h postfix/smtp[2]: 1A2B3C4D5E: to=<x@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
		"Nov  3 09:00:02 h postfix/qmgr[1]: 1A2B3C4D5E: removed",
		"Nov  3 09:30:00 h postfix/qmgr[1]: 1A2B3C4D5E: from=<second@two.example>, size=1, nrcpt=1 (queue active)",
		"Nov  3 09:30:01 h postfix/smtp[2]: 1A2B3C4D5E: to=<y@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command))",
	} {
		evs, _ = p.Line(l, i+1, FormatAuto, evs)
	}
	last := evs[len(evs)-1]
	if last.Sender != "second@two.example" || last.Category != "user_unknown" {
		t.Fatalf("reused queue id: %+v", last)
	}
}

// TestStateRestartAtEveryLine replays each stateful format's golden log twice: once in one
// Processor, and once stopped after every line, its state saved, and resumed in a new
// Processor from the saved state. Both runs must give the same events: what a parser keeps
// (Postfix and Sendmail queue entries and Sendmail's sending IP, OpenSMTPD sessions, Haraka
// items) survives a restart wherever it happens.
func TestStateRestartAtEveryLine(t *testing.T) {
	for _, file := range []string{"postfix.log", "sendmail.log", "opensmtpd.log", "haraka.log", "exim.log", "exchange.log", "powermta.csv"} {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
			run := func(p *Processor, from, to int, evs []Event) []Event {
				for i := from; i < to; i++ {
					evs, _ = p.Line(lines[i], i+1, FormatAuto, evs)
				}
				return evs
			}
			whole := NewProcessor(classifier(t), testOptions())
			want := whole.Flush(run(whole, 0, len(lines), nil))
			for cut := 1; cut < len(lines); cut++ {
				p1 := NewProcessor(classifier(t), testOptions())
				got := run(p1, 0, cut, nil)
				var buf bytes.Buffer
				if err := p1.State().Save(&buf); err != nil {
					t.Fatal(err)
				}
				p2 := NewProcessor(classifier(t), testOptions())
				if err := p2.State().Restore(&buf); err != nil {
					t.Fatal(err)
				}
				got = p2.Flush(run(p2, cut, len(lines), got))
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("restart after line %d: events differ\n got %d: %+v\nwant %d: %+v", cut, len(got), got, len(want), want)
				}
			}
		})
	}
}

// TestEximThroughSyslog: Exim's own timestamp inside a syslog message (syslog_timestamp, the
// default) does not hide the line.
func TestEximThroughSyslog(t *testing.T) {
	p := NewProcessor(classifier(t), testOptions())
	var evs []Event
	for i, l := range []string{
		"Nov  3 09:20:00 mta2 exim[4711]: 2026-11-03 09:20:00 1vXyZa-000000001Ab-2cDe <= news@acme.example H=app1.example.net [192.0.2.10] P=esmtpa S=2041 id=a@acme.example",
		"Nov  3 09:20:03 mta2 exim[4712]: 2026-11-03 09:20:03.412 +0100 [4712] 1vXyZa-000000001Ab-2cDe ** bob@example.org R=dnslookup T=remote_smtp H=mx.example.org [203.0.113.20]: SMTP error from remote mail server after RCPT TO:<bob@example.org>: 550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown",
	} {
		var err error
		evs, err = p.Line(l, i+1, FormatAuto, evs)
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(evs) != 1 || evs[0].Sender != "news@acme.example" || evs[0].Category != "user_unknown" || evs[0].MTAHost != "mta2" {
		t.Fatalf("events: %+v", evs)
	}
}
