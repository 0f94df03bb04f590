package scenario

import (
	"bytes"
	"encoding/csv"
	"time"
)

// pmtaWriter writes PowerMTA accounting records: one d (delivered), t (transient) or b
// (bounced) row per recipient and attempt, and a b row with bounceCat message-expired at
// expiry. The file starts with its header line.
type pmtaWriter struct{}

// pmtaColumns is the accounting file's header: the columns this PowerMTA is configured to log.
var pmtaColumns = []string{"type", "timeLogged", "timeQueued", "orig", "rcpt", "dsnAction", "dsnStatus", "dsnDiag",
	"dsnMta", "bounceCat", "srcType", "srcMta", "dlvType", "dlvSourceIp", "dlvDestinationIp", "dlvEsmtpAvailable",
	"dlvSize", "vmta", "vmtaPool", "jobId", "envId", "header_Message-Id", "header_X-Customer-Id"}

// pmtaFileName is the accounting file of the PowerMTA host.
const pmtaFileName = hostPMTA + ".acct.csv"

func csvLine(fields []string) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(fields) // writes to memory: cannot fail
	w.Flush()
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func writePMTAHeader(g *generator) {
	g.emit(KindLog, hostPMTA, g.start, csvLine(pmtaColumns))
}

const pmtaTime = "2006-01-02 15:04:05-0700"

// pmtaStatus is dsnStatus: the enhanced code with PowerMTA's label.
func pmtaStatus(enh string) string {
	if len(enh) < 5 {
		return enh
	}
	label := "other or undefined status"
	switch {
	case enh[0] == '2':
		label = "success"
	case enh[2:] == "4.7":
		label = "delivery time expired"
	case enh[2:] == "1.1":
		label = "bad destination mailbox address"
	case enh[2:] == "2.2":
		label = "mailbox full"
	case enh[2] == '7':
		label = "delivery not authorized, message refused"
	case enh[2] == '4':
		label = "no answer from host"
	}
	return enh + " (" + label + ")"
}

// pmtaBounceCat is PowerMTA's own classification of a failure.
func pmtaBounceCat(x *reply) string {
	switch x.cat {
	case catUserUnknown:
		return "bad-mailbox"
	case catMailboxFull:
		return "quota-issues"
	case catIPListed:
		return "spam-related"
	case catTimeout:
		return "no-answer-from-host"
	case catRate, catReputation, catSPF:
		return "policy-related"
	case catExpired:
		return "message-expired"
	}
	return "other"
}

func (pmtaWriter) row(g *generator, m *message, t time.Time, typ, action, status, diag string, r *rcpt, x *reply) {
	mta, dst, esmtp := "", "", ""
	if x == nil || !x.local {
		mta, dst, esmtp = r.mx.name+" ("+r.mx.ip+")", r.mx.ip, "PIPELINING,8BITMIME,SIZE,STARTTLS,ENHANCEDSTATUSCODES"
	}
	if typ == "b" && action == "failed" && x == nil {
		mta, dst, esmtp = "", "", ""
	}
	cat := ""
	if typ != "d" {
		if x == nil {
			cat = "message-expired"
		} else {
			cat = pmtaBounceCat(x)
		}
	}
	size := ""
	if typ == "d" {
		size = itoa(m.size)
	}
	fields := []string{typ, t.UTC().Format(pmtaTime), m.arrival.UTC().Format(pmtaTime), m.sender, r.addr, action, status, diag,
		mta, cat, "smtp", m.c.client + " (" + m.c.clientIP + ")", "smtp", m.eg.ip, dst, esmtp, size,
		m.eg.vmta, m.eg.pool, m.job, m.envID, "<" + m.msgID + ">", m.c.name}
	g.emit(KindLog, hostPMTA, t.UTC().Truncate(time.Second), csvLine(fields))
}

func (pmtaWriter) arrive(g *generator, m *message) {
	m.envID = g.hex(16)
}

func (w pmtaWriter) attempt(g *generator, m *message, _ int, _ time.Time, times []time.Time, rcpts []*rcpt, res []reply) {
	for i, r := range rcpts {
		x := &res[i]
		diag := "smtp;" + x.flat()
		switch outcomeOf(mtaPMTA, x) {
		case outDelivered:
			w.row(g, m, times[i], "d", "relayed", pmtaStatus(x.dsn()), diag, r, x)
		case outDeferred:
			w.row(g, m, times[i], "t", "delayed", pmtaStatus(x.dsn()), diag, r, x)
		default:
			w.row(g, m, times[i], "b", "failed", pmtaStatus(x.dsn()), diag, r, x)
		}
	}
}

func (pmtaWriter) waiting(*generator, *message, time.Time, []*rcpt) {}

func (w pmtaWriter) expire(g *generator, m *message, t time.Time, rcpts []*rcpt) {
	for _, r := range rcpts {
		w.row(g, m, t, "b", "failed", pmtaStatus("5.4.7"), "smtp;"+r.last.flat(), r, nil)
	}
}

func (pmtaWriter) finish(*generator, *message, time.Time) {}
