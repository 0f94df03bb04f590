package ingest

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestESPGolden covers SES (bare, SNS-wrapped, event publishing), SendGrid arrays and
// single events, Mailgun (wrapped and bare event-data), SparkPost arrays and Postmark.
func TestESPGolden(t *testing.T) {
	evs, errs, _ := processFile(t, filepath.Join("testdata", "esp.jsonl"), FormatAuto, testOptions())
	// The last line is JSON of no known provider.
	if len(errs) != 1 || !errors.Is(errs[0], ErrUnrecognized) || !strings.HasPrefix(errs[0].Error(), "line 11:") {
		t.Errorf("errors: %v", errs)
	}
	golden(t, "esp.golden", evs)
}

// TestESPBehaviour pins what a user would notice.
func TestESPBehaviour(t *testing.T) {
	evs, _, _ := processFile(t, filepath.Join("testdata", "esp.jsonl"), FormatAuto, testOptions())
	mta := func(ev *Event, want Format) {
		t.Helper()
		if ev.MTA != string(want) {
			t.Errorf("%s: mta %q, want %q", ev.Recipient, ev.MTA, want)
		}
	}
	// SES: one notification fans out; sourceIp (the submitter) is not the sending IP.
	for _, rc := range []string{"ann@example.com", "bea@example.com"} {
		e := fmtFind(t, evs, rc, Bounced)
		mta(e, FormatSES)
		if e.SendingIP != "" || e.EnhancedStatus != "5.1.1" || e.VendorClass != "Permanent/General" ||
			e.Category != "user_unknown" || e.MessageID != "0100019a-aaaa-bbbb-cccc-000000000001-000000" ||
			!strings.HasPrefix(e.Response, "550 5.1.1 <") {
			t.Errorf("ses bounce %s: %+v", rc, *e)
		}
	}
	// SNS envelope unwrapped; Transient is a deferral.
	if e := fmtFind(t, evs, "cid@example.org", Deferred); e.VendorClass != "Transient/MailboxFull" || e.Sender != "news@acme.example" {
		t.Errorf("sns-wrapped ses: %+v", *e)
	}
	mta(fmtFind(t, evs, "dee@hotmail.example", Complaint), FormatSES)
	// SendGrid array: two events of interest, the open is ignored.
	eve := fmtFind(t, evs, "eve@example.com", Bounced)
	mta(eve, FormatSendGrid)
	if eve.SendingIP != "167.89.0.10" || eve.EnhancedStatus != "5.7.1" || eve.VendorClass != "blocked" || eve.Line != 4 {
		t.Errorf("sendgrid blocked: %+v", *eve)
	}
	if fox := fmtFind(t, evs, "fox@example.com", Deferred); fox.SendingIP != "167.89.0.11" || fox.Line != 4 {
		t.Errorf("sendgrid deferred: %+v", *fox)
	}
	mta(fmtFind(t, evs, "hal@example.com", Bounced), FormatSendGrid)
	ida := fmtFind(t, evs, "ida@example.net", Bounced)
	mta(ida, FormatMailgun)
	if !strings.HasPrefix(ida.Response, "550 5.1.1 The email account that you tried to reach does not exist. 5.1.1 Please") ||
		ida.SendingIP != "198.61.254.10" || ida.RemoteHost != "mx.example.net" || ida.Category != "user_unknown" {
		t.Errorf("mailgun failed: %+v", *ida)
	}
	if jay := fmtFind(t, evs, "jay@example.org", Deferred); jay.EnhancedStatus != "4.2.2" {
		t.Errorf("mailgun enhanced code in code: %+v", *jay)
	}
	kay := fmtFind(t, evs, "kay@example.com", Bounced)
	mta(kay, FormatSparkPost)
	if kay.VendorClass != "10" || kay.Pool != "shared-pool" || kay.SendingIP != "192.0.2.70" || kay.JobID != "nov-promo" {
		t.Errorf("sparkpost bounce: %+v", *kay)
	}
	fmtFind(t, evs, "lou@nomx.example", Deferred)
	fmtFind(t, evs, "max@example.com", AutoReply)
	ned := fmtFind(t, evs, "ned@example.com", Bounced)
	mta(ned, FormatPostmark)
	if ned.Response != "550 5.1.1 The email account that you tried to reach does not exist." || ned.VendorClass != "HardBounce" {
		t.Errorf("postmark: %+v", *ned)
	}
	for _, ev := range evs {
		if ev.Recipient == "oli@example.com" || ev.Recipient == "gus@example.com" {
			t.Errorf("unsubscribe and open records give no event: %+v", ev)
		}
	}
}

// TestESPDetection: each provider claims its own records and no other format's.
func TestESPDetection(t *testing.T) {
	f := func(line string, want Format) {
		t.Helper()
		rec, err := Frame(line, nil)
		if err != nil {
			t.Fatalf("frame %q: %v", line, err)
		}
		if got := Detect(&rec); got != want {
			t.Errorf("Detect(%q) = %q, want %q", line, got, want)
		}
	}
	f(`{"notificationType":"Bounce","mail":{},"bounce":{}}`, FormatSES)
	f(`{"Type":"Notification","Message":"{\"eventType\":\"Bounce\",\"mail\":{}}"}`, FormatSES)
	f(`{"Type":"Notification","Message":"{\"other\":1}"}`, FormatUnknown)
	f(`[{"event":"bounce","email":"a@b.example","sg_event_id":"x"}]`, FormatSendGrid)
	f(`{"event-data":{"event":"failed"}}`, FormatMailgun)
	f(`{"event":"bounced","recipient":"a@b.example","code":"550"}`, FormatMailgun)
	f(`[{"msys":{"message_event":{"type":"bounce"}}}]`, FormatSparkPost)
	f(`{"RecordType":"Bounce","Type":"HardBounce"}`, FormatPostmark)
	f(`{"type":"Bounce","response":{"code":550}}`, FormatKumoMTA)
	f(`Nov  3 09:15:02 h postfix/smtp[1]: ABCDE12345: to=<a@b.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)`, FormatPostfix)
	f(`[1,2,3]`, FormatUnknown)
	f(`{"type":"bounce"}`, FormatUnknown)
}

// FuzzESP: no panic, bounded output, for every provider.
func FuzzESP(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "esp.jsonl"))
	f.Add(`[{"msys":{"message_event":null}},{"RecordType":1}]`)
	f.Add(`{"Type":"Notification","Message":"{\"notificationType\":\"Bounce\",\"mail\":{},\"bounce\":{\"bouncedRecipients\":[{},{}]}}"}`)
	c := classifier(f)
	f.Fuzz(func(t *testing.T, line string) {
		p := NewProcessor(c, testOptions())
		var evs []Event
		for i, format := range []Format{FormatAuto, FormatSES, FormatSendGrid, FormatMailgun, FormatSparkPost, FormatPostmark} {
			evs, _ = p.Line(line, i+1, format, evs)
		}
		fmtCheckFuzz(t, p.Flush(evs), line+line+line+line+line+line)
	})
}
