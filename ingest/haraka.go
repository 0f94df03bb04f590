package ingest

import (
	"fmt"
	"net/netip"
	"strings"
)

// FormatHaraka is Haraka's log output ("[LEVEL] [UUID] [plugin] text"), in its own files,
// with a timestamp in front, or through syslog.
const FormatHaraka Format = "haraka"

func init() {
	register(formatSpec{format: FormatHaraka, detect: detectHaraka,
		newFn: func(st *State) parser {
			p := &harakaParser{state: st, items: map[string]*harakaItem{}}
			st.attach(string(FormatHaraka), p)
			return p
		}})
}

// maxHarakaItems bounds the outbound items a harakaParser follows at once.
const maxHarakaItems = 50_000

// harakaParser reads the [outbound] lines of Haraka's log: "delivered file=… domain=… host=…
// ip=… response="…" … rcpts=ok/fail/bounce", "Temp failing FILE for N seconds: ERR" and
// "bouncing mail: ERR". Those lines name no recipient; the recipients, the sender and each
// recipient's RCPT reply come from the protocol lines ("C: MAIL FROM:<s>", "C: RCPT
// TO:<r>", "S: 550 …") of the same outbound item (its UUID) when the log level includes
// them. Without them a failure becomes one event with the recipient domain only.
type harakaParser struct {
	state *State
	items map[string]*harakaItem
}

// harakaItem is what the log told so far of one outbound item (one queue file, one domain).
type harakaItem struct {
	sender     string
	hasSender  bool
	rcpts      []harakaRcpt
	lastRcpt   int // index of the recipient whose RCPT reply is awaited, or -1
	host, ip   string
	domain     string
	sendingIP  string
	lastReply  string // the last complete server reply
	replyLines []string
}

// harakaRcpt is one recipient of an outbound item and its RCPT reply in the current attempt.
type harakaRcpt struct {
	addr  string
	reply string
}

// harakaItemSaved is the saved form of a harakaItem.
type harakaItemSaved struct {
	Sender                      string
	HasSender                   bool
	Rcpts                       [][2]string // address, RCPT reply
	LastRcpt                    int
	Host, IP, Domain, SendingIP string
	LastReply                   string
	ReplyLines                  []string
}

// saveAux returns the open outbound items, for State.Save.
func (p *harakaParser) saveAux() ([]byte, error) {
	m := make(map[string]harakaItemSaved, len(p.items))
	for id, it := range p.items {
		v := harakaItemSaved{Sender: it.sender, HasSender: it.hasSender, LastRcpt: it.lastRcpt, Host: it.host,
			IP: it.ip, Domain: it.domain, SendingIP: it.sendingIP, LastReply: it.lastReply, ReplyLines: it.replyLines}
		for _, r := range it.rcpts {
			v.Rcpts = append(v.Rcpts, [2]string{r.addr, r.reply})
		}
		m[id] = v
	}
	return gobBytes(m)
}

// restoreAux replaces the open outbound items with what saveAux wrote.
func (p *harakaParser) restoreAux(b []byte) error {
	var m map[string]harakaItemSaved
	if err := fromGob(b, &m); err != nil {
		return err
	}
	clear(p.items)
	for id, v := range m {
		if len(p.items) >= maxHarakaItems {
			break
		}
		it := &harakaItem{sender: v.Sender, hasSender: v.HasSender, lastRcpt: v.LastRcpt, host: v.Host, ip: v.IP,
			domain: v.Domain, sendingIP: v.SendingIP, lastReply: v.LastReply, replyLines: v.ReplyLines}
		if it.lastRcpt >= len(v.Rcpts) {
			it.lastRcpt = -1
		}
		for _, r := range v.Rcpts {
			it.rcpts = append(it.rcpts, harakaRcpt{addr: r[0], reply: r[1]})
		}
		p.items[id] = it
	}
	return nil
}

