package scenario

import (
	"strconv"
	"strings"
	"time"
)

// postfixWriter writes Postfix's syslog lines: smtpd, cleanup and qmgr at reception, one smtp
// line per recipient and attempt, qmgr's expiry and removal, and bounce's notification link.
type postfixWriter struct{}

func itoa(n int) string { return strconv.Itoa(n) }

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

// postfixQID draws a short hex queue id, unique per host and instance.
func (g *generator) postfixQID(eg *egress) string {
	return g.uniqueID(eg.host+"/"+eg.instance, func() string { return strings.ToUpper(g.hex(10)) })
}

func (g *generator) qmgrPID(eg *egress) int {
	k := eg.host + "/" + eg.instance
	if p, ok := g.qmgrPIDs[k]; ok {
		return p
	}
	p := 800 + g.intn(2000)
	g.qmgrPIDs[k] = p
	return p
}

func (postfixWriter) arrive(g *generator, m *message) {
	eg, c := m.eg, m.c
	m.qid = g.postfixQID(eg)
	t := m.arrival
	g.syslog(eg.host, t, eg.instance+"/smtpd", g.pid(), m.qid+": client="+c.client+"["+c.clientIP+"], sasl_method=PLAIN, sasl_username="+c.sasl)
	g.syslog(eg.host, t.Add(20*time.Millisecond), eg.instance+"/cleanup", g.pid(), m.qid+": message-id=<"+m.msgID+">")
	g.syslog(eg.host, t.Add(60*time.Millisecond), eg.instance+"/qmgr", g.qmgrPID(eg), m.qid+": from=<"+m.sender+">, size="+itoa(m.size)+", nrcpt="+itoa(len(m.rcpts))+" (queue active)")
}

// pfDelay formats a Postfix delay: two significant digits below 10 seconds, whole seconds above.
func pfDelay(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s < 0.01:
		return "0"
	case s < 1:
		return strconv.FormatFloat(s, 'f', 2, 64)
	case s < 10:
		return strconv.FormatFloat(s, 'f', 1, 64)
	}
	return strconv.FormatInt(int64(s), 10)
}

// pfCommand is how Postfix names the command a reply answered.
func pfCommand(p phase) string {
	switch p {
	case phMail:
		return "MAIL FROM"
	case phRcpt:
		return "RCPT TO"
	}
	return "end of DATA"
}

func (postfixWriter) attempt(g *generator, m *message, k int, t time.Time, times []time.Time, rcpts []*rcpt, res []reply) {
	eg := m.eg
	if k > 0 {
		g.syslog(eg.host, t, eg.instance+"/qmgr", g.qmgrPID(eg), m.qid+": from=<"+m.sender+">, size="+itoa(m.size)+", nrcpt="+itoa(len(m.rcpts))+" (queue active)")
	}
	pid := g.pid()
	bounced := false
	var b strings.Builder
	for i, r := range rcpts {
		x := &res[i]
		total := times[i].Sub(m.arrival)
		queued := t.Sub(m.arrival)
		conn := min(g.secs(0.05, 0.6), max(total-queued-10*time.Millisecond, 0))
		xfer := max(total-queued-conn-10*time.Millisecond, 0)
		if x.local {
			conn, xfer = 0, 0
			if x.cat == catTimeout {
				conn = max(total-queued-10*time.Millisecond, 0)
			} else {
				queued = max(total-10*time.Millisecond, 0)
			}
		}
		status := "sent"
		switch outcomeOf(mtaPostfix, x) {
		case outDeferred:
			status = "deferred"
		case outBounced:
			status, bounced = "bounced", true
		}
		b.Reset()
		b.WriteString(m.qid)
		b.WriteString(": to=<")
		b.WriteString(r.addr)
		b.WriteString(">, relay=")
		if x.local {
			b.WriteString("none")
		} else {
			b.WriteString(r.mx.name + "[" + r.mx.ip + "]:25")
		}
		b.WriteString(", delay=" + pfDelay(total) + ", delays=" + pfDelay(queued) + "/0.01/" + pfDelay(conn) + "/" + pfDelay(xfer))
		b.WriteString(", dsn=" + x.dsn() + ", status=" + status + " (")
		switch {
		case x.ok(), x.local:
			b.WriteString(x.flat())
		case x.phase == phConnect:
			b.WriteString("host " + r.mx.name + "[" + r.mx.ip + "] refused to talk to me: " + x.flat())
		default:
			b.WriteString("host " + r.mx.name + "[" + r.mx.ip + "] said: " + x.flat() + " (in reply to " + pfCommand(x.phase) + " command)")
		}
		b.WriteByte(')')
		g.syslog(eg.host, times[i], eg.instance+"/smtp", pid, b.String())
	}
	if bounced {
		g.notify(m, times[len(times)-1].Add(10*time.Millisecond))
	}
}

// notify writes the link from a message to the non-delivery notification Postfix sends its
// sender.
func (g *generator) notify(m *message, t time.Time) {
	g.syslog(m.eg.host, t, m.eg.instance+"/bounce", g.pid(), m.qid+": sender non-delivery notification: "+g.postfixQID(m.eg))
}

func (postfixWriter) waiting(*generator, *message, time.Time, []*rcpt) {}

func (postfixWriter) expire(g *generator, m *message, t time.Time, _ []*rcpt) {
	eg := m.eg
	g.syslog(eg.host, t, eg.instance+"/qmgr", g.qmgrPID(eg), m.qid+": from=<"+m.sender+">, status=expired, returned to sender")
	g.notify(m, t.Add(5*time.Millisecond))
	g.syslog(eg.host, t.Add(10*time.Millisecond), eg.instance+"/qmgr", g.qmgrPID(eg), m.qid+": removed")
}

func (postfixWriter) finish(g *generator, m *message, t time.Time) {
	g.syslog(m.eg.host, t, m.eg.instance+"/qmgr", g.qmgrPID(m.eg), m.qid+": removed")
}
