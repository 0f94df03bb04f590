package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"
)

// ErrNoBounce is returned by ParseMessage for a well-formed message in which no failed
// recipient, complaint or auto-reply could be found.
var ErrNoBounce = errors.New("dsn: no failed recipient, complaint or auto-reply found")

// bounceMsg is a bounce taken apart: its header, its decoded leaves and what it returned of
// the original message.
type bounceMsg struct {
	top      dsnHeader
	parts    []dsnPart
	report   string    // report-type of the multipart/report, "" when there is none
	text     string    // the human-readable notification, original-message copy cut off
	orig     dsnHeader // header of the returned original message; nil when not found
	excluded map[string]bool
	known    map[string]bool // recipients the report names: never excluded
	segs     []dsnSegment    // cached by segments
	preamble []string
	segsDone bool
	base     Event
}

// ParseMessage decodes one raw RFC 5322 message that came back to us (a DSN, a non-standard
// NDR, an ARF feedback report or an auto-reply) into unclassified events: one per recipient
// of an RFC 3464 report (failed, delayed or delivered), one per failed recipient found by
// heuristics in a non-standard NDR, one Complaint for a feedback report, one AutoReply for an
// auto-reply. Sender, MessageID and Headers come from the returned original message so the
// event can be tied to a customer.
//
// ParseMessage never panics and bounds its work: nesting, decoded size and header sizes are
// limited, and broken encodings keep what decodes. It returns ErrNoBounce (wrapped) when
// the message holds nothing it recognises.
func ParseMessage(raw []byte) ([]Event, error) { return parseMessage(raw, 0) }

// maxEmbedDepth bounds bounces found inside bounces (forwarded, or wrapped by a relay).
const maxEmbedDepth = 3

func parseMessage(raw []byte, depth int) ([]Event, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, errors.New("dsn: empty message")
	}
	top, body := dsnParseHeader(raw)
	if len(top) == 0 {
		return nil, errors.New("dsn: message has no header")
	}
	w := dsnWalker{budget: maxDecodedBytes, parts: make([]dsnPart, 0, 8)}
	w.walk(top, body, 0)
	m := &bounceMsg{top: top, parts: w.parts, report: w.report, known: map[string]bool{}}
	m.findOriginal()
	m.buildText()
	m.fillBase()

	if evs := m.feedback(); len(evs) > 0 {
		return evs, nil
	}
	if evs := m.deliveryStatus(); len(evs) > 0 {
		return evs, nil
	}
	if m.report == "" && m.isAutoReply() {
		return m.autoReply(), nil
	}
	if depth < maxEmbedDepth {
		if evs := m.embedded(depth); len(evs) > 0 {
			return evs, nil
		}
	}
	if evs := m.espNotification(); len(evs) > 0 {
		return evs, nil
	}
	if evs := m.heuristic(); len(evs) > 0 {
		return evs, nil
	}
	subj := dsnTrunc(dsnDecodeWords(top.get("subject")), 80)
	return nil, fmt.Errorf("message %q (subject %q): %w", dsnTrunc(top.get("message-id"), 120), subj, ErrNoBounce)
}

