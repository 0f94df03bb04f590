package ingest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// Record is one log record with its transport framing taken off.
type Record struct {
	Time    time.Time // zero when the framing carried none
	Host    string    // the host that logged the record
	Program string    // syslog tag without the pid: "postfix/smtp", "postfix-out2/smtp", "exim", "sm-mta"
	PID     string
	Message string // the MTA's own text (or a whole JSON object for JSON sources)
	JSON    bool   // Message is a JSON object that was not a shipper envelope
	Line    int    // 1-based line number in its source, when known
}

// JSONKeys names the fields of a log shipper's JSON envelope. Each entry is a list of
// dotted paths tried in order ("log.syslog.appname" looks into nested objects).
type JSONKeys struct {
	Message []string `yaml:"message"`
	Host    []string `yaml:"host"`
	Program []string `yaml:"program"`
	PID     []string `yaml:"pid"`
	Time    []string `yaml:"time"`
}

// DefaultJSONKeys covers Vector, Fluent Bit, Filebeat, rsyslog (omkafka/json templates) and
// syslog-ng's format-json.
var DefaultJSONKeys = JSONKeys{
	Message: []string{"message", "msg", "MESSAGE", "log", "_raw"},
	Host:    []string{"hostname", "host.name", "host.hostname", "host", "HOSTNAME", "fromhost", "source_host", "log.syslog.hostname"},
	Program: []string{"appname", "app_name", "programname", "program", "PROGRAM", "log.syslog.appname", "process.name", "syslog.appname", "SYSLOG_IDENTIFIER", "ident", "syslogtag", "tag"},
	PID:     []string{"procid", "pid", "PID", "process.pid", "log.syslog.procid", "syslog.procid"},
	Time:    []string{"timestamp", "@timestamp", "time", "ISODATE", "date", "event_time", "timereported", "timegenerated"},
}

// FrameOptions tell the framer what the records themselves do not say.
type FrameOptions struct {
	// Location is the zone of timestamps that carry none (RFC 3164, Exim without
	// log_timezone). Nil means UTC.
	Location *time.Location
	// Now gives the time against which a year-less RFC 3164 date is placed (the year is the
	// one that puts the date closest before Now, so December lines read in January land in
	// the previous year). Nil means time.Now.
	Now func() time.Time
	// JSONKeys names a shipper envelope's fields. Empty lists fall back to DefaultJSONKeys.
	JSONKeys JSONKeys
}

func (o *FrameOptions) loc() *time.Location {
	if o == nil || o.Location == nil {
		return time.UTC
	}
	return o.Location
}

