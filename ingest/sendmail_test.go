package ingest

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSendmailGolden covers sender and recipient lines, multi-recipient splitting, the
// relay= forms, the sending IP, DSN links, expiry, MSP hand-off, inbound refusals and the
// syslog framings Sendmail is seen in.
func TestSendmailGolden(t *testing.T) {
	evs, errs, _ := processFile(t, filepath.Join("testdata", "sendmail.log"), FormatAuto, testOptions())
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	golden(t, "sendmail.golden", evs)
}

// TestSendmailBehaviour pins what a user would notice, independently of the golden file.
func TestSendmailBehaviour(t *testing.T) {
	evs, _, _ := processFile(t, filepath.Join("testdata", "sendmail.log"), FormatAuto, testOptions())

	// One to= line with two recipients gives two events sharing the reply.
	ann := findEvent(t, evs, "ann@mail.example.net", Deferred)
	ben := findEvent(t, evs, "ben@mail.example.net", Deferred)
	if ann.Line != ben.Line || ann.EnhancedStatus != "4.7.1" || ann.RemoteHost != "mx.mail.example.net" ||
		ann.RemoteIP != "192.0.2.10" || ann.Category == "" {
		t.Errorf("multi-recipient deferral: %+v / %+v", *ann, *ben)
	}
	if ann.Sender != "news@acme.example" || ann.MessageID != "20261103080001.6A3800aB004101@acme.example" ||
		ann.QueueID != "6A3800aB004101" || ann.Transport != "esmtp" {
		t.Errorf("sender context: %+v", *ann)
	}
	// The sending IP comes from "SMTP outgoing connect on [ip]" and follows later connects.
	if ann.SendingIP != "198.51.100.25" {
		t.Errorf("sending IP of the first attempt: %q", ann.SendingIP)
	}
	if ok := findEvent(t, evs, "ann@mail.example.net", Delivered); ok.SendingIP != "198.51.100.26" {
		t.Errorf("sending IP of the second attempt: %q", ok.SendingIP)
	}
	// IPv6 relay and a bare-word permanent stat.
	cleo := findEvent(t, evs, "cleo@other.example", Bounced)
	if cleo.RemoteIP != "2001:db8::25" || cleo.RemoteHost != "mx2.other.example" || cleo.Category != "user_unknown" {
		t.Errorf("IPv6 bounce: %+v", *cleo)
	}
	// Expiry: ben was still deferred when the sender notification came; ann had been
	// delivered meanwhile and must not expire.
	exp := findEvent(t, evs, "ben@mail.example.net", Expired)
	if exp.Sender != "news@acme.example" || exp.SendingIP != "198.51.100.26" || exp.Category == "" ||
		!strings.Contains(exp.Response, "Cannot send message for 5 days") {
		t.Errorf("expiry: %+v", *exp)
	}
	if n := countEvents(evs, "ann@mail.example.net", Expired); n != 0 {
		t.Errorf("delivered recipient expired %d times", n)
	}
	// Notifications Sendmail generated are marked as such.
	for _, ev := range evs {
		if ev.Recipient == "news@acme.example" && !ev.Notification {
			t.Errorf("DSN delivery not marked as notification: %+v", ev)
		}
	}
	// MSP hand-off with a display name in to=.
	if jane := findEvent(t, evs, "jane.roe@partner.example", Delivered); jane.RemoteIP != "127.0.0.1" || jane.Transport != "relay" {
		t.Errorf("MSP hand-off: %+v", *jane)
	}
	// Inbound refusals.
	rj := findEvent(t, evs, "someone@elsewhere.example", Rejected)
	if rj.Direction != Inbound || rj.RemoteIP != "198.18.7.22" || rj.RemoteHost != "dsl-22.isp.example" ||
		rj.SMTPPhase != "rcpt" || rj.SMTPCode != 550 {
		t.Errorf("check_rcpt reject: %+v", *rj)
	}
	uu := findEvent(t, evs, "nobody@acme.example", Rejected)
	if uu.Direction != Inbound || uu.Category != "user_unknown" {
		t.Errorf("User unknown while receiving: %+v", *uu)
	}
	relay := findEvent(t, evs, "", Rejected)
	if relay.RemoteIP != "198.18.9.9" || relay.SMTPPhase != "connect" || relay.Category != "ip_blocklisted" {
		t.Errorf("check_relay reject: %+v", *relay)
	}
	// Framings: syslog-ng tag, forwarded prefix, RFC 5424.
	if dan := findEvent(t, evs, "dan@mail.example.net", Bounced); dan.MTAHost != "mx2" {
		t.Errorf("syslog-ng framing: %+v", *dan)
	}
	if eve := findEvent(t, evs, "eve@partner.example", Deferred); eve.MTAHost != "mx3" || eve.SMTPCode != 452 {
		t.Errorf("forwarded framing: %+v", *eve)
	}
	if fay := findEvent(t, evs, "fay@other.example", Delivered); fay.MTAHost != "mx4" || fay.MTAInstance != "sm-mta" {
		t.Errorf("RFC 5424 framing: %+v", *fay)
	}
}

