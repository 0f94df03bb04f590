package ingest

import (
	"fmt"
	"net/netip"
	"strings"
)

// FormatOpenSMTPD is OpenSMTPD's syslog output (program smtpd).
const FormatOpenSMTPD Format = "opensmtpd"

func init() {
	register(formatSpec{format: FormatOpenSMTPD, detect: detectOpenSMTPD,
		newFn: func(st *State) parser {
			p := &opensmtpdParser{state: st, sessions: map[string]smtpdSession{}}
			st.attach(string(FormatOpenSMTPD), p)
			return p
		}})
}

// maxSmtpdSessions bounds the inbound sessions an opensmtpdParser remembers.
const maxSmtpdSessions = 50_000

// opensmtpdParser reads OpenSMTPD logs: the ≥6.4 "SESSION mta delivery …" and "SESSION mda
// delivery …" records, the pre-6.4 "delivery: RESULT for EVPID: …" and "relay: RESULT for
// EVPID: …" records (including "Expire"), and inbound refusals ("SESSION smtp
// failed-command …", pre-6.4 "smtp-in: Failed command on session …"). Each delivery record
// names its envelope's sender and recipient, so no queue correlation is needed; the client
// address of inbound sessions is remembered for their refusals.
type opensmtpdParser struct {
	state    *State
	sessions map[string]smtpdSession
}

// smtpdSession is what an inbound session's "smtp connected" record said of its client.
type smtpdSession struct{ host, ip string }

// detectOpenSMTPD recognises the program smtpd (Postfix's is "postfix/smtpd"), or an
// OpenSMTPD message without its syslog header ("4b3a6c195c1f6010 mta delivery evpid=…").
func detectOpenSMTPD(rec *Record) bool {
	if rec.Program == "smtpd" || rec.Program == "opensmtpd" {
		return true
	}
	if rec.Program != "" {
		return false
	}
	sid, rest, ok := strings.Cut(rec.Message, " ")
	if !ok || !isSmtpdID(sid) {
		return strings.HasPrefix(rec.Message, "smtp-in: ") ||
			(strings.HasPrefix(rec.Message, "delivery: ") || strings.HasPrefix(rec.Message, "relay: ")) &&
				strings.Contains(rec.Message, " for ") && strings.Contains(rec.Message, "stat=")
	}
	return strings.HasPrefix(rest, "mta ") || strings.HasPrefix(rest, "mda ") || strings.HasPrefix(rest, "smtp ")
}

// isSmtpdID accepts a 16-digit hexadecimal session or envelope id.
func isSmtpdID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func (p *opensmtpdParser) flush(*[]Event) {}

func (p *opensmtpdParser) parse(rec *Record, out *[]Event) error {
	p.state.advance(rec.Time)
	instance := rec.Program
	if instance == "" {
		instance = "smtpd"
	}
	base := Event{EventTime: rec.Time, Line: rec.Line, MTA: "opensmtpd", MTAHost: rec.Host, MTAInstance: instance}
	msg := rec.Message
	if strings.HasPrefix(msg, "smtp-in: ") {
		return p.legacyInbound(base, msg[len("smtp-in: "):], out)
	}
	if strings.HasPrefix(msg, "delivery: ") || strings.HasPrefix(msg, "relay: ") {
		if err := p.legacyDelivery(base, msg, out); err != nil {
			return fmt.Errorf("opensmtpd legacy delivery line: %w", err)
		}
		return nil
	}
	sid, rest, ok := strings.Cut(msg, " ")
	if !ok || !isSmtpdID(sid) {
		return nil // startup, configuration and table messages
	}
	kind, rest, _ := strings.Cut(rest, " ")
	event, fields, _ := strings.Cut(rest, " ")
	switch {
	case (kind == "mta" || kind == "mda") && event == "delivery":
		if err := p.delivery(base, kind, fields, out); err != nil {
			return fmt.Errorf("opensmtpd %s delivery line: %w", kind, err)
		}
	case kind == "smtp" && event == "connected":
		p.remember(sid, smtpdValue(fields, "host"), smtpdValue(fields, "address"))
	case kind == "smtp" && event == "disconnected":
		delete(p.sessions, sid)
	case kind == "smtp" && event == "failed-command":
		cmd := smtpdValue(fields, "command")
		result := smtpdValue(fields, "result")
		if result == "" {
			return fmt.Errorf("opensmtpd failed-command line without result")
		}
		p.inboundRefusal(base, sid, cmd, result, out)
	}
	return nil
}