func (o *FrameOptions) now() time.Time {
	if o == nil || o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// Frame takes one line apart: RFC 3164 (with or without <PRI>, space- or zero-padded days, a
// syslog-ng <facility.level> tag, a relay-host prefix), RFC 5424, RFC 3339 file timestamps,
// Exim's own log files, and JSON envelopes of log shippers. A line with no recognisable
// framing comes back whole as the Message, without error: the format parser decides.
func Frame(line string, opts *FrameOptions) (Record, error) {
	line = strings.TrimRight(line, "\r\n")
	line = strings.TrimPrefix(line, "\ufeff")
	if line == "" {
		return Record{}, errEmptyLine
	}
	if line[0] == '{' {
		return frameJSON(line, opts)
	}
	if line[0] == '[' && strings.HasSuffix(strings.TrimSpace(line), "]") {
		return Record{Message: line, JSON: true}, nil // a JSON array of events (SendGrid)
	}
	s := line
	if s[0] == '<' {
		if end := strings.IndexByte(s, '>'); end > 1 && end <= 4 && allDigits(s[1:end]) {
			s = s[end+1:]
			if len(s) > 2 && s[0] >= '1' && s[0] <= '9' && s[1] == ' ' && looksRFC3339(s[2:]) {
				return frame5424(s[2:], line)
			}
		}
	}
	// Forwarded prefix: "exmx1 : Dec 14 05:28:39 exmx1 sendmail[31574]: ..."
	if i := strings.Index(s, " : "); i > 0 && i < 64 && !strings.ContainsAny(s[:i], " :") {
		if _, _, ok := parse3164Time(s[i+3:]); ok {
			s = s[i+3:]
		}
	}
	if t, rest, ok := parse3164Time(s); ok {
		rec := Record{Time: placeYear(t, opts)}
		return frameHeader(rec, rest, line), nil
	}
	if looksRFC3339(s) {
		if sp := strings.IndexByte(s, ' '); sp > 0 {
			if t, err := time.Parse(time.RFC3339Nano, s[:sp]); err == nil {
				return frameHeader(Record{Time: t}, s[sp+1:], line), nil
			}
		}
	}
	if t, rest, ok := parseEximTime(s, opts.loc()); ok {
		// Exim's own file: "2020-06-19 04:54:02 [+0200] [pid] ID ...", or a syslog-like
		// "2019-10-22 03:39:17 host exim[pid]: ..." written by some collectors.
		if prog, pid, msg, ok := splitTag(afterHost(rest)); ok && strings.HasPrefix(prog, "exim") {
			return Record{Time: t, Host: firstField(rest), Program: prog, PID: pid, Message: msg}, nil
		}
		if isEximLine(rest) {
			return Record{Time: t, Program: "exim", Message: rest}, nil
		}
		return Record{Time: t, Message: rest}, nil // same date shape, another program (Haraka)
	}
	// Syslog header without a timestamp ("mail.example.com exim[3751842]: 2021-07-17 …").
	if prog, pid, msg, ok := splitTag(afterHost(s)); ok && strings.Contains(s[:strings.IndexByte(s, ' ')+1], ".") &&
		!strings.Contains(firstField(s), ",") {
		rec := Record{Host: firstField(s), Program: prog, PID: pid, Message: msg}
		if t, rest, ok := parseEximTime(msg, opts.loc()); ok && strings.HasPrefix(prog, "exim") {
			rec.Time, rec.Message = t, rest
		}
		return rec, nil
	}
	return Record{Message: s}, nil
}

var errEmptyLine = errors.New("empty line")

// frameHeader parses "host prog[pid]: msg" after a timestamp, with an optional syslog-ng
// "<facility.level>" token before the host.
func frameHeader(rec Record, rest, raw string) Record {
	if strings.HasPrefix(rest, "<") {
		if end := strings.IndexByte(rest, '>'); end > 0 && end < 32 && strings.Contains(rest[:end], ".") {
			rest = strings.TrimLeft(rest[end+1:], " ")
		}
	}
	host := firstField(rest)
	after := afterHost(rest)
	if prog, pid, msg, ok := splitTag(after); ok {
		rec.Host, rec.Program, rec.PID, rec.Message = host, prog, pid, msg
		return rec
	}
	rec.Host, rec.Message = host, after
	return rec
}

// splitTag parses "prog[pid]: msg" or "prog: msg".
func splitTag(s string) (prog, pid, msg string, ok bool) {
	colon := strings.Index(s, ": ")
	if colon <= 0 || colon > 96 {
		if strings.HasSuffix(s, ":") && !strings.Contains(s, " ") {
			colon = len(s) - 1
		} else {
			return "", "", "", false
		}
	}
	tag := s[:colon]
	if strings.ContainsAny(tag, " \t") {
		return "", "", "", false
	}
	if i := strings.IndexByte(tag, '['); i > 0 && strings.HasSuffix(tag, "]") {
		prog, pid = tag[:i], tag[i+1:len(tag)-1]
	} else {
		prog = tag
	}
	if prog == "" {
		return "", "", "", false
	}
	return prog, pid, strings.TrimPrefix(s[min(colon+2, len(s)):], "\ufeff"), true
}

func firstField(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

func afterHost(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return strings.TrimLeft(s[i+1:], " ")
	}
	return ""
}

var months = map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}

