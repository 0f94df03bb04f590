package ingest

import (
	"encoding/csv"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bouncehouse/bouncehouse/classify"
)

// TestPowerMTAGolden covers a BOM, CRLF, quoted fields with commas, every record type, a
// header change mid-stream, a "#type," header and a row Frame would misread as syslog.
func TestPowerMTAGolden(t *testing.T) {
	evs, errs, _ := processFile(t, filepath.Join("testdata", "powermta.csv"), FormatAuto, testOptions())
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	golden(t, "powermta.golden", evs)
}

// TestPowerMTABehaviour pins what a user would notice.
func TestPowerMTABehaviour(t *testing.T) {
	evs, _, _ := processFile(t, filepath.Join("testdata", "powermta.csv"), FormatAuto, testOptions())
	d := fmtFind(t, evs, "ann@gmail.example", Delivered) // dsnAction=relayed
	if d.Pool != "pool-news" || d.SendingIP != "203.0.113.10" || d.JobID != "camp-2026-11" ||
		d.Headers["x-customer-id"] != "cust-42" || d.MessageID != "20261103.1@acme.example" || d.SMTPCode != 250 {
		t.Errorf("delivery: %+v", *d)
	}
	b := fmtFind(t, evs, "bob@outlook.example", Bounced)
	if !strings.HasPrefix(b.Response, "550 5.7.1 Service unavailable, Client host") || b.EnhancedStatus != "5.7.1" ||
		b.RemoteHost != "outlook-com.olc.protection.outlook.example" || b.RemoteIP != "52.101.68.3" ||
		b.VendorClass != "policy-related" || b.Category != "ip_blocklisted" {
		t.Errorf("bounce: %+v", *b)
	}
	if n := countOutcome(evs, "carl@yahoo.example", Deferred); n != 2 {
		t.Errorf("t and tq rows: %d deferrals, want 2", n)
	}
	if ex := fmtFind(t, evs, "carl@yahoo.example", Expired); ex.Category != "message_expired" || ex.Pool != "vmta-a2" {
		t.Errorf("expiry: %+v", *ex)
	}
	// After the second header the columns are reordered: rcpt comes before orig.
	dora := fmtFind(t, evs, "dora@mail.example.ru", Bounced)
	if dora.Sender != "billing@acme.example" || dora.EventTime.Unix() != 1762161302 || dora.Pool != "vmta-b1" ||
		dora.Category != "user_unknown" {
		t.Errorf("reordered columns: %+v", *dora)
	}
	fmtFind(t, evs, "erin@example.net", Bounced)  // rb
	fmtFind(t, evs, "fred@example.org", Deferred) // rs, delayed
	fmtFind(t, evs, "gina@hotmail.example", Complaint)
	if ivy := fmtFind(t, evs, "ivy@example.com", Bounced); ivy.RemoteIP != "192.0.2.50" ||
		ivy.Response != "550 <ivy@example.com>: Recipient address rejected: User unknown" {
		t.Errorf("row with a syslog-like \"<addr>: \" after its first space: %+v", *ivy)
	}
	if h := fmtFind(t, evs, "hank@example.com", Bounced); h.EnhancedStatus != "5.1.2" || h.Sender != "billing@acme.example" {
		t.Errorf("#type, header: %+v", *h)
	}
	for _, ev := range evs {
		if ev.Recipient == "ann@gmail.example" && ev.Outcome != Delivered {
			t.Errorf("r (received) rows give no event: %+v", ev)
		}
	}
}

func countOutcome(evs []Event, rcpt string, o Outcome) int {
	n := 0
	for _, ev := range evs {
		if ev.Recipient == rcpt && ev.Outcome == o {
			n++
		}
	}
	return n
}

// TestPowerMTANoHeader: data rows before any header are an error, not guesses.
func TestPowerMTANoHeader(t *testing.T) {
	evs, errs := fmtRun(t, "b,1762250000,a@acme.example,b@example.com,,bad-domain")
	if len(evs) != 0 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "header") {
		t.Errorf("events %v, errors %v", evs, errs)
	}
}