// harakaLevels are the level tags of Haraka's logger.
var harakaLevels = map[string]bool{"[DATA]": true, "[PROTOCOL]": true, "[DEBUG]": true, "[INFO]": true,
	"[NOTICE]": true, "[WARN]": true, "[WARNING]": true, "[ERROR]": true, "[CRIT]": true, "[ALERT]": true,
	"[EMERG]": true}

// splitHaraka takes "[LEVEL] [UUID] [plugin] text" apart (the level is optional; a framer
// may have taken it for the host). ok is false for any other shape.
func splitHaraka(msg string) (id, plugin, text string, ok bool) {
	s := strings.TrimLeft(msg, " ")
	if frac, rest, found := strings.Cut(s, " "); found && allDigits(frac) {
		// "2026-07-23 20:55:28.029305500  [NOTICE] …": a framer that reads milliseconds
		// only leaves the rest of the fraction in front.
		s = strings.TrimLeft(rest, " ")
	}
	if lvl, rest, found := strings.Cut(s, " "); found && harakaLevels[lvl] {
		s = strings.TrimLeft(rest, " ")
	}
	if !strings.HasPrefix(s, "[") {
		return "", "", "", false
	}
	end := strings.IndexByte(s, ']')
	if end < 0 || end > 80 {
		return "", "", "", false
	}
	id, s = s[1:end], strings.TrimLeft(s[end+1:], " ")
	if !strings.HasPrefix(s, "[") {
		return "", "", "", false
	}
	end = strings.IndexByte(s, ']')
	if end < 0 || end > 40 {
		return "", "", "", false
	}
	plugin, text = s[1:end], strings.TrimLeft(s[end+1:], " ")
	// Pool messages: "[-] [core] [outbound] text".
	if plugin == "core" && strings.HasPrefix(text, "[outbound] ") {
		plugin, text = "outbound", text[len("[outbound] "):]
	}
	return id, plugin, text, true
}

// isHarakaID accepts "-" and UUIDs with the ".N.M" transaction suffixes.
func isHarakaID(id string) bool {
	if id == "-" {
		return true
	}
	base, _, _ := strings.Cut(id, ".")
	if len(base) != 36 {
		return false
	}
	for i := 0; i < len(base); i++ {
		c := base[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'A' <= c && c <= 'F', 'a' <= c && c <= 'f':
		default:
			return false
		}
	}
	return true
}

// detectHaraka recognises the program haraka, or a message in Haraka's own shape.
func detectHaraka(rec *Record) bool {
	if strings.HasPrefix(strings.ToLower(rec.Program), "haraka") {
		return true
	}
	if rec.Program != "" {
		return false
	}
	id, _, _, ok := splitHaraka(rec.Message)
	return ok && isHarakaID(id)
}

func (p *harakaParser) flush(*[]Event) {}

