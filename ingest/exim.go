package ingest

import (
	"fmt"
	"strings"
)

// eximParser reads Exim's mainlog and rejectlog: "<=" arrivals (sender, bounce parents),
// "=>"/"->"/">>" deliveries, "**" failures, "==" deferrals, and rejectlog refusals.
type eximParser struct{ state *State }

// FormatExim is Exim's mainlog and rejectlog, in its own files or through syslog.
const FormatExim Format = "exim"

func init() {
	register(formatSpec{format: FormatExim, detect: detectExim,
		newFn: func(st *State) parser { return &eximParser{state: st} }})
}

func detectExim(rec *Record) bool {
	if strings.HasPrefix(rec.Program, "exim") {
		return true
	}
	return rec.Program == "" && isEximLine(rec.Message)
}

func (p *eximParser) flush(*[]Event) {}

// isEximID accepts the 16-character (1jmFYj-00039V-QX) and the 23-character
// (1sDcIh-000000004YY-3wAT, Exim 4.97+) message ids.
func isEximID(s string) bool {
	switch len(s) {
	case 16:
		return s[6] == '-' && s[13] == '-' && alnum(s[:6]) && alnum(s[7:13]) && alnum(s[14:])
	case 23:
		return s[6] == '-' && s[18] == '-' && alnum(s[:6]) && alnum(s[7:18]) && alnum(s[19:])
	}
	return false
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return s != ""
}

// stripEximPID removes a leading "[pid] " (log_selector +pid).
func stripEximPID(s string) string {
	s = stripEximTimestamp(s)
	if strings.HasPrefix(s, "[") {
		if end := strings.IndexByte(s, ']'); end > 1 && allDigits(s[1:end]) {
			return strings.TrimLeft(s[end+1:], " ")
		}
	}
	return s
}

// stripEximTimestamp removes the timestamp Exim writes into its syslog messages too
// (syslog_timestamp = true, the default): "2026-11-22 09:00:00[.123][ +0100] ".
func stripEximTimestamp(s string) string {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
		!allDigits(s[0:4]) || !allDigits(s[11:13]) || !allDigits(s[17:19]) {
		return s
	}
	rest := s[19:]
	if len(rest) > 4 && rest[0] == '.' && allDigits(rest[1:4]) {
		rest = rest[4:]
	}
	if len(rest) > 6 && rest[0] == ' ' && (rest[1] == '+' || rest[1] == '-') && allDigits(rest[2:6]) {
		rest = rest[6:]
	}
	if rest == "" || rest[0] != ' ' {
		return s
	}
	return strings.TrimLeft(rest, " ")
}

// isEximLine reports a framed Exim mainlog or rejectlog message.
func isEximLine(msg string) bool {
	msg = stripEximPID(msg)
	id, _, _ := strings.Cut(msg, " ")
	if isEximID(id) {
		return true
	}
	// rejectlog lines without a message id start with the client's fields.
	for _, f := range []string{"H=", "U=", "F=", "I="} {
		if strings.HasPrefix(msg, f) {
			return strings.Contains(msg, " rejected ")
		}
	}
	return false
}

func (p *eximParser) parse(rec *Record, out *[]Event) error {
	p.state.advance(rec.Time)
	msg := stripEximPID(rec.Message)
	base := Event{EventTime: rec.Time, Line: rec.Line, MTA: "exim", MTAHost: rec.Host, MTAInstance: "exim"}
	id, rest, _ := strings.Cut(msg, " ")
	if !isEximID(id) {
		if strings.Contains(msg, " rejected ") {
			return p.reject(base, msg, out)
		}
		return nil // other context: authenticator failures, connections, queue runs
	}
	base.QueueID = id
	key := queueKey{Host: rec.Host, Instance: "exim", QID: id}
	flag, rest, _ := strings.Cut(rest, " ")
	switch flag {
	case "<=":
		sender, fields, _ := strings.Cut(rest, " ")
		e := p.state.get(key, true)
		if sender == "<>" {
			sender = ""
			if parent := fieldValue(fields, "R="); isEximID(parent) {
				e.Notification = true // a bounce Exim generated for message parent
			}
		}
		e.Sender, e.HasSender = p.state.intern(sender), true
		if u := fieldValue(fields, "A="); u != "" {
			if _, user, ok := strings.Cut(u, ":"); ok {
				e.SASLUser = p.state.intern(user)
			}
		}
		if mid := fieldValue(fields, "id="); mid != "" {
			e.MessageID = strings.Clone(mid)
		}
		return nil
	case "=>", "->", ">>":
		base.Outcome = Delivered
	case "**":
		base.Outcome = Bounced
	case "==":
		base.Outcome = Deferred
	case "Completed":
		p.state.remove(key)
		return nil
	default:
		if strings.Contains(rest, " rejected ") {
			return p.reject(base, rest, out) // rejectlog line with a message id (after DATA)
		}
		return nil // "*>" suppressed, "(=" fakereject, "SMTP connection …", frozen, …
	}
	return p.delivery(key, base, rest, out)
}