// parse3164Time parses "Mmm dd HH:MM:SS " (day space- or zero-padded, optional fraction) and
// returns the time in year 0 (see placeYear) and the rest of the line.
func parse3164Time(s string) (time.Time, string, bool) {
	if len(s) < 16 {
		return time.Time{}, "", false
	}
	mon, ok := months[s[:3]]
	if !ok || s[3] != ' ' {
		return time.Time{}, "", false
	}
	d := s[4:6]
	if d[0] == ' ' {
		d = d[1:]
	}
	day, err := strconv.Atoi(d)
	if err != nil || day < 1 || day > 31 || s[6] != ' ' {
		return time.Time{}, "", false
	}
	hh, mm, ss, ok := parseClock(s[7:15])
	if !ok {
		return time.Time{}, "", false
	}
	rest := s[15:]
	nsec := 0
	if strings.HasPrefix(rest, ".") {
		j := 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		frac := rest[1:j] + "000000000"
		nsec, _ = strconv.Atoi(frac[:9])
		rest = rest[j:]
	}
	if !strings.HasPrefix(rest, " ") {
		return time.Time{}, "", false
	}
	return time.Date(0, mon, day, hh, mm, ss, nsec, time.UTC), strings.TrimLeft(rest, " "), true
}

// placeYear gives a year-less date the year that puts it closest before now (a little after
// now is allowed for clock skew), in the configured zone.
func placeYear(t time.Time, opts *FrameOptions) time.Time {
	now := opts.now().In(opts.loc())
	y := now.Year()
	c := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), opts.loc())
	if c.After(now.Add(48 * time.Hour)) {
		c = c.AddDate(-1, 0, 0)
	}
	return c
}

func parseClock(s string) (hh, mm, ss int, ok bool) {
	if len(s) != 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	hh, err1 = strconv.Atoi(s[0:2])
	mm, err2 = strconv.Atoi(s[3:5])
	ss, err3 = strconv.Atoi(s[6:8])
	return hh, mm, ss, err1 == nil && err2 == nil && err3 == nil && hh < 24 && mm < 60 && ss <= 60
}

// looksRFC3339 reports "YYYY-MM-DDTHH:MM:SS" at the start of s.
func looksRFC3339(s string) bool {
	return len(s) >= 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && allDigits(s[:4])
}

// parseEximTime parses Exim's "YYYY-MM-DD HH:MM:SS[.mmm] [+ZZZZ] " prefix.
func parseEximTime(s string, loc *time.Location) (time.Time, string, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || !allDigits(s[:4]) {
		return time.Time{}, "", false
	}
	y, _ := strconv.Atoi(s[:4])
	mo, err1 := strconv.Atoi(s[5:7])
	d, err2 := strconv.Atoi(s[8:10])
	hh, mm, ss, ok := parseClock(s[11:19])
	if err1 != nil || err2 != nil || !ok || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, "", false
	}
	rest := s[19:]
	nsec := 0
	if strings.HasPrefix(rest, ".") && len(rest) >= 4 && allDigits(rest[1:4]) {
		ms, _ := strconv.Atoi(rest[1:4])
		nsec = ms * 1e6
		rest = rest[4:]
	}
	rest = strings.TrimLeft(rest, " ")
	t := time.Date(y, time.Month(mo), d, hh, mm, ss, nsec, loc)
	// Optional zone "+0200" / "-0500".
	if len(rest) >= 5 && (rest[0] == '+' || rest[0] == '-') && allDigits(rest[1:5]) && (len(rest) == 5 || rest[5] == ' ') {
		zh, _ := strconv.Atoi(rest[1:3])
		zm, _ := strconv.Atoi(rest[3:5])
		off := zh*3600 + zm*60
		if rest[0] == '-' {
			off = -off
		}
		t = time.Date(y, time.Month(mo), d, hh, mm, ss, nsec, time.FixedZone("", off))
		rest = strings.TrimLeft(rest[5:], " ")
	}
	return t, rest, true
}

