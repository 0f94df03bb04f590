package ingest

import (
	"fmt"
	"net/netip"
	"strings"
)

// postfixParser reads Postfix logs: delivery lines of smtp, lmtp, local, virtual, pipe and
// error (sent, deferred, bounced, expired, undeliverable), qmgr's from= and expiry lines,
// bounce-notification links, and the inbound rejects of smtpd, postscreen and milters.
type postfixParser struct {
	state   *State
	pending []pendingEvent
	records int
}

// pendingEvent is a delivery event whose sender (qmgr's from=) has not been seen yet. Lines
// of different Postfix processes can reach the log out of order.
type pendingEvent struct {
	key      queueKey
	ev       Event
	deadline int // record count after which it is released without a sender
}

// postfixSaved is the saved form of a postfixParser: the delivery events still waiting for
// their qmgr from= line, with what is left of their wait.
type postfixSaved struct {
	Keys   []queueKey
	Events []Event
	Left   []int
}

// saveAux returns the waiting events, for State.Save: their lines may already be committed.
func (p *postfixParser) saveAux() ([]byte, error) {
	var v postfixSaved
	for _, pe := range p.pending {
		v.Keys = append(v.Keys, pe.key)
		v.Events = append(v.Events, pe.ev)
		v.Left = append(v.Left, pe.deadline-p.records)
	}
	return gobBytes(v)
}

// restoreAux replaces the waiting events with what saveAux wrote.
func (p *postfixParser) restoreAux(b []byte) error {
	var v postfixSaved
	if err := fromGob(b, &v); err != nil {
		return err
	}
	if len(v.Keys) != len(v.Events) || len(v.Keys) != len(v.Left) {
		return fmt.Errorf("postfix: %d keys, %d events, %d waits", len(v.Keys), len(v.Events), len(v.Left))
	}
	p.pending = p.pending[:0]
	for i := range v.Keys {
		p.pending = append(p.pending, pendingEvent{key: v.Keys[i], ev: v.Events[i], deadline: p.records + v.Left[i]})
	}
	return nil
}

// pendingWindow is how many records a delivery line waits for its qmgr from= line.
const pendingWindow = 2000

// FormatPostfix is Postfix's syslog output (or maillog_file).
const FormatPostfix Format = "postfix"

func init() {
	register(formatSpec{format: FormatPostfix, detect: detectPostfix,
		newFn: func(st *State) parser {
			p := &postfixParser{state: st}
			st.attach(string(FormatPostfix), p)
			return p
		}})
}

// detectPostfix recognises a Postfix program name ("postfix/smtp", "postfix-out2/qmgr"), or
// a Postfix message without its syslog header ("QID: to=<…>, relay=…, status=…").
func detectPostfix(rec *Record) bool {
	if strings.HasPrefix(rec.Program, "postfix") {
		return true
	}
	if rec.Program != "" {
		return false
	}
	if isRejectVerb(rec.Message) {
		return true
	}
	if strings.Contains(rec.Message, ", mailer=") || strings.Contains(rec.Message, ", stat=") ||
		strings.Contains(rec.Message, ", nrcpts=") {
		return false // Sendmail's to=/from= lines look alike without their program name
	}
	qid, rest, ok := strings.Cut(rec.Message, ": ")
	return ok && isPostfixQueueID(qid) && (strings.HasPrefix(rest, "to=") || strings.HasPrefix(rest, "from=") ||
		isRejectVerb(rest) || strings.HasPrefix(rest, "removed") || strings.HasPrefix(rest, "message-id="))
}

// splitPostfixProgram splits "postfix-out2/submission/smtpd" into the instance
// ("postfix-out2") and the service, which is the last element ("smtpd").
func splitPostfixProgram(prog string) (instance, service string) {
	first, _, _ := strings.Cut(prog, "/")
	last := prog
	if i := strings.LastIndexByte(prog, '/'); i >= 0 {
		last = prog[i+1:]
	}
	return first, last
}

// instanceIP returns the IP in a multi-instance name such as "postfix-203.0.113.5".
func instanceIP(instance string) string {
	if i := strings.IndexByte(instance, '-'); i >= 0 {
		if a, err := netip.ParseAddr(instance[i+1:]); err == nil {
			return a.String()
		}
	}
	return ""
}

