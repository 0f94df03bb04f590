package ingest

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// FormatExchange is Microsoft Exchange's on-premises message tracking log (MSGTRK*.LOG):
// CSV with W3C-style "#" directives and a "#Fields:" line naming the columns.
const FormatExchange Format = "exchange"

func init() {
	register(formatSpec{format: FormatExchange, detect: detectExchange, priority: 10,
		newFn: func(st *State) parser {
			p := &exchangeParser{}
			st.attach(string(FormatExchange), &p.layouts)
			return p
		}})
}

// exchangeParser reads message tracking rows. The columns differ between versions (26, 27
// and 30 fields), so they are mapped by the names of the last "#Fields:" line.
type exchangeParser struct {
	layouts columnLayouts
}

// exchangeMinFields is the field count of the smallest known layout (Exchange 2010) less
// a margin for truncated exports.
const exchangeMinFields = 20

// detectExchange recognises the "#" directives of a tracking log and data rows that start
// with an ISO 8601 date and have an Exchange-like field count.
func detectExchange(rec *Record) bool {
	line, ok := unframedLine(rec)
	if !ok || line == "" {
		return false
	}
	if line[0] == '#' {
		return strings.HasPrefix(line, "#Software: Microsoft Exchange") || strings.HasPrefix(line, "#Fields: date-time,") ||
			strings.HasPrefix(line, "#Log-type: Message Tracking") || strings.HasPrefix(line, "#Version: ") ||
			strings.HasPrefix(line, "#Date: ")
	}
	return looksISODateTime(line) && strings.Count(line, ",") >= exchangeMinFields-1
}

// looksISODateTime reports "YYYY-MM-DDTHH:MM" at the start of s.
func looksISODateTime(s string) bool {
	return len(s) >= 16 && allDigits(s[:4]) && s[4] == '-' && allDigits(s[5:7]) && s[7] == '-' &&
		allDigits(s[8:10]) && s[10] == 'T' && allDigits(s[11:13]) && s[13] == ':'
}

func (p *exchangeParser) flush(*[]Event) {}

func (p *exchangeParser) parse(rec *Record, out *[]Event) error {
	line, ok := unframedLine(rec)
	if !ok {
		return errors.New("exchange: not a CSV record")
	}
	if line == "" {
		return nil
	}
	host := framedHost(rec)
	if line[0] == '#' {
		if names, ok := strings.CutPrefix(line, "#Fields:"); ok {
			p.layouts.set(host, strings.Split(names, ","))
		}
		return nil
	}
	cols := p.layouts.get(host)
	if cols == nil {
		return errors.New("exchange: row before any #Fields: line")
	}
	fields, err := splitCSVLine(line)
	if err != nil {
		return fmt.Errorf("exchange csv: %w", err)
	}
	get := func(name string) string {
		if i, ok := cols[name]; ok && i < len(fields) {
			return strings.TrimSpace(fields[i])
		}
		return ""
	}
	var outcome Outcome
	switch strings.ToUpper(get("event-id")) {
	case "FAIL":
		outcome = Bounced
	case "DEFER":
		outcome = Deferred
	case "DELIVER", "SEND":
		outcome = Delivered
	default:
		// DSN (the NDR Exchange generated; its FAIL row carries the failure), RECEIVE,
		// SUBMIT, EXPAND, RESOLVE, AGENTINFO, HAREDIRECT…: context only.
		return nil
	}
	ev := Event{Line: rec.Line, MTA: string(FormatExchange), Direction: Outbound, Outcome: outcome,
		QueueID: get("internal-message-id"), MessageID: strings.Trim(get("message-id"), "<> "),
		Pool: get("connector-id")}
	if t, err := time.Parse(time.RFC3339Nano, get("date-time")); err == nil {
		ev.EventTime = t
	} else {
		ev.EventTime = rec.Time
	}
	ev.Sender = cleanAddr(get("return-path"))
	if ev.Sender == "" {
		ev.Sender = cleanAddr(get("sender-address"))
	}
	ev.SenderDomain = domainOf(ev.Sender)
	if strings.EqualFold(get("source"), "SMTP") && outcome == Delivered {
		// SEND: the server columns name the next hop, the client columns this server.
		ev.RemoteHost = get("server-hostname")
		if a, err := netip.ParseAddr(get("server-ip")); err == nil {
			ev.RemoteIP = a.String()
		}
		ev.MTAHost = get("client-hostname")
		if a, err := netip.ParseAddr(get("client-ip")); err == nil {
			ev.SendingIP = a.String()
		}
	} else {
		ev.MTAHost = get("server-hostname")
	}
	if ev.MTAHost == "" {
		ev.MTAHost = framedHost(rec)
	}
	rcpts := splitListNonEmpty(get("recipient-address"), ';')
	statuses := splitRecipientStatus(get("recipient-status"))
	if len(rcpts) == 0 {
		rcpts = []string{""}
	}
	for i, rc := range rcpts {
		e := ev
		e.Recipient = cleanAddr(rc)
		e.RecipientDomain = domainOf(e.Recipient)
		switch {
		case i < len(statuses):
			e.Response = statuses[i]
		case len(statuses) == 1:
			e.Response = statuses[0]
		}
		if e.Outcome == Bounced && strings.Contains(e.Response, "QUEUE.Expired") {
			e.Outcome = Expired
		}
		*out = append(*out, e)
	}
	return nil
}

// splitListNonEmpty splits s at sep and drops empty, space-only parts.
func splitListNonEmpty(s string, sep byte) []string {
	var parts []string
	for s != "" {
		part := s
		if i := strings.IndexByte(s, sep); i >= 0 {
			part, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if part = strings.TrimSpace(part); part != "" {
			parts = append(parts, part)
		}
	}
	return parts
}

// splitRecipientStatus splits Exchange's recipient-status list, which runs parallel to
// recipient-address. The status text itself may hold ";" ("550 5.1.1
// RESOLVER.ADR.RecipNotFound; not found"), so it is split only where the next part starts
// with a three-digit reply code, or when no part has one (plain "To;Cc" lists).
func splitRecipientStatus(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if leadingCode(s) == 0 {
		return splitListNonEmpty(s, ';')
	}
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ';' {
			continue
		}
		if next := strings.TrimLeft(s[i+1:], " "); leadingCode(next) != 0 {
			parts = append(parts, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(s[start:]))
}
