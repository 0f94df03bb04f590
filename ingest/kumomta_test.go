package ingest

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// fmtFind returns the event for rcpt with the outcome, failing the test when there is none.
func fmtFind(t *testing.T, evs []Event, rcpt string, outcome Outcome) *Event {
	t.Helper()
	for i := range evs {
		if evs[i].Recipient == rcpt && evs[i].Outcome == outcome {
			return &evs[i]
		}
	}
	t.Fatalf("no %s event for %q in %d events", outcome, rcpt, len(evs))
	return nil
}

// fmtRun processes lines through one fresh Processor with format detection.
func fmtRun(t testing.TB, lines ...string) ([]Event, []error) {
	t.Helper()
	p := NewProcessor(classifier(t), testOptions())
	var evs []Event
	var errs []error
	for i, l := range lines {
		var err error
		if evs, err = p.Line(l, i+1, FormatAuto, evs); err != nil {
			errs = append(errs, err)
		}
	}
	return p.Flush(evs), errs
}

// TestKumoMTAGolden covers every record type, recipient arrays, null enhanced codes,
// internal failures, inbound rejections and unknown types.
func TestKumoMTAGolden(t *testing.T) {
	evs, errs, _ := processFile(t, filepath.Join("testdata", "kumomta.jsonl"), FormatAuto, testOptions())
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	golden(t, "kumomta.golden", evs)
}

// TestKumoMTABehaviour pins what a user would notice.
func TestKumoMTABehaviour(t *testing.T) {
	evs, _, _ := processFile(t, filepath.Join("testdata", "kumomta.jsonl"), FormatAuto, testOptions())
	if len(evs) != 10 {
		t.Errorf("got %d events, want 10 (Reception, Delayed, XferOut and unknown types give none)", len(evs))
	}
	d := fmtFind(t, evs, "ann@gmail.example", Delivered)
	if d.SendingIP != "203.0.113.10" || d.Pool != "pool-news" || d.JobID != "nov-promo" || d.Headers["tenant"] != "acme" ||
		d.RemoteHost != "gmail-smtp-in.l.google.example" || d.MessageID != "20261103.1@acme.example" ||
		d.EventTime.Format("15:04:05.000") != "08:15:02.125" {
		t.Errorf("delivery: %+v", *d)
	}
	// A recipient array fans out, one event per recipient with the same response.
	for _, rc := range []string{"dora@mail.example.ru", "dan@mail.example.ru"} {
		b := fmtFind(t, evs, rc, Bounced)
		if b.Response != "550 5.1.1 <dora@mail.example.ru>: Recipient address rejected: User unknown in virtual mailbox table" ||
			b.SMTPPhase != "rcpt" || b.Category != "user_unknown" || b.VendorClass != "InvalidRecipient" ||
			b.SendingIP != "2001:db8::12" {
			t.Errorf("bounce fan-out %s: %+v", rc, *b)
		}
	}
	tf := fmtFind(t, evs, "carl@yahoo.example", Deferred)
	if !strings.HasPrefix(tf.Response, "421 4.7.0 [TSS04]") || tf.SMTPPhase != "data" {
		t.Errorf("transient failure: %+v", *tf)
	}
	in := fmtFind(t, evs, "ed@example.net", Deferred)
	if !strings.Contains(in.Response, "KumoMTA internal: failed to connect") {
		t.Errorf("internal failure must keep its text: %+v", *in)
	}
	fmtFind(t, evs, "ed@example.net", Expired)
	rj := fmtFind(t, evs, "gina@acme.example", Rejected)
	if rj.Direction != Inbound || rj.RemoteIP != "192.0.2.201" {
		t.Errorf("rejection: %+v", *rj)
	}
	if c := fmtFind(t, evs, "jo@hotmail.example", Complaint); c.VendorClass != "abuse" {
		t.Errorf("feedback: %+v", *c)
	}
	fmtFind(t, evs, "hal@example.com", Bounced)
	fmtFind(t, evs, "ida@example.com", Bounced)
}

// TestKumoMTABadRecords: a claimed record that does not decode is an error, not a panic;
// foreign JSON is not claimed.
func TestKumoMTABadRecords(t *testing.T) {
	_, errs := fmtRun(t, `{"type":"Bounce","response":{"code":"x"},"recipient":"a@b.example"}`)
	if len(errs) != 1 || errors.Is(errs[0], ErrUnrecognized) {
		t.Errorf("undecodable record: %v", errs)
	}
	_, errs = fmtRun(t, `{"type":"bounce","response":"x"}`, `{"type":"Bounce"}`)
	for _, err := range errs {
		if !errors.Is(err, ErrUnrecognized) {
			t.Errorf("want unrecognized, got %v", err)
		}
	}
	if len(errs) != 2 {
		t.Errorf("got %d errors, want 2", len(errs))
	}
}

// FuzzKumoMTA: no panic, bounded output.
func FuzzKumoMTA(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "kumomta.jsonl"))
	f.Add(`{"type":"Bounce","recipient":[],"response":null}`)
	f.Add(`{"type":"OOB","recipient":["a","b"],"response":{"code":5,"enhanced_code":{"class":9}}}`)
	c := classifier(f)
	f.Fuzz(func(t *testing.T, line string) {
		fmtFuzzOne(t, c, line, FormatKumoMTA)
	})
}