// StartsWithHeaderField reports whether b (blank lines at its start skipped) begins like a
// raw RFC 5322 message: a field name of letters, digits and dashes, a colon, then a blank, a
// line end or the end of b. No supported log format starts so: their lines begin with a
// timestamp, a priority, '{', '#' or a CSV field.
func StartsWithHeaderField(b []byte) bool {
	b = bytes.TrimLeft(b, "\r\n")
	i := 0
	for i < len(b) && i < 80 {
		c := b[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c == '-' || c >= '0' && c <= '9') {
			i++
			continue
		}
		break
	}
	if i == 0 || i >= len(b) || b[i] != ':' {
		return false
	}
	if i+1 == len(b) {
		return true
	}
	switch b[i+1] {
	case ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// Message decodes one raw bounce email with ParseMessage, classifies and enriches its events
// and appends them to out.
func (p *Processor) Message(raw []byte, out []Event) ([]Event, error) {
	evs, err := ParseMessage(raw)
	start := len(out)
	out = append(out, evs...)
	p.finish(out[start:])
	return out, err
}

// espNotification decodes an ESP event delivered by email (an Amazon SES notification sent
// through an SNS e-mail subscription, a provider webhook forwarded as mail): a text part that
// is one JSON object or array of one of the ESP event formats.
func (m *bounceMsg) espNotification() []Event {
	for _, p := range m.parts {
		if p.ctype != "text/plain" && p.ctype != "application/json" {
			continue
		}
		body := bytes.TrimSpace(p.body)
		if len(body) < 2 || body[0] != '{' && body[0] != '[' {
			continue
		}
		rec := &Record{Message: string(body), JSON: body[0] == '{'}
		if !json.Valid(body) {
			// Mail systems fold lines over 998 bytes: "\n " inside a JSON string.
			rec.Message = strings.ReplaceAll(strings.ReplaceAll(rec.Message, "\r\n", "\n"), "\n ", "")
		}
		f := detectESP(rec)
		if f == FormatUnknown {
			continue
		}
		var evs []Event
		if err := (espParser{format: f}).parse(rec, &evs); err != nil && len(evs) == 0 {
			continue
		}
		for i := range evs {
			if evs[i].EventTime.IsZero() {
				evs[i].EventTime = m.base.EventTime
			}
		}
		return evs
	}
	return nil
}

// findOriginal locates the header of the returned original message: a message/rfc822 or
// text/rfc822-headers part, or a copy of the header inlined in a text part.
func (m *bounceMsg) findOriginal() {
	for _, p := range m.parts {
		switch p.ctype {
		case "message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "message/global",
			"message/global-headers", "text/rfc822-header":
			h, _ := dsnParseHeader(p.body)
			if len(h) > 0 {
				m.orig = h
				return
			}
		}
	}
	for _, p := range m.parts {
		if p.ctype != "text/plain" {
			continue
		}
		if h, _ := findInlineHeader(p.body); h != nil {
			m.orig = h
			return
		}
	}
}

// buildText collects the human-readable notification: the text/plain parts (or the HTML ones
// converted when there is no plain text), with any inlined copy of the original cut off.
func (m *bounceMsg) buildText() {
	var b strings.Builder
	for _, want := range []string{"text/plain", "text/html"} {
		for _, p := range m.parts {
			if p.ctype != want {
				continue
			}
			body := p.body
			if want == "text/html" {
				body = dsnHTMLToText(body)
			}
			if len(body) > maxScanTextBytes {
				body = body[:maxScanTextBytes]
			}
			body = cutOriginal(body)
			b.Grow(len(body) + 1)
			// Written without carriage returns: the text is taken apart by lines.
			for len(body) > 0 {
				i := bytes.IndexByte(body, '\r')
				if i < 0 {
					b.Write(body)
					break
				}
				b.Write(body[:i])
				body = body[i+1:]
			}
			b.WriteByte('\n')
			if b.Len() > maxScanTextBytes {
				break
			}
		}
		if strings.TrimSpace(b.String()) != "" {
			break
		}
	}
	m.text = b.String()
}

// fillBase sets what every event of the message shares.
func (m *bounceMsg) fillBase() {
	ev := Event{MTA: "dsn", Direction: Outbound}
	if t, ok := dsnParseDate(m.top.get("date")); ok {
		ev.EventTime = t
	}
	if m.orig != nil {
		ev.MessageID = dsnCleanMessageID(m.orig.get("message-id"))
		for _, f := range m.orig {
			if strings.HasPrefix(f.name, "x-") && f.value != "" {
				if ev.Headers == nil {
					ev.Headers = map[string]string{}
				}
				if _, dup := ev.Headers[f.name]; !dup {
					ev.Headers[f.name] = dsnDecodeWords(f.value)
				}
			}
		}
		for _, name := range []string{"from", "return-path", "sender"} {
			if a := dsnFirstAddr(m.orig.get(name)); a != "" {
				ev.Sender = a
				break
			}
		}
	}
	if ev.Sender == "" {
		// The bounce goes back to the envelope sender of the original message.
		ev.Sender = dsnFirstAddr(m.top.get("to"))
	}
	if ev.Sender == "" {
		ev.Sender = dsnFirstAddr(m.top.get("x-original-to"))
	}
	ev.SenderDomain = domainOf(ev.Sender)
	m.base = ev

	m.excluded = map[string]bool{}
	for _, name := range []string{"from", "to", "reply-to", "sender", "return-path", "cc"} {
		for _, a := range dsnFindAddrs(m.top.get(name), 8) {
			m.excluded[strings.ToLower(a)] = true
		}
	}
	if m.orig != nil {
		for _, name := range []string{"from", "reply-to", "sender", "return-path"} {
			for _, a := range dsnFindAddrs(m.orig.get(name), 8) {
				m.excluded[strings.ToLower(a)] = true
			}
		}
	}
	if ev.Sender != "" {
		m.excluded[strings.ToLower(ev.Sender)] = true
	}
}

// feedback turns an ARF report (RFC 5965) into one Complaint event.
func (m *bounceMsg) feedback() []Event {
	var fb dsnHeader
	found := false
	for _, p := range m.parts {
		if p.ctype == "message/feedback-report" {
			fb, _ = dsnParseHeader(p.body)
			found = true
			break
		}
	}
	if !found && m.report != "feedback-report" {
		return nil
	}
	ev := m.base
	ev.Outcome = Complaint
	ev.Response = fb.get("feedback-type")
	ev.VendorClass = strings.ToLower(ev.Response)
	rcpt := dsnFirstAddr(fb.get("original-rcpt-to"))
	if rcpt == "" {
		rcpt = dsnFirstAddr(fb.get("removal-recipient"))
	}
	if rcpt == "" && m.orig != nil {
		rcpt = dsnFirstAddr(m.orig.get("to"))
	}
	ev.Recipient, ev.RecipientDomain = rcpt, domainOf(rcpt)
	if s := dsnFirstAddr(fb.get("original-mail-from")); s != "" && ev.Sender == "" {
		ev.Sender, ev.SenderDomain = s, domainOf(s)
	}
	for _, name := range []string{"arrival-date", "received-date"} {
		if t, ok := dsnParseDate(fb.get(name)); ok {
			ev.EventTime = t
			break
		}
	}
	ev.RemoteIP = strings.TrimSpace(fb.get("source-ip"))
	ev.MTAHost = strings.TrimSpace(fb.get("reporting-mta"))
	if _, v, ok := strings.Cut(ev.MTAHost, ";"); ok {
		ev.MTAHost = strings.TrimSpace(v)
	}
	return []Event{ev}
}

// deliveryStatus turns the message/delivery-status parts of an RFC 3464 report into events,
// one per recipient block.
func (m *bounceMsg) deliveryStatus() []Event {
	var evs []Event
	for _, p := range m.parts {
		if p.ctype != "message/delivery-status" && p.ctype != "message/global-delivery-status" {
			continue
		}
		evs = append(evs, m.statusBlocks(p.body)...)
	}
	if len(evs) > 0 {
		return evs
	}
	// No delivery-status part, but its fields inlined in a text part (lost MIME headers,
	// a relay that flattened the report).
	for _, p := range m.parts {
		if p.ctype != "text/plain" {
			continue
		}
		if at := indexStatusFields(p.body); at >= 0 {
			b := p.body[at:]
			if len(b) > 64<<10 {
				b = b[:64<<10]
			}
			evs = append(evs, m.statusBlocks(b)...)
			if len(evs) > 0 {
				return evs
			}
		}
	}
	return evs
}

// indexStatusFields returns the offset of the first line of inlined RFC 3464 fields
// (Reporting-MTA, or a Final-Recipient with an Action or Status nearby), or -1.
func indexStatusFields(b []byte) int {
	b = b[:min(len(b), maxScanTextBytes)]
	for pos := 0; pos < len(b); {
		end := bytes.IndexByte(b[pos:], '\n')
		next := len(b)
		if end >= 0 {
			next = pos + end + 1
		}
		line := b[pos:min(next, pos+24)]
		if dsnHasPrefixFoldBytes(line, "reporting-mta:") || dsnHasPrefixFoldBytes(line, "final-recipient:") ||
			dsnHasPrefixFoldBytes(line, "original-recipient:") {
			win := bytes.ToLower(b[pos:min(len(b), pos+2048)])
			if bytes.Contains(win, []byte("\naction:")) || bytes.Contains(win, []byte("\nstatus:")) {
				return pos
			}
		}
		pos = next
	}
	return -1
}

// dsnHasPrefixFoldBytes reports whether b starts with the lower-case ASCII prefix, in any
// case, without allocating.
func dsnHasPrefixFoldBytes(b []byte, prefix string) bool {
	return dsnHasPrefixFold(bytesView(b), prefix)
}

// dsnIndexFold returns the index of the first occurrence of the lower-case ASCII needle in b,
// in any case, or -1.
func dsnIndexFold(b []byte, needle string) int { return dsnIndexFoldString(bytesView(b), needle) }

// bytesView reads b as a string without copying it; the string must not outlive a change
// to b (the callers only search it).
func bytesView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// dsnIndexFoldString is dsnIndexFold for strings.
func dsnIndexFoldString(s, needle string) int {
	if needle == "" {
		return 0
	}
	first, upper := needle[0], needle[0]
	if first >= 'a' && first <= 'z' {
		upper = first - ('a' - 'A')
	}
	for i := 0; i+len(needle) <= len(s); {
		j := strings.IndexByte(s[i:], first)
		if upper != first {
			if k := strings.IndexByte(s[i:], upper); k >= 0 && (j < 0 || k < j) {
				j = k
			}
		}
		if j < 0 || i+j+len(needle) > len(s) {
			return -1
		}
		if dsnHasPrefixFold(s[i+j:], needle) {
			return i + j
		}
		i += j + 1
	}
	return -1
}

// dsnContainsFold reports whether s contains any of the lower-case ASCII needles, in any case.
func dsnContainsFold(s string, needles ...string) bool {
	for _, n := range needles {
		if dsnIndexFoldString(s, n) >= 0 {
			return true
		}
	}
	return false
}

// statusBlocks parses the per-message block and the per-recipient blocks of one
// delivery-status body. A recipient block starts after a blank line or at a repeated
// Final-Recipient, so reports that forget the blank lines still split per recipient.
func (m *bounceMsg) statusBlocks(b []byte) []Event {
	var perMsg dsnHeader
	var rcpts []dsnHeader
	if bytes.IndexByte(b, '\r') >= 0 {
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	}
	for guard := 0; len(bytes.TrimSpace(b)) > 0 && guard < maxParts; guard++ {
		b = bytes.TrimLeft(b, "\r\n\t ")
		h, rest := dsnParseHeader(b)
		if len(h) == 0 {
			// A line that is not a field: skip it.
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				b = b[i+1:]
				continue
			}
			break
		}
		b = rest
		if !h.has("final-recipient") && !h.has("original-recipient") {
			perMsg = append(perMsg, h...)
			continue
		}
		// A recipient block; fields may come in any order (Diagnostic-Code first), and a
		// repeated recipient field starts the next recipient when blank lines are missing.
		var cur dsnHeader
		for _, f := range h {
			switch {
			case f.name == "final-recipient" || f.name == "original-recipient":
				if cur.has(f.name) || f.name == "original-recipient" && cur.has("final-recipient") && !strings.EqualFold(dsnFirstAddr(cur.get("final-recipient")), dsnFirstAddr(f.value)) {
					rcpts = append(rcpts, cur)
					cur = nil
				}
				cur = append(cur, f)
			case perMessageField(f.name):
				perMsg = append(perMsg, f)
			default:
				cur = append(cur, f)
			}
		}
		rcpts = append(rcpts, cur)
	}
	base := m.base
	if host := dsnStripType(perMsg.get("reporting-mta")); host != "" {
		base.MTAHost = host
	}
	for _, f := range perMsg {
		if strings.HasSuffix(f.name, "-queue-id") {
			base.QueueID = strings.TrimSpace(f.value)
			break
		}
	}
	if t, ok := dsnParseDate(perMsg.get("arrival-date")); ok {
		base.EventTime = t
	}
	if s := dsnFirstAddr(perMsg.get("x-postfix-sender")); s != "" && m.orig == nil {
		base.Sender, base.SenderDomain = s, domainOf(s)
	}
	for _, r := range rcpts {
		if a := dsnFirstAddr(dsnStripType(r.get("final-recipient"))); a != "" {
			m.known[strings.ToLower(a)] = true
		}
		if a := dsnFirstAddr(dsnStripType(r.get("original-recipient"))); a != "" {
			m.known[strings.ToLower(a)] = true
		}
	}
	evs := make([]Event, 0, len(rcpts))
	for _, r := range rcpts {
		ev := base
		rcpt := dsnFirstAddr(dsnStripType(r.get("final-recipient")))
		if rcpt == "" {
			rcpt = dsnFirstAddr(dsnStripType(r.get("original-recipient")))
		}
		if rcpt == "" {
			rcpt = dsnStripType(r.get("final-recipient"))
		}
		ev.Recipient, ev.RecipientDomain = rcpt, domainOf(rcpt)
		status := dsnFirstToken(r.get("status"))
		ev.EnhancedStatus = status
		ev.RemoteHost = strings.Trim(dsnStripType(r.get("remote-mta")), "[] ")
		if t, ok := dsnParseDate(r.get("last-attempt-date")); ok {
			ev.EventTime = t
		}
		diag := dsnStripType(r.get("diagnostic-code"))
		switch action := strings.ToLower(dsnFirstToken(r.get("action"))); {
		case strings.HasPrefix(action, "failed"):
			ev.Outcome = Bounced
		case strings.HasPrefix(action, "delayed"):
			ev.Outcome = Deferred
		case action == "delivered" || action == "relayed" || action == "expanded":
			ev.Outcome = Delivered
		default:
			switch {
			case strings.HasPrefix(status, "2"):
				ev.Outcome = Delivered
			case strings.HasPrefix(status, "4"):
				ev.Outcome = Deferred
			default:
				ev.Outcome = Bounced
			}
		}
		if diag == "" {
			// "Status: 4.0.0 (cat.example.net: host name lookup failure)": the comment is
			// all the reason some reporters give.
			if _, c, ok := strings.Cut(r.get("status"), "("); ok {
				diag = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(c), ")"))
				if isBareCode(diag) || strings.HasSuffix(strings.ToLower(diag), "failure") && !strings.Contains(diag, " ") {
					diag = ""
				}
			}
		}
		if ev.Outcome.IsFailure() && (diag == "" || isBareCode(diag)) {
			// Nothing (or only a code) from the receiver: the human-readable part may say more.
			if seg := m.segmentFor(rcpt); seg != "" {
				diag = strings.TrimSpace(diag + " " + seg)
			}
		}
		ev.Response = diag
		evs = append(evs, ev)
	}
	return evs
}

