package ingest

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestExchangeGolden covers the 30- and 26-column layouts, parallel recipient lists, DSN
// rows, deferrals and queue expiry.
func TestExchangeGolden(t *testing.T) {
	evs, errs, _ := processFile(t, filepath.Join("testdata", "exchange.log"), FormatAuto, testOptions())
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	golden(t, "exchange.golden", evs)
}

// TestExchangeBehaviour pins what a user would notice.
func TestExchangeBehaviour(t *testing.T) {
	evs, _, _ := processFile(t, filepath.Join("testdata", "exchange.log"), FormatAuto, testOptions())
	if len(evs) != 6 {
		t.Errorf("got %d events, want 6 (DSN and RECEIVE rows give none)", len(evs))
	}
	s := fmtFind(t, evs, "ann@gmail.example", Delivered)
	if s.RemoteHost != "gmail-smtp-in.l.google.example" || s.RemoteIP != "198.51.100.27" || s.Pool != "Outbound to Internet" ||
		s.MessageID != "20261103.1@acme.example" || s.MTAHost != "EXCH01" {
		t.Errorf("send: %+v", *s)
	}
	// The parallel lists are zipped; the first status holds a ";" of its own.
	bob := fmtFind(t, evs, "bob@outlook.example", Bounced)
	cara := fmtFind(t, evs, "cara@outlook.example", Bounced)
	if bob.Response != "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found" || bob.Category != "user_unknown" {
		t.Errorf("first recipient: %+v", *bob)
	}
	if !strings.HasPrefix(cara.Response, "550 5.7.1 Service unavailable; Client host [203.0.113.10]") {
		t.Errorf("second recipient: %+v", *cara)
	}
	if d := fmtFind(t, evs, "carl@yahoo.example", Deferred); !strings.Contains(d.Response, "Attempted failover") {
		t.Errorf("defer: %+v", *d)
	}
	fmtFind(t, evs, "carl@yahoo.example", Expired)
	if old := fmtFind(t, evs, "dora@mail.example.ru", Bounced); old.Sender != "billing@acme.example" || old.QueueID != "998877" {
		t.Errorf("26-column layout: %+v", *old)
	}
}

// TestSplitRecipientStatus: split only before a reply code.
func TestSplitRecipientStatus(t *testing.T) {
	f := func(in string, want ...string) {
		t.Helper()
		got := splitRecipientStatus(in)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("splitRecipientStatus(%q) = %q, want %q", in, got, want)
		}
	}
	f("")
	f("To;Cc", "To", "Cc")
	f("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found")
	f("550 4.4.7 QUEUE.Expired;message expired;250 2.0.0 OK", "550 4.4.7 QUEUE.Expired;message expired", "250 2.0.0 OK")
}

// FuzzExchange: no panic, bounded output, after a #Fields: line and without one.
func FuzzExchange(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "exchange.log"))
	c := classifier(f)
	f.Fuzz(func(t *testing.T, line string) {
		fmtFuzzOne(t, c, line, FormatExchange)
		p := NewProcessor(c, testOptions())
		evs, _ := p.Line("#Fields: date-time,event-id,recipient-address,recipient-status,sender-address", 1, FormatExchange, nil)
		evs, _ = p.Line(line, 2, FormatExchange, evs)
		fmtCheckFuzz(t, p.Flush(evs), line)
	})
}
