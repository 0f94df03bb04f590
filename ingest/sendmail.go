package ingest

import (
	"fmt"
	"net/netip"
	"strings"
)

// FormatSendmail is Sendmail's syslog output (programs sendmail, sm-mta, sm-msp-queue and the
// process titles some builds log under, such as sm-acceptingconnections).
const FormatSendmail Format = "sendmail"

func init() {
	register(formatSpec{format: FormatSendmail, detect: detectSendmail,
		newFn: func(st *State) parser { return newSendmailParser(st) }})
}

// sendmailInstance is the correlation-state instance of every Sendmail program: the MSP
// client queue and the daemon log under different tags, and a daemon's tag changes with its
// process title, but their queue ids never collide.
const sendmailInstance = "sendmail"

// sendmailParser reads Sendmail logs: sender lines (from=, kept in State), recipient lines
// (to=, one event per listed recipient), the sending IP of "SMTP outgoing connect on [ip]",
// bounce creation ("NEWQID: DSN:", "return to sender:", "sender notify:", the latter with
// "Cannot send message for N days" being the expiry of the recipients still deferred), and
// inbound refusals (ruleset=…, reject=…; Milter rejects; "<r>... User unknown").
type sendmailParser struct {
	state *State
}

func newSendmailParser(st *State) *sendmailParser {
	return &sendmailParser{state: st}
}

// isSendmailProgram reports a Sendmail syslog tag.
func isSendmailProgram(prog string) bool {
	return strings.HasPrefix(prog, "sendmail") || strings.HasPrefix(prog, "sm-")
}

// detectSendmail recognises a Sendmail program name, or a Sendmail message without its
// syslog header ("QID: to=…, mailer=…, stat=…", "ruleset=check_relay, …").
func detectSendmail(rec *Record) bool {
	if isSendmailProgram(rec.Program) {
		return true
	}
	if rec.Program != "" {
		return false
	}
	msg := rec.Message
	if strings.HasPrefix(msg, "ruleset=") {
		return true
	}
	qid, rest, ok := strings.Cut(msg, ": ")
	if !ok || !isSendmailQueueID(qid) {
		return false
	}
	switch {
	case strings.HasPrefix(rest, "to="):
		return strings.Contains(rest, ", stat=") || strings.Contains(rest, ", mailer=")
	case strings.HasPrefix(rest, "from="):
		return strings.Contains(rest, ", nrcpts=") || strings.Contains(rest, ", class=")
	case strings.HasPrefix(rest, "ruleset="), strings.HasPrefix(rest, "Milter: "),
		strings.HasPrefix(rest, "SMTP outgoing connect on "):
		return true
	case strings.HasPrefix(rest, "<") && strings.Contains(rest, ">... "):
		return true
	}
	sub, _, ok := strings.Cut(rest, ": ")
	return ok && isSendmailQueueID(sub)
}

// isSendmailQueueID accepts Sendmail queue ids: 14 characters since 8.12 (more with long
// pids), 12 in older releases, and NOQUEUE.
func isSendmailQueueID(s string) bool {
	if s == "NOQUEUE" {
		return true
	}
	return len(s) >= 10 && len(s) <= 20 && alnum(s)
}

func (p *sendmailParser) flush(*[]Event) {}

func (p *sendmailParser) parse(rec *Record, out *[]Event) error {
	p.state.advance(rec.Time)
	instance := rec.Program
	if instance == "" {
		instance = "sendmail"
	}
	base := Event{EventTime: rec.Time, Line: rec.Line, MTA: "sendmail", MTAHost: rec.Host, MTAInstance: instance}
	msg := rec.Message
	qid, rest, ok := strings.Cut(msg, ": ")
	if !ok || !isSendmailQueueID(qid) {
		// Records without a queue id: check_relay refusals, connection notes, statistics.
		qid, rest = "", msg
	}
	if qid == "NOQUEUE" {
		qid = ""
	}
	base.QueueID = qid
	key := queueKey{Host: rec.Host, Instance: sendmailInstance, QID: qid}
	switch {
	case strings.HasPrefix(rest, "to="):
		if qid == "" {
			return fmt.Errorf("sendmail to= line without queue id")
		}
		if err := p.delivery(key, base, rest, out); err != nil {
			return fmt.Errorf("sendmail to= line: %w", err)
		}
		return nil
	case strings.HasPrefix(rest, "from="):
		if qid != "" {
			p.from(key, rest)
		}
		return nil
	case strings.HasPrefix(rest, "SMTP outgoing connect on "):
		if qid != "" {
			_, ip := splitHostIP(strings.TrimSpace(rest[len("SMTP outgoing connect on "):]))
			p.setSource(key, ip)
		}
		return nil
	case strings.HasPrefix(rest, "reject=") || strings.Contains(rest, ", reject="):
		if err := p.reject(key, base, rest, out); err != nil {
			return fmt.Errorf("sendmail reject line: %w", err)
		}
		return nil
	case strings.HasPrefix(rest, "<"):
		return p.rcptRefusal(key, base, rest, out)
	}
	if qid == "" {
		return nil
	}
	// "QID: NEWQID: DSN: text", "return to sender: …", "sender notify: …", "postmaster
	// notify: …": NEWQID is the notification Sendmail generated for QID.
	if sub, note, ok := strings.Cut(rest, ": "); ok && isSendmailQueueID(sub) && sub != "NOQUEUE" {
		nk := key
		nk.QID = sub
		p.state.get(nk, true).Notification = true
		if strings.HasPrefix(note, "sender notify: Cannot send message") ||
			strings.HasPrefix(note, "postmaster notify: Cannot send message") {
			p.expire(key, base, note, strings.HasPrefix(note, "sender "), out)
		}
	}
	return nil
}