// isAutoReply reports whether the message is an RFC 3834 auto-reply or a vacation message,
// and not a bounce (bounces, too, say Auto-Submitted: auto-replied).
func (m *bounceMsg) isAutoReply() bool {
	h := m.top
	if h.has("x-failed-recipients") || dsnIsDaemon(dsnFirstAddr(h.get("from"))) {
		return false
	}
	subj := strings.ToLower(dsnDecodeWords(h.get("subject")))
	if dsnContainsAny(subj, bounceSubjects) {
		return false
	}
	if strings.HasPrefix(strings.ToLower(h.get("auto-submitted")), "auto-replied") ||
		h.has("x-autoreply") || h.has("x-autorespond") || h.has("x-autoreply-from") || h.has("x-mail-autoreply") ||
		strings.EqualFold(strings.TrimSpace(h.get("precedence")), "auto_reply") ||
		strings.EqualFold(strings.TrimSpace(h.get("x-auto-response-suppress")), "all") && dsnContainsAny(subj, autoReplySubjects) {
		return true
	}
	return dsnContainsAny(subj, autoReplySubjects)
}

// autoReply returns the AutoReply event: the recipient is who answered.
func (m *bounceMsg) autoReply() []Event {
	ev := m.base
	ev.Outcome = AutoReply
	rcpt := dsnFirstAddr(m.top.get("from"))
	ev.Recipient, ev.RecipientDomain = rcpt, domainOf(rcpt)
	ev.Response = dsnDecodeWords(m.top.get("subject"))
	if ev.MessageID == "" {
		// An auto-reply names the message it answers.
		ev.MessageID = dsnCleanMessageID(m.top.get("in-reply-to"))
	}
	return []Event{ev}
}