// delivery handles "mta delivery evpid=E from=<s> to=<r> rcpt=<-> source="IP" relay="IP
// (host)" delay=Ns result="Ok|TempFail|PermFail|Loop" stat="text"" and the mda form with
// user= instead of source= and relay=.
func (p *opensmtpdParser) delivery(ev Event, kind, fields string, out *[]Event) error {
	result := smtpdValue(fields, "result")
	if result == "" {
		return fmt.Errorf("no result=")
	}
	stat := ""
	if i := strings.Index(fields, " stat="); i >= 0 {
		stat = strings.TrimSpace(fields[i+len(" stat="):])
	} else if strings.HasPrefix(fields, "stat=") {
		stat = fields[len("stat="):]
	}
	if len(stat) >= 2 && stat[0] == '"' && stat[len(stat)-1] == '"' {
		stat = stat[1 : len(stat)-1]
	}
	if err := setSmtpdOutcome(&ev, result); err != nil {
		return err
	}
	ev.QueueID = smtpdValue(fields, "evpid")
	ev.Direction = Outbound
	ev.Transport = kind
	ev.Response = stat
	ev.Sender = cleanAddr(smtpdValue(fields, "from"))
	ev.Recipient = cleanAddr(smtpdValue(fields, "to"))
	ev.SenderDomain, ev.RecipientDomain = domainOf(ev.Sender), domainOf(ev.Recipient)
	if src := smtpdValue(fields, "source"); src != "" {
		if a, err := netip.ParseAddr(strings.Trim(src, "[]")); err == nil {
			ev.SendingIP = a.String()
		}
	}
	ev.RemoteHost, ev.RemoteIP = smtpdRelay(smtpdValue(fields, "relay"))
	if e := smtpdEnhanced(stat); e != "" {
		ev.EnhancedStatus = e
	}
	*out = append(*out, ev)
	return nil
}

// setSmtpdOutcome maps OpenSMTPD's result word to an outcome.
func setSmtpdOutcome(ev *Event, result string) error {
	switch result {
	case "Ok":
		ev.Outcome = Delivered
	case "TempFail":
		ev.Outcome = Deferred
	case "PermFail", "Loop", "Bounce":
		ev.Outcome = Bounced
	case "Expire":
		ev.Outcome = Expired
		ev.EnhancedStatus = "5.4.7" // as Postfix's expiry: the classifier knows it
	default:
		return fmt.Errorf("unknown result %q", result)
	}
	return nil
}