func (p *postfixParser) parse(rec *Record, out *[]Event) error {
	p.records++
	p.state.advance(rec.Time)
	p.releaseExpired(out)
	instance, service := splitPostfixProgram(rec.Program)
	if instance == "" {
		instance = "postfix"
	}
	msg := rec.Message
	if isRejectVerb(msg) {
		msg = "NOQUEUE: " + msg // proxy-reject and some milter-rejects are logged without a queue id
	}
	qid, rest, ok := strings.Cut(msg, ": ")
	if !ok || !isPostfixQueueID(qid) {
		return nil // warnings, statistics, connect/disconnect: context we do not need
	}
	key := queueKey{Host: rec.Host, Instance: instance, QID: qid}
	base := Event{EventTime: rec.Time, Line: rec.Line, MTA: "postfix", MTAHost: rec.Host, MTAInstance: instance,
		QueueID: qid, SendingIP: instanceIP(instance)}
	if qid == "NOQUEUE" {
		base.QueueID = ""
	}
	switch {
	case strings.HasPrefix(rest, "to="):
		return p.delivery(key, base, service, rest, out)
	case strings.HasPrefix(rest, "from="):
		return p.from(key, base, rest, out)
	case isRejectVerb(rest):
		return p.reject(base, service, rest, out)
	case strings.HasPrefix(rest, "message-id="):
		if e := p.state.get(key, true); e != nil {
			e.MessageID = strings.Clone(strings.Trim(strings.TrimPrefix(rest, "message-id="), "<> "))
		}
	case strings.HasPrefix(rest, "client="):
		if u := kvValue(rest, "sasl_username="); u != "" {
			p.state.get(key, true).SASLUser = p.state.intern(u)
		}
	case strings.HasPrefix(rest, "removed"):
		p.state.remove(key)
	default:
		// "sender non-delivery notification: NDRQID" and its siblings link a message to the
		// notification Postfix generated for it.
		if _, ndr, ok := strings.Cut(rest, " notification: "); ok && isPostfixQueueID(ndr) {
			nk := key
			nk.QID = strings.TrimSpace(ndr)
			p.state.get(nk, true).Notification = true
		}
	}
	return nil
}

// isRejectVerb reports the start of an inbound refusal record.
func isRejectVerb(s string) bool {
	return strings.HasPrefix(s, "reject: ") || strings.HasPrefix(s, "milter-reject: ") ||
		strings.HasPrefix(s, "proxy-reject: ")
}