func (p *eximParser) delivery(key queueKey, ev Event, rest string, out *[]Event) error {
	addr, fields, _ := strings.Cut(rest, " ")
	if strings.HasSuffix(addr, ":") { // "** addr: retry timeout exceeded"
		addr = strings.TrimSuffix(addr, ":")
		fields = ": " + fields
	}
	if addr == "" {
		return fmt.Errorf("exim %s line without recipient", ev.Outcome)
	}
	ev.Recipient = cleanAddr(addr)
	ev.RecipientDomain = domainOf(ev.Recipient)
	ev.Direction = Outbound
	ev.Transport = fieldValue(fields, "T=")
	host := fieldValue(fields, "H=")
	ev.RemoteHost = strings.Trim(host, "()")
	if i := strings.Index(fields, "H="+host+" ["); i >= 0 {
		ipPart := fields[i+len("H="+host+" ["):]
		if end := strings.IndexAny(ipPart, "]:"); end > 0 {
			_, ev.RemoteIP = splitHostIP("[" + ipPart[:end] + "]")
		}
	}
	if iface := fieldValue(fields, "I="); iface != "" {
		_, ev.SendingIP = splitHostIP(strings.SplitN(iface, "]", 2)[0] + "]")
	}
	e := p.state.get(key, true)
	if s := fieldValue(fields, "F="); s != "" {
		e.Sender, e.HasSender = p.state.intern(cleanAddr(s)), true
	}
	ev.Sender, ev.SenderDomain = e.Sender, domainOf(e.Sender)
	ev.MessageID, ev.SASLUser, ev.Notification = e.MessageID, e.SASLUser, e.Notification
	if ev.Outcome == Delivered {
		ev.Response = unquote(fieldValue(fields, "C="))
		*out = append(*out, ev)
		return nil
	}
	text := eximErrorText(fields)
	lower := strings.ToLower(text)
	if strings.Contains(lower, "retry time not reached") {
		return nil // no delivery was attempted: counting it would inflate deferrals
	}
	if ev.Outcome == Bounced && strings.Contains(lower, "retry timeout exceeded") {
		ev.Outcome = Expired
	}
	ev.Response = text
	*out = append(*out, ev)
	return nil
}

// eximErrorText returns the error of a "**" or "==" line: from "SMTP error from remote mail
// server" when present, otherwise after the first ": " that follows the known fields.
func eximErrorText(fields string) string {
	for _, marker := range []string{"SMTP error from remote mail server", "SMTP error from remote mailer"} {
		if i := strings.Index(fields, marker); i >= 0 {
			return strings.TrimSpace(fields[i:])
		}
	}
	// Skip quoted values (DN="…: …") while looking for the separator.
	quoted := false
	for i := 0; i+1 < len(fields); i++ {
		switch fields[i] {
		case '"':
			quoted = !quoted
		case ':':
			if !quoted && fields[i+1] == ' ' {
				head := fields[:i]
				text := strings.TrimSpace(fields[i+2:])
				// "defer (-44): text" keeps the errno word in the text for context.
				if j := strings.LastIndex(head, "defer ("); j >= 0 && !strings.Contains(head[j:], " ") {
					return text
				}
				return text
			}
		}
	}
	return strings.TrimSpace(fields)
}

// reject handles rejectlog lines: "H=(helo) [ip]:port F=<s> rejected RCPT <r>: reason".
func (p *eximParser) reject(ev Event, msg string, out *[]Event) error {
	i := strings.Index(msg, " rejected ")
	head, tail := msg[:i], msg[i+len(" rejected "):]
	verb, after, _ := strings.Cut(tail, " ")
	ev.Direction, ev.Outcome = Inbound, Rejected
	ev.SMTPPhase = phaseOfVerb(strings.ToUpper(verb))
	if strings.HasPrefix(strings.ToLower(tail), "after data") {
		ev.SMTPPhase = "data"
	}
	host := fieldValue(head, "H=")
	ev.RemoteHost = strings.Trim(host, "()")
	if j := strings.Index(head, "["); j >= 0 {
		if k := strings.IndexAny(head[j:], "]"); k > 0 {
			_, ev.RemoteIP = splitHostIP(head[j : j+k+1])
		}
	}
	ev.Sender = cleanAddr(fieldValue(head, "F="))
	ev.SenderDomain = domainOf(ev.Sender)
	if ev.SMTPPhase == "rcpt" {
		rcpt, _, _ := strings.Cut(after, ":")
		ev.Recipient = cleanAddr(rcpt)
		ev.RecipientDomain = domainOf(ev.Recipient)
	}
	if _, reason, ok := strings.Cut(tail, ": "); ok {
		ev.Response = strings.TrimSpace(reason)
	} else {
		ev.Response = strings.TrimSpace(tail)
	}
	*out = append(*out, ev)
	return nil
}

// fieldValue returns the value of an Exim "K=value" field: up to the next space, or the
// whole quoted string, or "(helo)" and an address in angle brackets kept whole.
func fieldValue(s, key string) string {
	for i := 0; ; {
		j := strings.Index(s[i:], key)
		if j < 0 {
			return ""
		}
		j += i
		if j == 0 || s[j-1] == ' ' {
			v := s[j+len(key):]
			if strings.HasPrefix(v, "\"") {
				if end := strings.IndexByte(v[1:], '"'); end >= 0 {
					return v[:end+2]
				}
			}
			if end := strings.IndexAny(v, " "); end >= 0 {
				v = v[:end]
			}
			return strings.TrimSuffix(v, ":")
		}
		i = j + len(key)
	}
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