// frame5424 parses "TIMESTAMP HOST APP PROCID MSGID [SD] MSG" after "<PRI>1 ".
func frame5424(s, raw string) (Record, error) {
	fields := make([]string, 0, 5)
	rest := s
	for len(fields) < 5 {
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			fields = append(fields, rest)
			rest = ""
			break
		}
		fields = append(fields, rest[:sp])
		rest = rest[sp+1:]
	}
	if len(fields) < 5 {
		return Record{Message: raw}, fmt.Errorf("rfc5424 header: want 5 fields, got %d", len(fields))
	}
	rec := Record{}
	if t, err := time.Parse(time.RFC3339Nano, fields[0]); err == nil {
		rec.Time = t
	}
	nilDash := func(v string) string {
		if v == "-" {
			return ""
		}
		return v
	}
	rec.Host, rec.Program, rec.PID = nilDash(fields[1]), nilDash(fields[2]), nilDash(fields[3])
	// Structured data: "-" or one or more [..] elements (quoted values may hold "]").
	if strings.HasPrefix(rest, "-") {
		rest = strings.TrimPrefix(rest[1:], " ")
	} else {
		for strings.HasPrefix(rest, "[") {
			end := sdEnd(rest)
			if end < 0 {
				return rec, errors.New("rfc5424: unterminated structured data")
			}
			rest = rest[end+1:]
		}
		rest = strings.TrimPrefix(rest, " ")
	}
	rec.Message = strings.TrimPrefix(rest, "\ufeff")
	return rec, nil
}

// sdEnd returns the index of the "]" closing the SD element that starts s.
func sdEnd(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ']':
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// frameJSON takes a shipper's JSON envelope apart. A JSON object without a message field is
// a record in its own right (KumoMTA, ESP webhooks) and comes back whole with JSON set.
func frameJSON(line string, opts *FrameOptions) (Record, error) {
	keys := DefaultJSONKeys
	if opts != nil {
		if len(opts.JSONKeys.Message) > 0 {
			keys.Message = opts.JSONKeys.Message
		}
		if len(opts.JSONKeys.Host) > 0 {
			keys.Host = opts.JSONKeys.Host
		}
		if len(opts.JSONKeys.Program) > 0 {
			keys.Program = opts.JSONKeys.Program
		}
		if len(opts.JSONKeys.PID) > 0 {
			keys.PID = opts.JSONKeys.PID
		}
		if len(opts.JSONKeys.Time) > 0 {
			keys.Time = opts.JSONKeys.Time
		}
	}
	var rec Record
	var envelope bool
	err := withJSONObject(line, func(obj *fastjson.Value) error {
		msg, ok := jsonLookup(obj, keys.Message)
		if !ok {
			return nil
		}
		envelope = true
		rec.Message = msg
		rec.Host, _ = jsonLookup(obj, keys.Host)
		rec.Program, _ = jsonLookup(obj, keys.Program)
		rec.PID, _ = jsonLookup(obj, keys.PID)
		if ts, ok := jsonLookup(obj, keys.Time); ok {
			rec.Time = parseAnyTime(ts, opts)
		}
		return nil
	})
	if err != nil {
		return Record{Message: line}, fmt.Errorf("json envelope: %w", err)
	}
	if !envelope {
		return Record{Message: line, JSON: true}, nil
	}
	msg := rec.Message
	// Some shippers keep the syslog tag in the program field ("postfix/smtp[123]:").
	if p, pid, _, ok := splitTag(rec.Program + ": "); ok && strings.Contains(rec.Program, "[") {
		rec.Program, rec.PID = p, pid
	}
	if rec.Program == "" {
		// No program: the message may still carry its own syslog header.
		inner, err := Frame(msg, opts)
		if err == nil && inner.Program != "" {
			if inner.Host == "" {
				inner.Host = rec.Host
			}
			if inner.Time.IsZero() {
				inner.Time = rec.Time
			}
			return inner, nil
		}
	}
	if strings.HasPrefix(strings.TrimSpace(msg), "{") {
		rec.JSON = true
	}
	return rec, nil
}

// parseAnyTime reads RFC 3339, RFC 3164 and Unix seconds (with fraction) timestamps.
func parseAnyTime(s string, opts *FrameOptions) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	if t, _, ok := parse3164Time(s + " "); ok {
		return placeYear(t, opts)
	}
	if t, _, ok := parseEximTime(s+" ", opts.loc()); ok {
		return t
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 1e8 {
		if f > 1e12 { // milliseconds
			f /= 1000
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	}
	return time.Time{}
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