// isPostfixQueueID accepts short hex ids, long ids (enable_long_queue_ids) and NOQUEUE.
func isPostfixQueueID(s string) bool {
	if s == "NOQUEUE" {
		return true
	}
	if len(s) < 5 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// delivery handles "to=<r>, [orig_to=<o>,] relay=…, delay=…, delays=…, dsn=X.Y.Z, status=S (text)".
func (p *postfixParser) delivery(key queueKey, ev Event, service, rest string, out *[]Event) error {
	si := strings.LastIndex(rest, ", status=")
	if si < 0 {
		if strings.HasPrefix(rest, "status=") {
			si = -2
		} else {
			return fmt.Errorf("postfix %s delivery line without status=", service)
		}
	}
	fields, statusPart := rest, ""
	if si >= 0 {
		fields, statusPart = rest[:si], rest[si+len(", status="):]
	}
	status, text := statusPart, ""
	if sp := strings.IndexByte(statusPart, ' '); sp >= 0 {
		status = statusPart[:sp]
		text = strings.TrimSpace(statusPart[sp+1:])
		// "(text)" to the last ")": the text itself holds parentheses, and some collectors
		// append a token after it.
		if strings.HasPrefix(text, "(") {
			if end := strings.LastIndexByte(text, ')'); end > 0 {
				text = text[1:end]
			} else {
				text = text[1:]
			}
		}
	}
	switch status {
	case "sent":
		ev.Outcome = Delivered
	case "deferred":
		ev.Outcome = Deferred
	case "bounced", "undeliverable", "undeliverable-but-not-cached":
		ev.Outcome = Bounced
	case "expired", "force-expired":
		ev.Outcome = Expired
	case "deliverable", "deliverable-but-not-cached":
		return nil // address verification probe: no delivery
	default:
		return fmt.Errorf("postfix delivery line with unknown status %q", status)
	}
	ev.Recipient = cleanAddr(kvValue(fields, "to="))
	ev.RecipientDomain = domainOf(ev.Recipient)
	ev.EnhancedStatus = kvValue(fields, "dsn=")
	ev.Response = text
	relay := kvValue(fields, "relay=")
	ev.RemoteHost, ev.RemoteIP = splitHostIP(relay)
	if service == "error" || service == "retry" {
		// The error agent replays a cached reason; the relay in the text is the real one.
		ev.RemoteHost, ev.RemoteIP = "", ""
	}
	if ev.RemoteHost == "" && ev.RemoteIP == "" {
		ev.RemoteHost, ev.RemoteIP = hostInText(text)
	}
	ev.Direction, ev.Transport = Outbound, service
	e := p.state.get(key, true)
	ev.MessageID, ev.SASLUser, ev.Notification = e.MessageID, e.SASLUser, e.Notification
	switch ev.Outcome {
	case Deferred:
		p.rememberDeferred(e, ev)
	case Delivered, Bounced, Expired:
		forgetDeferred(e, ev.Recipient)
	}
	if !e.HasSender {
		p.pending = append(p.pending, pendingEvent{key: key, ev: ev, deadline: p.records + pendingWindow})
		return nil
	}
	ev.Sender, ev.SenderDomain = e.Sender, domainOf(e.Sender)
	*out = append(*out, ev)
	return nil
}

func (p *postfixParser) rememberDeferred(e *queueEntry, ev Event) {
	for i := range e.Deferred {
		if e.Deferred[i].Recipient == ev.Recipient {
			e.Deferred[i].RemoteHost = p.state.intern(ev.RemoteHost)
			e.Deferred[i].Enhanced = p.state.intern(ev.EnhancedStatus)
			return
		}
	}
	if len(e.Deferred) < 1000 {
		e.Deferred = append(e.Deferred, deferredRcpt{Recipient: strings.Clone(ev.Recipient),
			RemoteHost: p.state.intern(ev.RemoteHost), Enhanced: p.state.intern(ev.EnhancedStatus)})
	}
}

func forgetDeferred(e *queueEntry, rcpt string) {
	for i := range e.Deferred {
		if e.Deferred[i].Recipient == rcpt {
			e.Deferred = append(e.Deferred[:i], e.Deferred[i+1:]...)
			return
		}
	}
}

// from handles qmgr's "from=<s>, size=N, nrcpt=N (queue active)" and the message-level
// "from=<s>, status=expired, returned to sender", which fans out to the recipients still
// deferred.
func (p *postfixParser) from(key queueKey, ev Event, rest string, out *[]Event) error {
	sender := cleanAddr(kvValue(rest, "from="))
	e := p.state.get(key, true)
	e.Sender, e.HasSender = p.state.intern(sender), true
	p.releaseFor(key, e, out)
	status := kvValue(rest, "status=")
	if status != "expired" && status != "force-expired" {
		return nil
	}
	deferred := e.Deferred
	if len(deferred) == 0 {
		// The recipients' deferrals came before the state was started: report the expiry
		// of the message all the same, without a recipient.
		deferred = []deferredRcpt{{}}
	}
	for _, d := range deferred {
		x := ev
		x.Outcome, x.Direction = Expired, Outbound
		x.Sender, x.SenderDomain = sender, domainOf(sender)
		x.Recipient, x.RecipientDomain = d.Recipient, domainOf(d.Recipient)
		x.RemoteHost = d.RemoteHost
		x.MessageID, x.SASLUser, x.Notification = e.MessageID, e.SASLUser, e.Notification
		x.EnhancedStatus = "5.4.7"
		x.Response = "message expired, returned to sender"
		if d.Enhanced != "" {
			x.Response += " (last attempt: " + d.Enhanced + ")"
		}
		*out = append(*out, x)
	}
	e.Deferred = nil
	return nil
}

// releaseFor emits the held events of key now that its sender is known.
func (p *postfixParser) releaseFor(key queueKey, e *queueEntry, out *[]Event) {
	if len(p.pending) == 0 {
		return
	}
	kept := p.pending[:0]
	for _, pe := range p.pending {
		if pe.key == key {
			pe.ev.Sender, pe.ev.SenderDomain = e.Sender, domainOf(e.Sender)
			*out = append(*out, pe.ev)
			continue
		}
		kept = append(kept, pe)
	}
	p.pending = kept
}

// releaseExpired emits held events whose wait is over, without a sender.
func (p *postfixParser) releaseExpired(out *[]Event) {
	if len(p.pending) == 0 || p.pending[0].deadline > p.records {
		return
	}
	kept := p.pending[:0]
	for _, pe := range p.pending {
		if pe.deadline <= p.records {
			*out = append(*out, pe.ev)
			continue
		}
		kept = append(kept, pe)
	}
	p.pending = kept
}

func (p *postfixParser) flush(out *[]Event) {
	for _, pe := range p.pending {
		*out = append(*out, pe.ev)
	}
	p.pending = p.pending[:0]
}

// reject handles inbound refusals: "reject: RCPT from h[ip]: 554 5.7.1 <r>: Relay access
// denied; from=<s> to=<r> proto=ESMTP helo=<h>", postscreen's "[ip]:port" form with a
// comma-separated trailer, and milter-reject with only an enhanced code.
func (p *postfixParser) reject(ev Event, service, rest string, out *[]Event) error {
	_, body, _ := strings.Cut(rest, ": ")
	verb, afterVerb, _ := strings.Cut(body, " ")
	ev.SMTPPhase = phaseOfVerb(verb)
	client := ""
	if strings.HasPrefix(afterVerb, "from ") {
		c, after, ok := strings.Cut(afterVerb[len("from "):], ": ")
		if !ok {
			return fmt.Errorf("postfix %s reject without client", service)
		}
		client, afterVerb = c, after
	} else if strings.HasPrefix(afterVerb, ": ") {
		afterVerb = afterVerb[2:]
	}
	text, trailer := afterVerb, ""
	if i := strings.LastIndex(afterVerb, "; from="); i >= 0 {
		text, trailer = afterVerb[:i], afterVerb[i+2:]
	}
	ev.Direction, ev.Outcome = Inbound, Rejected
	ev.Response = text
	ev.RemoteHost, ev.RemoteIP = splitHostIP(client)
	ev.Sender = cleanAddr(kvValue(trailer, "from="))
	ev.SenderDomain = domainOf(ev.Sender)
	ev.Recipient = cleanAddr(kvValue(trailer, "to="))
	ev.RecipientDomain = domainOf(ev.Recipient)
	*out = append(*out, ev)
	return nil
}

func phaseOfVerb(v string) string {
	switch v {
	case "CONNECT":
		return "connect"
	case "EHLO", "HELO":
		return "helo"
	case "MAIL":
		return "mail"
	case "RCPT", "VRFY":
		return "rcpt"
	case "DATA", "BDAT", "END-OF-MESSAGE":
		return "data"
	}
	return ""
}

// kvValue returns the value of key (written with its "=") in a Postfix field list: up to the
// next ", " or " " that starts another key, with <…> and […] kept whole.
func kvValue(s, key string) string {
	i := 0
	for {
		j := strings.Index(s[i:], key)
		if j < 0 {
			return ""
		}
		j += i
		if j == 0 || s[j-1] == ' ' || s[j-1] == ',' || s[j-1] == ';' {
			v := s[j+len(key):]
			depth := 0
			for k := 0; k < len(v); k++ {
				switch v[k] {
				case '<', '[':
					depth++
				case '>', ']':
					depth--
				case ',', ' ':
					if depth <= 0 {
						return v[:k]
					}
				}
			}
			return v
		}
		i = j + len(key)
	}
}

// hostInText finds the remote host of "connect to H[IP]:25: …", "lost connection with H[IP]
// while …", "conversation with H[IP] timed out" and "host H[IP] said: …".
func hostInText(text string) (host, ip string) {
	for _, marker := range []string{"connect to ", " with ", "host "} {
		i := strings.Index(text, marker)
		if i < 0 {
			continue
		}
		cand := text[i+len(marker):]
		end := strings.IndexAny(cand, " ,;")
		if end < 0 {
			end = len(cand)
		}
		cand = strings.TrimRight(cand[:end], ":")
		if strings.Contains(cand, "[") {
			return splitHostIP(cand)
		}
	}
	return "", ""
}

// splitHostIP splits "host[ip]:port", "host[ip]", "[ip]:port" and "host" into host and IP.
// UNIX socket "addresses" (private/dovecot-lmtp) give no IP; "none" gives nothing.
func splitHostIP(s string) (host, ip string) {
	if s == "" || s == "none" {
		return "", ""
	}
	open := strings.IndexByte(s, '[')
	if open < 0 {
		return s, ""
	}
	close := strings.IndexByte(s[open:], ']')
	if close < 0 {
		return s[:open], ""
	}
	host = s[:open]
	inner := strings.TrimPrefix(s[open+1:open+close], "IPv6:")
	if a, err := netip.ParseAddr(inner); err == nil {
		ip = a.String()
	}
	if host == "unknown" {
		host = ""
	}
	return host, ip
}