// from handles "from=<s>, size=N, class=N, nrcpts=N, msgid=<id>, proto=…, daemon=…, relay=…".
func (p *sendmailParser) from(key queueKey, rest string) {
	fields := sendmailFields(rest)
	e := p.state.get(key, true)
	e.Sender, e.HasSender = p.state.intern(cleanAddr(fields["from"])), true
	if mid := fields["msgid"]; mid != "" {
		e.MessageID = strings.Clone(strings.Trim(mid, "<> "))
	}
}

// delivery handles "to=<a>,<b>, [ctladdr=<u> (uid/gid),] delay=…, xdelay=…, mailer=m, pri=N,
// relay=host. [ip], dsn=X.Y.Z, stat=text": one event per listed recipient.
func (p *sendmailParser) delivery(key queueKey, ev Event, rest string, out *[]Event) error {
	si := strings.Index(rest, ", stat=")
	if si < 0 {
		return fmt.Errorf("no stat= field")
	}
	fields := sendmailFields(rest[:si])
	stat := strings.TrimSpace(rest[si+len(", stat="):])
	switch {
	case strings.HasPrefix(stat, "Sent"):
		ev.Outcome = Delivered
		ev.Response = strings.TrimSpace(strings.TrimPrefix(stat, "Sent"))
		if strings.HasPrefix(ev.Response, "(") {
			ev.Response = strings.TrimSuffix(ev.Response[1:], ")")
		}
	case strings.HasPrefix(stat, "Deferred"):
		ev.Outcome = Deferred
		ev.Response = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(stat, "Deferred"), ":"))
		if ev.Response == "" {
			ev.Response = stat
		}
	case strings.HasPrefix(stat, "queued"), strings.HasPrefix(stat, "quarantined"):
		return nil // accepted into the queue: no delivery attempt
	case stat == "":
		return fmt.Errorf("empty stat=")
	default:
		ev.Outcome = Bounced
		ev.Response = stat
	}
	ev.Direction = Outbound
	ev.Transport = fields["mailer"]
	ev.EnhancedStatus = fields["dsn"]
	ev.RemoteHost, ev.RemoteIP = sendmailRelay(fields["relay"])
	if ev.RemoteHost == "" && ev.RemoteIP == "" && ev.Outcome != Delivered {
		// "Deferred: Connection timed out with mx.example.net."
		if i := strings.LastIndex(ev.Response, " with "); i >= 0 {
			h := strings.TrimSuffix(strings.TrimSpace(ev.Response[i+len(" with "):]), ".")
			if h != "" && !strings.Contains(h, " ") {
				ev.RemoteHost = h
			}
		}
	}
	e := p.state.get(key, true)
	ev.Sender, ev.SenderDomain = e.Sender, domainOf(e.Sender)
	ev.MessageID, ev.SASLUser, ev.Notification = e.MessageID, e.SASLUser, e.Notification
	ev.SendingIP = e.SendingIP
	rcpts := splitSendmailRcpts(fields["to"])
	if len(rcpts) == 0 {
		rcpts = []string{""} // "to=," : report the attempt without a recipient
	}
	for _, r := range rcpts {
		x := ev
		x.Recipient, x.RecipientDomain = r, domainOf(r)
		switch x.Outcome {
		case Deferred:
			p.rememberDeferred(e, x)
		default:
			forgetDeferred(e, r)
		}
		*out = append(*out, x)
	}
	return nil
}

