package ingest

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenSMTPDGolden covers ≥6.4 mta and mda delivery records (Ok, TempFail, PermFail,
// Loop), failed commands, the pre-6.4 relay:/delivery: forms with Expire, and an unframed
// record.
func TestOpenSMTPDGolden(t *testing.T) {
	evs, errs, _ := processFile(t, filepath.Join("testdata", "opensmtpd.log"), FormatAuto, testOptions())
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	golden(t, "opensmtpd.golden", evs)
}

// TestOpenSMTPDBehaviour pins what a user would notice, independently of the golden file.
func TestOpenSMTPDBehaviour(t *testing.T) {
	evs, _, _ := processFile(t, filepath.Join("testdata", "opensmtpd.log"), FormatAuto, testOptions())
	ben := findEvent(t, evs, "ben@mail.example.net", Deferred)
	if ben.SendingIP != "198.51.100.25" || ben.RemoteIP != "192.0.2.10" || ben.RemoteHost != "mx.mail.example.net" ||
		ben.Sender != "news@acme.example" || ben.QueueID != "1a2b3c4d00000002" || ben.EnhancedStatus != "4.2.1" ||
		ben.SMTPCode != 450 || ben.Category == "" {
		t.Errorf("TempFail: %+v", *ben)
	}
	cleo := findEvent(t, evs, "cleo@other.example", Bounced)
	if cleo.SendingIP != "2001:db8::25" || cleo.RemoteIP != "2001:db8::99" || cleo.Category != "user_unknown" {
		t.Errorf("PermFail over IPv6: %+v", *cleo)
	}
	findEvent(t, evs, "postmaster@acme.example", Bounced) // Loop
	if ok := findEvent(t, evs, "ann@mail.example.net", Delivered); ok.Response != "250 2.0.0 Ok: queued as 4Ab12" {
		t.Errorf("Ok: %+v", *ok)
	}
	if full := findEvent(t, evs, "full@relay1.acme.example", Deferred); full.Transport != "mda" ||
		!strings.Contains(full.Response, "Disc quota exceeded") {
		t.Errorf("mda TempFail: %+v", *full)
	}
	rj := findEvent(t, evs, "nobody@acme.example", Rejected)
	if rj.Direction != Inbound || rj.RemoteIP != "198.18.4.4" || rj.SMTPPhase != "rcpt" {
		t.Errorf("failed-command: %+v", *rj)
	}
	old := findEvent(t, evs, "", Rejected)
	if old.Sender != "promo@spam.example" || old.RemoteIP != "198.18.1.1" || old.SMTPPhase != "mail" || old.SMTPCode != 421 {
		t.Errorf("pre-6.4 failed command: %+v", *old)
	}
	if gus := findEvent(t, evs, "gus@slow.example", Deferred); gus.SendingIP != "198.51.100.25" || gus.RemoteHost != "mx.slow.example" {
		t.Errorf("pre-6.4 relay TempFail: %+v", *gus)
	}
	findEvent(t, evs, "nouser@relay1.acme.example", Bounced)
	if exp := findEvent(t, evs, "old@slow.example", Expired); exp.Category == "" {
		t.Errorf("Expire: %+v", *exp)
	}
	if hal := findEvent(t, evs, "hal@partner.example", Deferred); hal.SendingIP != "198.51.100.26" {
		t.Errorf("unframed record: %+v", *hal)
	}
}

// TestOpenSMTPDErrors checks that a claimed delivery record without a result is an error.
func TestOpenSMTPDErrors(t *testing.T) {
	p := NewProcessor(classifier(t), testOptions())
	_, err := p.Line("Nov  3 08:00:02 relay1 smtpd[3100]: 8f2d3c4b5a6e7f81 mta delivery evpid=1a2b3c4d00000002 from=<a@b> to=<c@d>", 1, FormatAuto, nil)
	if err == nil || !strings.Contains(err.Error(), "opensmtpd mta delivery line") {
		t.Errorf("delivery without result=: err = %v", err)
	}
	_, err = p.Line("Nov  3 08:00:02 relay1 smtpd[3100]: 8f2d3c4b5a6e7f81 mta delivery evpid=1 result=\"Maybe\" stat=\"x\"", 2, FormatAuto, nil)
	if err == nil {
		t.Error("unknown result: no error")
	}
}

// TestOpenSMTPDCorpus reports the share of the corpus's OpenSMTPD failure lines that became
// failure events.
func TestOpenSMTPDCorpus(t *testing.T) {
	corpusShare(t, func(line string) bool {
		return containsAny(line, `result="TempFail"`, `result="PermFail"`, `result="Loop"`, "result=TempFail",
			"result=PermFail", "Failed command on session", " failed-command ", "delivery: TempFail", "delivery: PermFail",
			"relay: TempFail", "relay: PermFail", ": Expire for ")
	}, "opensmtpd.log")
}

// FuzzOpenSMTPD: the OpenSMTPD parser never panics, alone or after realistic records.
func FuzzOpenSMTPD(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "opensmtpd.log"))
	for _, s := range []string{`0123456789abcdef mta delivery result="`, `0123456789abcdef mta delivery stat=" result=Ok`,
		`0123456789abcdef smtp failed-command command="RCPT TO:" result="`, "relay: Ok for ", "delivery: Expire for x: stat=",
		"smtp-in: Failed command on session : \" => ", "smtp-in: New session x from host [", `relay="(" source="["`} {
		f.Add(s)
	}
	prefix := testdataLines(f, "opensmtpd.log")[:12]
	f.Fuzz(func(t *testing.T, line string) {
		fuzzFormat(t, line, prefix, FormatAuto, FormatOpenSMTPD)
		fuzzFormat(t, "Nov  3 08:00:01 relay1 smtpd[1]: "+line, prefix, FormatAuto)
	})
}
