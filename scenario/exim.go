package scenario

import (
	"strings"
	"time"
)

// eximWriter writes Exim's mainlog through syslog (syslog_timestamp = false, so the message
// carries no second timestamp): "<=" at reception, "=>", "**" and "==" per recipient and
// attempt, "retry time not reached" between attempts, "retry timeout exceeded" at expiry.
type eximWriter struct{}

// base62 writes n in Exim's base-62 alphabet, zero-padded to width.
func base62(n int64, width int) string {
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = alnumDigits[n%62]
		n /= 62
	}
	return string(b)
}

// eximID makes an Exim 4.97+ message id: time, pid and fraction in base 62.
func (g *generator) eximID(t time.Time) string {
	return g.uniqueID(hostExim, func() string {
		return base62(t.Unix(), 6) + "-" + base62(int64(g.pid()), 11) + "-" + base62(int64(g.intn(62*62*62*62)), 4)
	})
}

const eximTLS = "X=TLS1.3:TLS_AES_256_GCM_SHA384:256"

func (eximWriter) arrive(g *generator, m *message) {
	c := m.c
	m.qid = g.eximID(m.arrival)
	g.syslog(hostExim, m.arrival, "exim", g.pid(), m.qid+" <= "+m.sender+" H="+c.client+" ["+c.clientIP+"] P=esmtpsa "+eximTLS+
		" CV=no A=plain:"+c.sasl+" S="+itoa(m.size)+" id="+m.msgID)
}

// eximAfter is how Exim names the command a reply answered.
func eximAfter(m *message, r *rcpt, p phase) string {
	switch p {
	case phConnect:
		return "initial connection"
	case phMail:
		return "MAIL FROM:<" + m.sender + "> SIZE=" + itoa(m.size)
	case phRcpt:
		return "RCPT TO:<" + r.addr + ">"
	}
	return "end of data"
}

// eximDefer is the errno Exim logs for a 4xx reply to a command.
func eximDefer(p phase) string {
	switch p {
	case phMail:
		return "-45"
	case phRcpt:
		return "-44"
	case phData:
		return "-46"
	}
	return "0"
}

func (eximWriter) attempt(g *generator, m *message, _ int, _ time.Time, times []time.Time, rcpts []*rcpt, res []reply) {
	pid := g.pid()
	m.pid = pid
	tr := m.eg.transport
	var b strings.Builder
	for i, r := range rcpts {
		x := &res[i]
		host := "H=" + r.mx.name + " [" + r.mx.ip + "]"
		iface := " I=[" + m.eg.ip + "]:" + itoa(32768+g.intn(28000))
		b.Reset()
		b.WriteString(m.qid)
		switch out := outcomeOf(mtaExim, x); {
		case out == outDelivered:
			b.WriteString(" => " + r.addr + " R=dnslookup T=" + tr + " " + host + iface + " " + eximTLS + " CV=yes C=\"" + x.flat() + "\"")
		case x.local:
			b.WriteString(" == " + r.addr + " R=dnslookup T=" + tr + " defer (110) " + host + ": " + x.flat())
		case out == outDeferred:
			b.WriteString(" == " + r.addr + " R=dnslookup T=" + tr + " defer (" + eximDefer(x.phase) + ") " + host +
				": SMTP error from remote mail server after " + eximAfter(m, r, x.phase) + ": " + x.flat())
		default:
			b.WriteString(" ** " + r.addr + " R=dnslookup T=" + tr + " " + host + iface + " " + eximTLS + " CV=yes" +
				": SMTP error from remote mail server after " + eximAfter(m, r, x.phase) + ": " + x.flat())
		}
		g.syslog(hostExim, times[i], "exim", pid, b.String())
	}
}

func (eximWriter) waiting(g *generator, m *message, t time.Time, rcpts []*rcpt) {
	pid := g.pid()
	for _, r := range rcpts {
		g.syslog(hostExim, t, "exim", pid, m.qid+" == "+r.addr+" R=dnslookup T="+m.eg.transport+" defer (-53): retry time not reached for any host")
	}
}

func (eximWriter) expire(g *generator, m *message, t time.Time, rcpts []*rcpt) {
	pid := g.pid()
	for _, r := range rcpts {
		g.syslog(hostExim, t, "exim", pid, m.qid+" ** "+r.addr+" R=dnslookup T="+m.eg.transport+": retry timeout exceeded")
	}
	g.syslog(hostExim, t.Add(10*time.Millisecond), "exim", pid, m.qid+" Completed")
}

func (eximWriter) finish(g *generator, m *message, t time.Time) {
	g.syslog(hostExim, t, "exim", m.pid, m.qid+" Completed")
}