func (p *sendmailParser) rememberDeferred(e *queueEntry, ev Event) {
	if ev.Recipient == "" {
		return
	}
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

// expire handles "sender notify: Cannot send message for 5 days" (and the postmaster's
// copy): the message expired, so each recipient still deferred gets an expired event.
// Without known deferrals only the sender notification reports the expiry, without a
// recipient, so that the postmaster copy does not count it twice.
func (p *sendmailParser) expire(key queueKey, ev Event, note string, sender bool, out *[]Event) {
	e := p.state.get(key, true)
	deferred := e.Deferred
	if len(deferred) == 0 {
		if !sender {
			return
		}
		deferred = []deferredRcpt{{}}
	}
	_, reason, _ := strings.Cut(note, ": ")
	for _, d := range deferred {
		x := ev
		x.Outcome, x.Direction = Expired, Outbound
		x.Sender, x.SenderDomain = e.Sender, domainOf(e.Sender)
		x.Recipient, x.RecipientDomain = d.Recipient, domainOf(d.Recipient)
		x.RemoteHost = d.RemoteHost
		x.MessageID, x.SASLUser, x.Notification = e.MessageID, e.SASLUser, e.Notification
		x.SendingIP = e.SendingIP
		x.EnhancedStatus = "5.4.7"
		x.Response = strings.TrimSpace(reason)
		if d.Enhanced != "" {
			x.Response += " (last attempt: " + d.Enhanced + ")"
		}
		*out = append(*out, x)
	}
	e.Deferred = nil
}

// reject handles inbound refusals: "ruleset=check_rcpt, arg1=<r>, relay=h [ip] (may be
// forged), reject=550 5.7.1 <r>... Relaying denied", check_mail and check_relay likewise,
// and milter refusals ("Milter: to=<r>, reject=…", "Milter: data, reject=…").
func (p *sendmailParser) reject(key queueKey, ev Event, rest string, out *[]Event) error {
	head, text := "", ""
	if strings.HasPrefix(rest, "reject=") {
		text = rest[len("reject="):]
	} else {
		i := strings.Index(rest, ", reject=")
		head, text = rest[:i], rest[i+len(", reject="):]
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return fmt.Errorf("empty reject=")
	}
	milter := strings.HasPrefix(head, "Milter: ")
	head = strings.TrimPrefix(head, "Milter: ")
	fields := sendmailFields(head)
	ev.Direction, ev.Outcome, ev.Response = Inbound, Rejected, text
	ev.RemoteHost, ev.RemoteIP = sendmailRelay(fields["relay"])
	switch rs := fields["ruleset"]; {
	case rs == "check_rcpt" || rs == "check_compat":
		ev.SMTPPhase = "rcpt"
		ev.Recipient = cleanAddr(fields["arg1"])
	case rs == "check_mail":
		ev.SMTPPhase = "mail"
		ev.Sender = cleanAddr(fields["arg1"])
	case rs == "check_relay":
		ev.SMTPPhase = "connect"
		if ev.RemoteIP == "" {
			_, ev.RemoteIP = splitHostIP("[" + fields["arg2"] + "]")
		}
	case rs == "check_data" || rs == "check_eom" || rs == "check_eoh":
		ev.SMTPPhase = "data"
	case milter:
		switch {
		case fields["to"] != "":
			ev.SMTPPhase = "rcpt"
			ev.Recipient = cleanAddr(fields["to"])
		case fields["from"] != "":
			ev.SMTPPhase = "mail"
			ev.Sender = cleanAddr(fields["from"])
		case strings.HasPrefix(head, "data"):
			ev.SMTPPhase = "data"
		case strings.HasPrefix(head, "connect"):
			ev.SMTPPhase = "connect"
		}
	}
	if ev.Sender == "" && key.QID != "" {
		if e := p.state.get(key, false); e != nil {
			ev.Sender = e.Sender
		}
	}
	ev.SenderDomain, ev.RecipientDomain = domainOf(ev.Sender), domainOf(ev.Recipient)
	*out = append(*out, ev)
	return nil
}

// rcptRefusal handles "<r>... User unknown": the daemon refused a recipient while
// receiving. Other "<r>... text" notes (verbose delivery progress) are context.
func (p *sendmailParser) rcptRefusal(key queueKey, ev Event, rest string, out *[]Event) error {
	addr, text, ok := strings.Cut(rest, "... ")
	if !ok || !strings.HasSuffix(addr, ">") {
		return nil
	}
	text = strings.TrimSpace(text)
	for _, prefix := range []string{"Connecting to ", "Sent", "Deferred", "aliased", "forwarded",
		"Recipient ok", "Sender ok", "Deliver", "Expanded", "Saved", "Using cached", "Closing"} {
		if strings.HasPrefix(text, prefix) {
			return nil
		}
	}
	if text == "" {
		return fmt.Errorf("sendmail %q without text", addr)
	}
	ev.Direction, ev.Outcome, ev.SMTPPhase = Inbound, Rejected, "rcpt"
	ev.Recipient = cleanAddr(addr)
	ev.RecipientDomain = domainOf(ev.Recipient)
	ev.Response = text
	if key.QID != "" {
		if e := p.state.get(key, false); e != nil {
			ev.Sender, ev.SenderDomain = e.Sender, domainOf(e.Sender)
		}
	}
	*out = append(*out, ev)
	return nil
}

// setSource remembers the local IP of key's outgoing connection in the queue entry, so that
// it is saved and restored with the State.
func (p *sendmailParser) setSource(key queueKey, ip string) {
	if ip == "" {
		return
	}
	p.state.get(key, true).SendingIP = p.state.intern(ip)
}

// sendmailKeys are the field names of Sendmail's from=, to= and ruleset lines.
var sendmailKeys = map[string]bool{
	"to": true, "from": true, "ctladdr": true, "delay": true, "xdelay": true, "mailer": true, "pri": true,
	"relay": true, "dsn": true, "size": true, "class": true, "nrcpts": true, "msgid": true, "bodytype": true,
	"proto": true, "daemon": true, "ruleset": true, "arg1": true, "arg2": true, "arg3": true, "tls_verify": true,
	"auth": true, "quarantine": true, "orcpt": true, "ntries": true, "stat": true, "reject": true,
}

// sendmailFields splits "k=v, k=v, …" into a map. A value runs to the next ", " that starts
// a known key, so "to=Jane <j@x>, …" and "relay=h [ip] (may be forged), …" stay whole.
func sendmailFields(s string) map[string]string {
	m := make(map[string]string, 8)
	key, start := "", 0
	emit := func(end int) {
		if key != "" {
			m[key] = strings.TrimSpace(s[start:end])
		}
	}
	for i := 0; i <= len(s); {
		// Each segment starts at i; find "k=" at its start.
		if eq := strings.IndexByte(s[i:], '='); eq > 0 && sendmailKeys[s[i:i+eq]] {
			emit(max(i-2, start))
			key, start = s[i:i+eq], i+eq+1
		}
		next := strings.Index(s[i:], ", ")
		if next < 0 {
			break
		}
		i += next + 2
	}
	emit(len(s))
	return m
}

// splitSendmailRcpts splits a to= list ("<a@x>,<b@y>", "a@x", "Jane <j@x>") into addresses,
// without duplicates.
func splitSendmailRcpts(s string) []string {
	var out []string
	depth, start := 0, 0
	add := func(part string) {
		part = strings.TrimSpace(part)
		if lt := strings.IndexByte(part, '<'); lt >= 0 {
			if gt := strings.IndexByte(part[lt:], '>'); gt >= 0 {
				part = part[lt : lt+gt+1]
			}
		}
		a := cleanAddr(part)
		if a == "" {
			return
		}
		for _, o := range out {
			if o == a {
				return
			}
		}
		out = append(out, a)
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth <= 0 {
				add(s[start:i])
				start = i + 1
			}
		}
	}
	add(s[start:])
	return out
}

// sendmailRelay splits a Sendmail relay= value: "mx.example.net. [192.0.2.1]", "[192.0.2.1]
// [192.0.2.1]", "mx.example.net.", "h [IPv6:2001:db8::1]", "h [ip] (may be forged)",
// "user@localhost" and "[mail.example.net]" (a bracketed host name: no MX lookup).
func sendmailRelay(s string) (host, ip string) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "(may be forged)"))
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]") {
			inner := strings.TrimPrefix(f[1:len(f)-1], "IPv6:")
			if a, err := netip.ParseAddr(inner); err == nil {
				if ip == "" {
					ip = a.String()
				}
			} else if host == "" {
				host = strings.TrimSuffix(inner, ".")
			}
			continue
		}
		if host == "" {
			if at := strings.LastIndexByte(f, '@'); at >= 0 {
				f = f[at+1:] // "user@localhost": a local submission
			}
			host = strings.TrimSuffix(f, ".")
		}
	}
	return host, ip
}