// SplitMbox splits an mbox into messages and calls fn with each one, in order, with the
// 1-based line of the mbox where the message starts (its "From " separator). A line that
// starts with "From " begins a message; ">From " lines (any number of '>') lose one '>'.
// A message is bounded to 64 MB (the rest of it is dropped). fn's error stops the split;
// msg is reused after fn returns.
func SplitMbox(r io.Reader, fn func(msg []byte, line int) error) error {
	const maxMsg = 64 << 20
	br := bufio.NewReaderSize(r, 64<<10)
	var msg []byte
	started := false
	n, lineNo, start := 0, 0, 1
	emit := func() error {
		if !started {
			return nil
		}
		n++
		if err := fn(msg, start); err != nil {
			return fmt.Errorf("mbox message %d: %w", n, err)
		}
		return nil
	}
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A very long line: read it whole, piece by piece.
			buf := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				if len(buf) < maxMsg {
					buf = append(buf, line...)
				}
			}
			line = buf
		}
		if len(line) > 0 {
			lineNo++
			switch {
			case bytes.HasPrefix(line, []byte("From ")):
				if e := emit(); e != nil {
					return e
				}
				msg, started, start = msg[:0], true, lineNo
			default:
				if len(line) > 5 && line[0] == '>' {
					i := 0
					for i < len(line) && line[i] == '>' {
						i++
					}
					if bytes.HasPrefix(line[i:], []byte("From ")) {
						line = line[1:]
					}
				}
				started = true
				if len(msg)+len(line) <= maxMsg {
					msg = append(msg, line...)
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read mbox: %w", err)
		}
	}
	if len(bytes.TrimSpace(msg)) > 0 {
		return emit()
	}
	return nil
}

