package ingest

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestHarakaGolden covers delivered lines with per-recipient RCPT refusals, temporary
// failures, bounces after DATA with a multi-line reply, bounces without protocol lines,
// timestamped and syslog framings.
func TestHarakaGolden(t *testing.T) {
	evs, errs, _ := processFile(t, filepath.Join("testdata", "haraka.log"), FormatAuto, testOptions())
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	golden(t, "haraka.golden", evs)
}

// TestHarakaBehaviour pins what a user would notice, independently of the golden file.
func TestHarakaBehaviour(t *testing.T) {
	evs, _, _ := processFile(t, filepath.Join("testdata", "haraka.log"), FormatAuto, testOptions())
	ann := findEvent(t, evs, "ann@mail.example.net", Delivered)
	ben := findEvent(t, evs, "ben@mail.example.net", Bounced)
	if ann.Line != ben.Line || ann.Sender != "news@acme.example" || ann.RemoteIP != "192.0.2.10" ||
		ann.RemoteHost != "mx.mail.example.net" || !strings.HasPrefix(ann.QueueID, "0F1E2D3C-") {
		t.Errorf("delivered: %+v", *ann)
	}
	if ben.Category != "user_unknown" || ben.SMTPPhase != "rcpt" || ben.SMTPCode != 550 {
		t.Errorf("recipient refused at RCPT: %+v", *ben)
	}
	tf := findEvent(t, evs, "", Deferred)
	if tf.SendingIP != "198.51.100.30" || tf.RemoteIP != "192.0.2.77" || tf.RemoteHost != "mx.slow.example" ||
		tf.Response != "Tried all MXs" || tf.MTAHost != "" || tf.EventTime.IsZero() {
		t.Errorf("temp failure: %+v", *tf)
	}
	cleo := findEvent(t, evs, "cleo@other.example", Bounced)
	if cleo.Sender != "billing@acme.example" || cleo.RemoteIP != "2001:db8::99" || cleo.Category != "content_spam" {
		t.Errorf("bounce after DATA: %+v", *cleo)
	}
	var nullMX *Event
	for i := range evs {
		if evs[i].MTAHost == "out2" && evs[i].Outcome == Bounced {
			nullMX = &evs[i]
		}
	}
	if nullMX == nil || !strings.Contains(nullMX.Response, "NULL MX") {
		t.Fatalf("syslog-framed bounce without recipients: %+v", nullMX)
	}
	var quoted *Event
	for i := range evs {
		if evs[i].RecipientDomain == "partner.example" {
			quoted = &evs[i]
		}
	}
	if quoted == nil || quoted.Outcome != Delivered || quoted.RemoteHost != "in.partner.example" || quoted.RemoteIP != "203.0.113.40" {
		t.Errorf("delivered with quoted values: %+v", quoted)
	}
}

// TestHarakaCorpus reports the share of the corpus's Haraka failure lines that became
// failure events.
func TestHarakaCorpus(t *testing.T) {
	corpusShare(t, func(line string) bool {
		return containsAny(line, "] Bouncing mail: ", "] bouncing mail: ", "] Temp failing ")
	}, "haraka-outbound.log")
}

// FuzzHaraka: the Haraka parser never panics, alone or after realistic records.
func FuzzHaraka(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "haraka.log"))
	id := "[0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0.1.1] [outbound] "
	for _, s := range []string{id + "S: 5", id + "C: RCPT TO:", id + "delivered response=\"", id + "Temp failing  seconds: ",
		id + "Attempting delivery for mx: [", "[INFO] [-] [core] [outbound] x", id + "x - Local (", "[X] [", "[INFO] ["} {
		f.Add(s)
	}
	prefix := testdataLines(f, "haraka.log")[:12]
	f.Fuzz(func(t *testing.T, line string) {
		fuzzFormat(t, line, prefix, FormatAuto, FormatHaraka)
		fuzzFormat(t, "[PROTOCOL] "+id+line, prefix, FormatAuto)
	})
}