func (p *harakaParser) parse(rec *Record, out *[]Event) error {
	p.state.advance(rec.Time)
	host := rec.Host
	if harakaLevels[host] {
		host = "" // an RFC 3339 timestamp followed by "[LEVEL]": the framer took the level for the host
	}
	id, plugin, text, ok := splitHaraka(rec.Message)
	if !ok {
		if rec.Program != "" {
			return nil // Haraka's start-up and plugin-loading messages
		}
		return fmt.Errorf("haraka line without [UUID] [plugin]")
	}
	if plugin != "outbound" || id == "-" || id == "" {
		return nil // inbound connections, other plugins, the client pool
	}
	base := Event{EventTime: rec.Time, Line: rec.Line, MTA: "haraka", MTAHost: host, MTAInstance: "haraka",
		QueueID: id, Direction: Outbound, Transport: "outbound"}
	switch {
	case strings.HasPrefix(text, "C: "):
		p.command(id, text[len("C: "):])
	case strings.HasPrefix(text, "S: "):
		p.reply(id, text[len("S: "):])
	case strings.HasPrefix(text, "Attempting to deliver to: "), strings.HasPrefix(text, "Attempting delivery for mx: "):
		_, target, _ := strings.Cut(text, ": ")
		target = firstField(target)
		it := p.item(id)
		it.ip = harakaIP(target)
		if it.ip == "" {
			it.host = target
		}
		it.resetAttempt()
	case strings.HasPrefix(text, "Looking up A records for: "), strings.HasPrefix(text, "Looking up AAAA records for: "):
		_, h, _ := strings.Cut(text, ": ")
		p.item(id).host = strings.TrimSpace(h)
	case strings.Contains(text, " - Local ("):
		// "Failed to get socket: connect EHOSTUNREACH IP:25 - Local (LOCALIP:PORT)"
		_, local, _ := strings.Cut(text, " - Local (")
		local, _, _ = strings.Cut(local, ")")
		if ip := harakaIP(local); ip != "" {
			p.item(id).sendingIP = ip
		}
	case strings.HasPrefix(text, "delivered "):
		if err := p.delivered(id, base, text[len("delivered "):], out); err != nil {
			return fmt.Errorf("haraka delivered line: %w", err)
		}
	case strings.HasPrefix(text, "Temp failing "):
		_, errText, ok := strings.Cut(text, " seconds: ")
		if !ok {
			return fmt.Errorf("haraka temp-fail line without \"seconds: \"")
		}
		p.failure(id, base, Deferred, errText, out)
		if it := p.items[id]; it != nil {
			it.resetAttempt()
		}
	case strings.HasPrefix(text, "bouncing mail: "), strings.HasPrefix(text, "Bouncing mail: "):
		p.failure(id, base, Bounced, text[len("bouncing mail: "):], out)
		delete(p.items, id)
	}
	return nil
}

// item returns the followed outbound item id, creating it.
func (p *harakaParser) item(id string) *harakaItem {
	it := p.items[id]
	if it == nil {
		if len(p.items) >= maxHarakaItems {
			clear(p.items) // items finish within seconds: losing open ones costs recipients only
		}
		it = &harakaItem{lastRcpt: -1}
		p.items[strings.Clone(id)] = it
	}
	return it
}

// resetAttempt forgets what the previous delivery attempt's replies said.
func (it *harakaItem) resetAttempt() {
	for i := range it.rcpts {
		it.rcpts[i].reply = ""
	}
	it.lastRcpt, it.lastReply, it.replyLines = -1, "", nil
}

// command handles a client command of the protocol log.
func (p *harakaParser) command(id, cmd string) {
	upper := strings.ToUpper(cmd)
	switch {
	case strings.HasPrefix(upper, "MAIL FROM:"):
		it := p.item(id)
		it.sender, it.hasSender = p.state.intern(cleanAddr(firstField(cmd[len("MAIL FROM:"):]))), true
		it.lastRcpt = -1
	case strings.HasPrefix(upper, "RCPT TO:"):
		it := p.item(id)
		addr := cleanAddr(firstField(strings.TrimSpace(cmd[len("RCPT TO:"):])))
		it.lastRcpt = -1
		for i := range it.rcpts {
			if it.rcpts[i].addr == addr {
				it.lastRcpt = i
			}
		}
		if it.lastRcpt < 0 && len(it.rcpts) < 1000 {
			it.rcpts = append(it.rcpts, harakaRcpt{addr: strings.Clone(addr)})
			it.lastRcpt = len(it.rcpts) - 1
		}
		if it.domain == "" {
			it.domain = domainOf(addr)
		}
	default:
		if it := p.items[id]; it != nil {
			it.lastRcpt = -1
		}
	}
}

// reply handles a server reply line ("S: 550-5.7.26 text\r\n"); a multi-line reply is
// joined when its last line ("550 …") arrives.
func (p *harakaParser) reply(id, line string) {
	it := p.items[id]
	if it == nil {
		return // the greeting of a pooled connection, before any command of this item
	}
	line = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(line, "\\n"), "\\r"))
	if len(it.replyLines) < 50 {
		it.replyLines = append(it.replyLines, line)
	}
	if len(line) >= 4 && line[3] == '-' {
		return // continued
	}
	var b strings.Builder
	for i, l := range it.replyLines {
		if i > 0 {
			b.WriteByte(' ')
			if len(l) >= 4 && leadingCode(l) != 0 {
				l = l[4:] // "550-5.7.26 more" → "5.7.26 more", as Haraka itself joins them
			}
		}
		b.WriteString(l)
	}
	it.lastReply, it.replyLines = b.String(), nil
	if it.lastRcpt >= 0 && it.lastRcpt < len(it.rcpts) {
		it.rcpts[it.lastRcpt].reply = it.lastReply
		it.lastRcpt = -1
	}
}

