package ingest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// FormatPowerMTA is PowerMTA's accounting file: CSV with a header line per file.
const FormatPowerMTA Format = "powermta"

func init() {
	register(formatSpec{format: FormatPowerMTA, detect: detectPowerMTA, priority: 10,
		newFn: func(st *State) parser {
			p := &pmtaParser{}
			st.attach(string(FormatPowerMTA), &p.layouts)
			return p
		}})
}

// pmtaParser reads PowerMTA accounting records. The column set is configured and changes at
// file rotation, so the parser maps columns by the names of the last header line it saw:
// one parser reads one stream.
type pmtaParser struct {
	layouts columnLayouts
}

// pmtaRecordTypes are the record letters of the accounting file.
var pmtaRecordTypes = map[string]bool{"d": true, "b": true, "t": true, "tq": true, "r": true, "f": true,
	"rb": true, "rs": true}

// detectPowerMTA recognises the header line ("type,timeLogged,…") and data rows whose first
// field is a record letter and that have at least four fields. The header itself is kept by
// the parser: the detector sees one record at a time.
func detectPowerMTA(rec *Record) bool {
	line, ok := unframedLine(rec)
	if !ok {
		return false
	}
	if isPMTAHeader(line) {
		return true
	}
	first, _, found := strings.Cut(line, ",")
	return found && pmtaRecordTypes[first] && strings.Count(line, ",") >= 3
}

// isPMTAHeader reports a PowerMTA header line: "type," followed by more column names,
// sometimes written as a "#type,…" comment.
func isPMTAHeader(line string) bool {
	line = strings.TrimPrefix(line, "#")
	if len(line) < 6 || !strings.EqualFold(line[:5], "type,") {
		return false
	}
	rest := line[5:]
	return strings.Contains(rest, ",") || strings.EqualFold(rest, "rcpt")
}

// unframedLine returns the raw text of a record that carries no syslog framing. Frame may
// mistake a CSV line (or a JSON array) with a dot before its first space and a "word: "
// after it for a syslog header without a timestamp ("host prog: msg"); a "host" holding a
// comma or starting with "[" cannot be a host name, so that split is undone here.
func unframedLine(rec *Record) (string, bool) {
	if rec.JSON {
		return "", false
	}
	if rec.Program == "" {
		return strings.TrimPrefix(strings.TrimRight(rec.Message, "\r"), "\ufeff"), true
	}
	if !rec.Time.IsZero() || !strings.Contains(rec.Host, ",") && !strings.HasPrefix(rec.Host, "[") {
		return "", false
	}
	var b strings.Builder
	b.WriteString(rec.Host)
	b.WriteByte(' ')
	b.WriteString(rec.Program)
	if rec.PID != "" {
		b.WriteByte('[')
		b.WriteString(rec.PID)
		b.WriteByte(']')
	}
	b.WriteString(": ")
	b.WriteString(rec.Message)
	return strings.TrimPrefix(strings.TrimRight(b.String(), "\r"), "\ufeff"), true
}

// framedHost returns the host the framing named, or "" when unframedLine had to undo a
// misread split (the "host" was the start of the record).
func framedHost(rec *Record) string {
	if strings.Contains(rec.Host, ",") || strings.HasPrefix(rec.Host, "[") {
		return ""
	}
	return rec.Host
}

// splitCSVLine parses one RFC 4180 line. Quotes are read leniently: a stray quote inside a
// field does not lose the record. Well-formed lines (unquoted fields without quotes, quoted
// fields closed before a comma or the end) are split in one pass with one allocation; any
// other line goes to encoding/csv, whose lenient reading is the reference.
func splitCSVLine(line string) ([]string, error) {
	if fields, ok := splitCSVFast(line); ok {
		return fields, nil
	}
	r := csv.NewReader(strings.NewReader(line))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	fields, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return fields, nil
}

// splitCSVFast splits a well-formed single-line CSV record, or reports false for
// encoding/csv to read it: empty lines, line breaks, quotes inside unquoted fields,
// quoted fields not closed before a comma or the end of the line.
func splitCSVFast(line string) ([]string, bool) {
	if line == "" || strings.ContainsAny(line, "\r\n") {
		return nil, false
	}
	fields := make([]string, 0, strings.Count(line, ",")+1)
	for {
		if line != "" && line[0] == '"' {
			var b strings.Builder
			rest := line[1:]
			for {
				q := strings.IndexByte(rest, '"')
				if q < 0 {
					return nil, false // not closed on this line
				}
				if q+1 < len(rest) && rest[q+1] == '"' { // "" is a quote
					b.WriteString(rest[:q+1])
					rest = rest[q+2:]
					continue
				}
				if b.Len() == 0 {
					fields = append(fields, rest[:q])
				} else {
					b.WriteString(rest[:q])
					fields = append(fields, b.String())
				}
				rest = rest[q+1:]
				break
			}
			if rest == "" {
				return fields, true
			}
			if rest[0] != ',' {
				return nil, false // text after the closing quote
			}
			line = rest[1:]
			continue
		}
		end := strings.IndexByte(line, ',')
		field := line
		if end >= 0 {
			field = line[:end]
		}
		if strings.IndexByte(field, '"') >= 0 {
			return nil, false
		}
		fields = append(fields, field)
		if end < 0 {
			return fields, true
		}
		line = line[end+1:]
	}
}

func (p *pmtaParser) flush(*[]Event) {}