// dsnStripType removes an RFC 3464 type prefix ("rfc822;", "dns;", "smtp;") from a field value.
func dsnStripType(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ';'); i > 0 && i < 24 && !strings.ContainsAny(s[:i], " <@\"") {
		return strings.TrimSpace(s[i+1:])
	}
	return s
}

// dsnFirstToken returns the first space-separated token of s.
func dsnFirstToken(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t("); i >= 0 {
		return s[:i]
	}
	return s
}

// isBareCode reports whether a diagnostic is only codes ("550", "550 5.0.0") with no text.
func isBareCode(s string) bool {
	for _, f := range strings.Fields(s) {
		for i := 0; i < len(f); i++ {
			c := f[i]
			if !(c >= '0' && c <= '9' || c == '.' || c == '#' || c == '-') {
				return false
			}
		}
	}
	return true
}

// dsnCleanMessageID strips angle brackets and spaces from a Message-ID.
func dsnCleanMessageID(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return s[i+1 : i+j]
		}
	}
	return s
}

func dsnContainsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// bounceSubjects are lower-cased subject fragments of delivery failure notifications.
var bounceSubjects = []string{
	"undeliver", "delivery fail", "delivery status", "failure notice", "returned mail", "mail delivery",
	"non remis", "nicht zustellbar", "unzustellbar", "onbestelbaar", "kan inte levereras", "olevererbar",
	"delivery notification", "delivery problem", "could not be delivered", "returned to sender",
	"rejected", "message not delivered", "error sending", "non-delivery", "nondelivery",
}