// legacyDelivery handles pre-6.4 records: "delivery: TempFail for EVPID: from=<s>, to=<r>,
// user=u, method=m, delay=T, stat=text" (local), "relay: PermFail for EVPID: session=S,
// from=<s>, to=<r>, rcpt=<->, source=IP, relay=IP (host), delay=T, proto=ESMTP, stat=text"
// (remote) and the queue's "relay: Expire for EVPID: …, stat=Envelope expired".
func (p *opensmtpdParser) legacyDelivery(ev Event, msg string, out *[]Event) error {
	kind, rest, _ := strings.Cut(msg, ": ")
	result, rest, ok := strings.Cut(rest, " for ")
	if !ok {
		return fmt.Errorf("no \"for EVPID\"")
	}
	if result == "Remove" {
		return nil // removed by the administrator: not a delivery outcome
	}
	if err := setSmtpdOutcome(&ev, result); err != nil {
		return err
	}
	evpid, fields, _ := strings.Cut(rest, ": ")
	ev.QueueID = evpid
	stat := ""
	if i := strings.Index(fields, "stat="); i >= 0 && (i == 0 || fields[i-1] == ' ') {
		fields, stat = fields[:i], strings.TrimSpace(fields[i+len("stat="):])
	}
	kv := map[string]string{}
	for _, f := range strings.Split(fields, ", ") {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	ev.Direction = Outbound
	ev.Transport = "mta"
	if kind == "delivery" {
		ev.Transport = "mda"
	}
	ev.Response = stat
	ev.Sender, ev.Recipient = cleanAddr(kv["from"]), cleanAddr(kv["to"])
	ev.SenderDomain, ev.RecipientDomain = domainOf(ev.Sender), domainOf(ev.Recipient)
	if a, err := netip.ParseAddr(strings.Trim(kv["source"], "[]")); err == nil {
		ev.SendingIP = a.String()
	}
	ev.RemoteHost, ev.RemoteIP = smtpdRelay(kv["relay"])
	if e := smtpdEnhanced(stat); e != "" {
		ev.EnhancedStatus = e
	}
	*out = append(*out, ev)
	return nil
}

// legacyInbound handles pre-6.4 "smtp-in:" records: "New session SID from host H [IP]"
// (context) and "Failed command on session SID: "CMD" => 4xx text" (a refusal).
func (p *opensmtpdParser) legacyInbound(ev Event, msg string, out *[]Event) error {
	switch {
	case strings.HasPrefix(msg, "New session "):
		sid, rest, _ := strings.Cut(msg[len("New session "):], " ")
		if h, ok := strings.CutPrefix(rest, "from host "); ok {
			host, ip := splitHostIP(strings.ReplaceAll(h, " [", "["))
			p.remember(sid, host, ip)
		}
	case strings.HasPrefix(msg, "Closing session "):
		delete(p.sessions, strings.TrimSpace(msg[len("Closing session "):]))
	case strings.HasPrefix(msg, "Failed command on session "):
		sid, rest, ok := strings.Cut(msg[len("Failed command on session "):], ": ")
		if !ok {
			return fmt.Errorf("opensmtpd failed command without session id")
		}
		cmd, result, ok := strings.Cut(rest, " => ")
		if !ok {
			return fmt.Errorf("opensmtpd failed command without \"=>\" result")
		}
		p.inboundRefusal(ev, sid, strings.Trim(cmd, "\" "), strings.TrimSpace(result), out)
	}
	return nil
}

// inboundRefusal emits the refusal of an SMTP command by the receiving side.
func (p *opensmtpdParser) inboundRefusal(ev Event, sid, cmd, result string, out *[]Event) {
	ev.Direction, ev.Outcome, ev.Response = Inbound, Rejected, result
	verb, arg, _ := strings.Cut(strings.TrimSpace(cmd), " ")
	verb = strings.ToUpper(verb)
	ev.SMTPPhase = phaseOfVerb(verb)
	switch verb {
	case "MAIL":
		if _, a, ok := strings.Cut(arg, ":"); ok {
			ev.Sender = cleanAddr(firstField(strings.TrimSpace(a)))
		}
	case "RCPT":
		if _, a, ok := strings.Cut(arg, ":"); ok {
			ev.Recipient = cleanAddr(firstField(strings.TrimSpace(a)))
		}
	}
	ev.SenderDomain, ev.RecipientDomain = domainOf(ev.Sender), domainOf(ev.Recipient)
	ev.EnhancedStatus = smtpdEnhanced(result)
	if s, ok := p.sessions[sid]; ok {
		ev.RemoteHost, ev.RemoteIP = s.host, s.ip
	}
	*out = append(*out, ev)
}

// remember records the client of an inbound session.
func (p *opensmtpdParser) remember(sid, host, ip string) {
	if sid == "" {
		return
	}
	if a, err := netip.ParseAddr(ip); err == nil {
		ip = a.String()
	} else {
		ip = "" // "local", a UNIX socket
	}
	if len(p.sessions) >= maxSmtpdSessions {
		clear(p.sessions) // sessions are short: losing the open ones costs a few remote IPs
	}
	p.sessions[strings.Clone(sid)] = smtpdSession{host: p.state.intern(host), ip: p.state.intern(ip)}
}

// saveAux returns the open inbound sessions, for State.Save.
func (p *opensmtpdParser) saveAux() ([]byte, error) {
	m := make(map[string][2]string, len(p.sessions))
	for id, s := range p.sessions {
		m[id] = [2]string{s.host, s.ip}
	}
	return gobBytes(m)
}

// restoreAux replaces the open inbound sessions with what saveAux wrote.
func (p *opensmtpdParser) restoreAux(b []byte) error {
	var m map[string][2]string
	if err := fromGob(b, &m); err != nil {
		return err
	}
	clear(p.sessions)
	for id, s := range m {
		if len(p.sessions) >= maxSmtpdSessions {
			break
		}
		p.sessions[id] = smtpdSession{host: p.state.intern(s[0]), ip: p.state.intern(s[1])}
	}
	return nil
}

// smtpdValue returns the value of key in OpenSMTPD's "k=v k="quoted v"" list: a quoted value
// runs to the closing quote that ends a field, an unquoted one to the next space.
func smtpdValue(s, key string) string {
	for i := 0; ; {
		j := strings.Index(s[i:], key+"=")
		if j < 0 {
			return ""
		}
		j += i
		if j == 0 || s[j-1] == ' ' {
			v := s[j+len(key)+1:]
			if strings.HasPrefix(v, "\"") {
				// The closing quote is the one followed by a space and another key, or the end.
				for k := 1; k < len(v); k++ {
					if v[k] == '"' && (k == len(v)-1 || v[k+1] == ' ' && smtpdKeyAt(v[k+2:])) {
						return v[1:k]
					}
				}
				return v[1:]
			}
			if end := strings.IndexByte(v, ' '); end >= 0 {
				v = v[:end]
			}
			return v
		}
		i = j + len(key) + 1
	}
}

// smtpdKeyAt reports whether s starts with "word=".
func smtpdKeyAt(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			return i > 0
		case 'a' <= c && c <= 'z', c == '-', c == '_':
		default:
			return false
		}
	}
	return false
}