func (p *pmtaParser) parse(rec *Record, out *[]Event) error {
	line, ok := unframedLine(rec)
	if !ok {
		return errors.New("powermta: not a CSV record")
	}
	if line == "" || line[0] == '#' && !isPMTAHeader(line) {
		return nil // blank lines and comments
	}
	line = strings.TrimPrefix(line, "#")
	fields, err := splitCSVLine(line)
	if err != nil {
		return fmt.Errorf("powermta csv: %w", err)
	}
	if len(fields) == 0 {
		return nil
	}
	host := framedHost(rec)
	if strings.EqualFold(fields[0], "type") {
		p.layouts.set(host, fields)
		return nil
	}
	cols := p.layouts.get(host)
	if cols == nil {
		return errors.New("powermta: record before any header line (the accounting file's first line names the columns)")
	}
	get := func(name string) string {
		if i, ok := cols[name]; ok && i < len(fields) {
			return strings.TrimSpace(fields[i])
		}
		return ""
	}
	typ := strings.ToLower(fields[0])
	dsnAction := strings.ToLower(get("dsnaction"))
	var outcome Outcome
	switch typ {
	case "d":
		outcome = Delivered // dsnAction=relayed: handed to a relay that gives no DSN; still delivered
	case "b", "rb":
		outcome = Bounced
		if strings.EqualFold(get("bouncecat"), "message-expired") {
			outcome = Expired
		}
	case "t", "tq":
		outcome = Deferred
	case "rs":
		switch dsnAction {
		case "failed":
			outcome = Bounced
		case "delivered", "relayed", "expanded":
			outcome = Delivered
		default:
			outcome = Deferred
		}
	case "f":
		outcome = Complaint
	default:
		return nil // r (received) and record types we do not know
	}
	ev := Event{Line: rec.Line, MTA: string(FormatPowerMTA), MTAHost: framedHost(rec), Direction: Outbound, Outcome: outcome}
	ev.EventTime = pmtaTime(get("timelogged"))
	if ev.EventTime.IsZero() {
		ev.EventTime = pmtaTime(get("timequeued"))
	}
	if ev.EventTime.IsZero() {
		ev.EventTime = rec.Time
	}
	ev.Sender = cleanAddr(get("orig"))
	ev.SenderDomain = domainOf(ev.Sender)
	ev.Recipient = cleanAddr(get("rcpt"))
	ev.RecipientDomain = domainOf(ev.Recipient)
	if status := get("dsnstatus"); status != "" {
		code, _, _ := strings.Cut(status, " ")
		if startsWithEnhanced(code + " ") {
			ev.EnhancedStatus = code
		}
	}
	ev.Response = stripDiagnosticType(get("dsndiag"))
	if outcome == Expired {
		// The diagnostic is the last attempt's; the verdict is PowerMTA's own (as Postfix's
		// "message expired, returned to sender").
		last := ev.Response
		ev.Response = "message expired, returned to sender"
		if last != "" {
			ev.Response += " (last attempt: " + last + ")"
		}
	}
	ev.RemoteHost, ev.RemoteIP = splitHostParenIP(get("dsnmta"))
	if ev.RemoteIP == "" {
		if a, err := netip.ParseAddr(get("dlvdestinationip")); err == nil {
			ev.RemoteIP = a.String()
		}
	}
	if a, err := netip.ParseAddr(get("dlvsourceip")); err == nil {
		ev.SendingIP = a.String()
	}
	ev.Pool = get("vmtapool")
	if ev.Pool == "" {
		ev.Pool = get("vmta")
	}
	ev.JobID = get("jobid")
	if outcome != Delivered {
		ev.VendorClass = get("bouncecat")
	}
	if outcome == Complaint {
		ev.VendorClass = get("feedbacktype")
	}
	for name, i := range cols {
		if h, ok := strings.CutPrefix(name, "header_"); ok && h != "" && i < len(fields) && fields[i] != "" {
			if ev.Headers == nil {
				ev.Headers = map[string]string{}
			}
			ev.Headers[h] = fields[i]
		}
	}
	if env := get("envid"); env != "" {
		if ev.Headers == nil {
			ev.Headers = map[string]string{}
		}
		ev.Headers["envid"] = env
	}
	if id := ev.Headers["message-id"]; id != "" {
		ev.MessageID = strings.Trim(id, "<> ")
	}
	*out = append(*out, ev)
	return nil
}

// pmtaTime reads "2016-05-29 01:10:51+0200" (also with a space before the zone, or
// without a zone: UTC) and unix time_t.
func pmtaTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if allDigits(s) {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil || sec <= 0 {
			return time.Time{}
		}
		return time.Unix(sec, 0).UTC()
	}
	for _, layout := range []string{"2006-01-02 15:04:05-0700", "2006-01-02 15:04:05 -0700",
		"2006-01-02 15:04:05-07:00", "2006-01-02 15:04:05", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// stripDiagnosticType removes the RFC 3464 diagnostic type ("smtp;", "X-PowerMTA; ") in front of
// a diagnostic code.
func stripDiagnosticType(s string) string {
	if i := strings.IndexByte(s, ';'); i > 0 && i <= 24 && !strings.ContainsAny(s[:i], " \t") {
		return strings.TrimSpace(s[i+1:])
	}
	return strings.TrimSpace(s)
}

// splitHostParenIP splits "mx.dest.com (2.2.2.2)" into host and IP; a bare host or IP
// comes back in the right half.
func splitHostParenIP(s string) (host, ip string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	if open := strings.IndexByte(s, '('); open >= 0 {
		inner := s[open+1:]
		if end := strings.IndexByte(inner, ')'); end >= 0 {
			inner = inner[:end]
		}
		if a, err := netip.ParseAddr(strings.TrimSpace(inner)); err == nil {
			ip = a.String()
		}
		host = strings.TrimSpace(s[:open])
	} else if a, err := netip.ParseAddr(s); err == nil {
		return "", a.String()
	} else {
		host = s
	}
	host = strings.TrimSuffix(host, ".")
	if _, err := netip.ParseAddr(host); err == nil && ip == "" {
		return "", host
	}
	return host, ip
}