// delivered handles "delivered file=F domain=D host=H ip=IP port=P mode=SMTP tls=Y auth=N
// response="text" delay=S fails=N rcpts=ok/fail/bounce" (values are quoted in some releases).
func (p *harakaParser) delivered(id string, ev Event, fields string, out *[]Event) error {
	response := smtpdValue(fields, "response")
	if response == "" && !strings.Contains(fields, "response=") {
		return fmt.Errorf("no response=")
	}
	domain := strings.Trim(smtpdValue(fields, "domain"), "\"")
	host := strings.Trim(smtpdValue(fields, "host"), "\"")
	ip := harakaIP(strings.Trim(smtpdValue(fields, "ip"), "\""))
	it := p.items[id]
	delete(p.items, id)
	ev.RemoteHost, ev.RemoteIP = host, ip
	if ev.RemoteHost == ev.RemoteIP && ip != "" {
		ev.RemoteHost = "" // "host=" repeats the IP when the MX was an address
	}
	if ev.RemoteHost == "" && it != nil && it.ip == ip {
		ev.RemoteHost = it.host
	}
	if it != nil {
		ev.Sender, ev.SenderDomain = it.sender, domainOf(it.sender)
		ev.SendingIP = it.sendingIP
	}
	if it == nil || len(it.rcpts) == 0 {
		ev.Outcome, ev.Response, ev.RecipientDomain = Delivered, response, strings.ToLower(domain)
		*out = append(*out, ev)
		return nil
	}
	for _, r := range it.rcpts {
		x := ev
		x.Recipient, x.RecipientDomain = r.addr, domainOf(r.addr)
		x.Outcome, x.Response = Delivered, response
		switch leadingCode(r.reply) / 100 {
		case 4:
			x.Outcome, x.Response, x.SMTPPhase = Deferred, r.reply, "rcpt"
		case 5:
			x.Outcome, x.Response, x.SMTPPhase = Bounced, r.reply, "rcpt"
		}
		*out = append(*out, x)
	}
	return nil
}

// failure emits the events of a temporary failure or a bounce of a whole outbound item: one
// per recipient the protocol lines named (a recipient refused at RCPT keeps its own reply),
// or one with the domain only.
func (p *harakaParser) failure(id string, ev Event, outcome Outcome, errText string, out *[]Event) {
	ev.Outcome, ev.Response = outcome, strings.TrimSpace(errText)
	it := p.items[id]
	if it == nil {
		*out = append(*out, ev)
		return
	}
	ev.Sender, ev.SenderDomain = it.sender, domainOf(it.sender)
	ev.RemoteHost, ev.RemoteIP, ev.SendingIP = it.host, it.ip, it.sendingIP
	if len(it.rcpts) == 0 {
		ev.RecipientDomain = it.domain
		*out = append(*out, ev)
		return
	}
	for _, r := range it.rcpts {
		x := ev
		x.Recipient, x.RecipientDomain = r.addr, domainOf(r.addr)
		if c := leadingCode(r.reply); c >= 400 {
			x.Response, x.SMTPPhase = r.reply, "rcpt"
			if c < 500 {
				x.Outcome = Deferred // refused for now: Haraka retries it
			} else {
				x.Outcome = Bounced // refused for good, whatever happened to the others
			}
		}
		*out = append(*out, x)
	}
}

// harakaIP returns the IP of "IP", "IP:port", "[IPv6]:port" or "IPv6", or "".
func harakaIP(s string) string {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.String()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 {
		if a, err := netip.ParseAddr(strings.Trim(s[:i], "[]")); err == nil {
			return a.String()
		}
	}
	return ""
}