// TestSendmailErrors checks that claimed records that cannot be parsed yield errors, and
// that unframed Sendmail messages are recognised.
func TestSendmailErrors(t *testing.T) {
	p := NewProcessor(classifier(t), testOptions())
	_, err := p.Line("Nov  3 12:00:10 mx1 sm-mta[1]: 6A3C00Ai008010: to=<gus@slow.example>, delay=00:00:01, mailer=esmtp, relay=mx.slow.example. [192.0.2.77]", 1, FormatAuto, nil)
	if err == nil || !strings.Contains(err.Error(), "sendmail to= line") {
		t.Errorf("to= line without stat=: err = %v", err)
	}
	if f := Detect(&Record{Message: "ruleset=check_relay, arg1=[192.0.2.1], arg2=192.0.2.1, relay=[192.0.2.1], reject=421 4.3.2 Connection rate limit exceeded."}); f != FormatSendmail {
		t.Errorf("unframed check_relay detected as %q", f)
	}
	if f := Detect(&Record{Program: "sm-msp-queue", Message: "x"}); f != FormatSendmail {
		t.Errorf("sm-msp-queue detected as %q", f)
	}
}

// TestSendmailCorpus reports the share of the corpus's Sendmail failure lines that became
// failure events.
func TestSendmailCorpus(t *testing.T) {
	corpusShare(t, func(line string) bool {
		if strings.Contains(line, ", stat=") {
			return !strings.Contains(line, "stat=Sent") && !strings.Contains(line, "stat=queued")
		}
		return containsAny(line, "reject=", ">... User unknown", ">... No such user", "sender notify: Cannot send message")
	}, "sendmail-*.log")
}

// FuzzSendmail: the Sendmail parser never panics, alone or after realistic records.
func FuzzSendmail(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "sendmail.log"))
	for _, s := range []string{"Q1234567890ab: to=<a@b>, stat=", "Q1234567890ab: to=, , stat=Deferred", "ruleset=, reject=",
		"Q1234567890ab: Q1234567890ac: sender notify: Cannot send message for 5 days", "Q1234567890ab: <x>... ",
		"Q1234567890ab: from=<, msgid=<", "Q1234567890ab: SMTP outgoing connect on [", "relay=[IPv6:] [", "Q1234567890ab: Milter: , reject="} {
		f.Add(s)
	}
	prefix := testdataLines(f, "sendmail.log")[:12]
	f.Fuzz(func(t *testing.T, line string) {
		fuzzFormat(t, line, prefix, FormatAuto, FormatSendmail)
		fuzzFormat(t, "Nov  3 08:00:01 mx1 sm-mta[1]: 6A3800aB004101: "+line, prefix, FormatAuto)
	})
}