// smtpdRelay splits "IP (host)", "host [IP]" and a bare IP or host.
func smtpdRelay(s string) (host, ip string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	first, rest, _ := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	if a, err := netip.ParseAddr(strings.TrimPrefix(strings.Trim(first, "[]"), "IPv6:")); err == nil {
		return strings.Trim(rest, "()[] "), a.String()
	}
	if strings.HasPrefix(rest, "[") {
		if a, err := netip.ParseAddr(strings.TrimPrefix(strings.Trim(rest, "[] "), "IPv6:")); err == nil {
			ip = a.String()
		}
	}
	return strings.Trim(first, "()"), ip
}

// smtpdEnhanced returns the enhanced status code ("4.3.0") a reply text carries in its first
// words, or "". Reply texts such as "250 2.0.0: f6e94209 Message accepted" put it after the
// code, sometimes with a colon.
func smtpdEnhanced(text string) string {
	f := strings.Fields(text)
	for i := 0; i < len(f) && i < 2; i++ {
		w := strings.TrimRight(f[i], ":,;")
		if isSmtpdEnhanced(w) {
			return w
		}
	}
	return ""
}

// isSmtpdEnhanced reports "class.subject.detail" with class 2, 4 or 5 (RFC 3463).
func isSmtpdEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return false
	}
	return len(parts[1]) >= 1 && len(parts[1]) <= 3 && allDigits(parts[1]) &&
		len(parts[2]) >= 1 && len(parts[2]) <= 3 && allDigits(parts[2])
}