// FuzzPowerMTA: no panic, bounded output, after a header and without one.
func FuzzPowerMTA(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "powermta.csv"))
	f.Add(`b,"x""y",,"`)
	c := classifier(f)
	f.Fuzz(func(t *testing.T, line string) {
		fmtFuzzOne(t, c, line, FormatPowerMTA)
		p := NewProcessor(c, testOptions())
		evs, _ := p.Line("type,timeLogged,orig,rcpt,dsnStatus,dsnDiag,dsnMta,header_x", 1, FormatPowerMTA, nil)
		evs, _ = p.Line(line, 2, FormatPowerMTA, evs)
		fmtCheckFuzz(t, p.Flush(evs), line)
	})
}

// fmtFuzzOne runs one line forced to a format and auto-detected.
func fmtFuzzOne(t *testing.T, c *classify.Classifier, line string, format Format) {
	for _, f := range []Format{FormatAuto, format} {
		p := NewProcessor(c, testOptions())
		evs, _ := p.Line(line, 1, f, nil)
		evs, _ = p.Line(line, 2, f, evs)
		fmtCheckFuzz(t, p.Flush(evs), line)
	}
}

// fmtCheckFuzz: every failure event is classified and a line cannot yield more events
// than it has bytes.
func fmtCheckFuzz(t *testing.T, evs []Event, line string) {
	t.Helper()
	if len(evs) > 2*(len(line)+1) {
		t.Fatalf("%d events from %d bytes", len(evs), len(line))
	}
	for _, ev := range evs {
		if ev.Outcome.IsFailure() && ev.Category == "" {
			t.Fatalf("failure event without category from %q", line)
		}
	}
}

// TestPowerMTAHostsInterleaved: two PowerMTA hosts with different column orders share one
// stream (a Kafka partition); with the host given (the Kafka key) each row reads with its
// own host's header.
func TestPowerMTAHostsInterleaved(t *testing.T) {
	p := NewProcessor(classifier(t), testOptions())
	lines := []struct{ host, line string }{
		{"pmta1", "type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,vmta"},
		{"pmta2", "type,rcpt,orig,timeLogged,dsnStatus,dsnAction,dsnDiag,dsnMta,vmta"},
		{"pmta1", "b,2026-11-03 09:15:05+0000,news@acme.example,bob@outlook.example,failed,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 User unknown,mx.outlook.example (192.0.2.5),vmta-a"},
		{"pmta2", "b,cleo@yahoo.example,billing@globex.example,2026-11-03 09:15:06+0000,5.7.1 (delivery not authorized),failed,smtp;554 5.7.9 Message not accepted for policy reasons,mx.yahoo.example (192.0.2.6),vmta-b"},
	}
	var evs []Event
	for i, l := range lines {
		var err error
		evs, err = p.HostLine(l.host, l.line, i+1, FormatAuto, evs)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	if len(evs) != 2 {
		t.Fatalf("%d events: %+v", len(evs), evs)
	}
	if evs[0].Recipient != "bob@outlook.example" || evs[0].MTAHost != "pmta1" || evs[0].Category != "user_unknown" {
		t.Errorf("pmta1 row: %+v", evs[0])
	}
	if evs[1].Recipient != "cleo@yahoo.example" || evs[1].Sender != "billing@globex.example" || evs[1].MTAHost != "pmta2" || evs[1].Category != "policy_rejected" {
		t.Errorf("pmta2 row: %+v", evs[1])
	}
}

// FuzzSplitCSV checks the one-pass CSV splitter against encoding/csv's lenient reading:
// whatever the fast path accepts, it must split as encoding/csv does.
func FuzzSplitCSV(f *testing.F) {
	for _, s := range []string{
		`d,2026-11-03 08:00:01+0000,bounce@brightcart.example,ann@gmail.example,"smtp;550 5.1.1 The email account, that you tried to reach, does not exist",hard`,
		`a,"b ""quoted"" c",,d`, `"",""`, `x,`, `,`, `"a"b,c`, `a"b,c`, `"open,field`, "a,b\r", `"a""`, `""""`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		got, ok := splitCSVFast(line)
		if !ok {
			return
		}
		r := csv.NewReader(strings.NewReader(line))
		r.FieldsPerRecord, r.LazyQuotes = -1, true
		want, err := r.Read()
		if err != nil {
			t.Fatalf("fast path took %q, encoding/csv fails: %v", line, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q: fast %q, encoding/csv %q", line, got, want)
		}
	})
}