// autoReplySubjects are lower-cased subject fragments of auto-replies in several languages.
var autoReplySubjects = []string{
	"out of office", "out of the office", "auto reply", "autoreply", "auto-reply", "automatic reply",
	"autoresponse", "auto response", "vacation", "away from the office", "abwesenheit",
	"automatische antwort", "réponse automatique", "reponse automatique", "absence", "automatisk svar",
	"automatisch antwoord", "afwezig", "risposta automatica", "fuori sede", "respuesta automática",
	"fuera de la oficina", "自動返信", "自动回复", "不在", "автоответ", "автоматический ответ", "poza biurem",
}

// perMessageField reports whether an RFC 3464 field belongs to the per-message block.
func perMessageField(name string) bool {
	switch name {
	case "reporting-mta", "arrival-date", "received-from-mta", "original-envelope-id", "dsn-gateway":
		return true
	}
	return strings.HasSuffix(name, "-queue-id") || strings.HasPrefix(name, "x-postfix-")
}

// embedded looks for a bounce inside the message: a returned message/rfc822 part or an
// inlined copy that is itself a delivery report (a bounce forwarded to us, or wrapped by a
// relay), and decodes it.
func (m *bounceMsg) embedded(depth int) []Event {
	try := func(b []byte) []Event {
		h, _ := dsnParseHeader(b)
		ct, _ := dsnMediaType(h.get("content-type"))
		subj := strings.ToLower(dsnDecodeWords(h.get("subject")))
		if ct != "multipart/report" && !(dsnIsDaemon(dsnFirstAddr(h.get("from"))) && dsnContainsAny(subj, bounceSubjects)) {
			return nil
		}
		evs, _ := parseMessage(b, depth+1)
		for _, ev := range evs {
			if ev.Outcome.IsFailure() {
				return evs
			}
		}
		return nil
	}
	for _, p := range m.parts {
		switch p.ctype {
		case "message/rfc822", "message/global":
			if evs := try(p.body); evs != nil {
				return evs
			}
		case "text/plain":
			if _, at := findInlineHeader(p.body); at >= 0 {
				if evs := try(p.body[at:]); evs != nil {
					return evs
				}
			}
		}
	}
	return nil
}

// dsnTrunc cuts s to at most n bytes without splitting a UTF-8 sequence.
func dsnTrunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
