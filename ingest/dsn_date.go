package ingest

import (
	"net/mail"
	"strings"
	"time"
)

// dsnParseDate parses an RFC 5322 date and the sloppy variants MTAs write ("Thu,  2 Jul 2020
// 06:04:42 -0400 (EDT)", two-digit years, named zones, a doubled comment). The common shapes
// take a hand-written path; the rest fall back to net/mail.
func dsnParseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if t, ok := fastDate(s); ok {
		return t, true
	}
	t, err := mail.ParseDate(s)
	if err != nil {
		// Drop a trailing comment such as "(JST)" or "(UTC)" that some MTAs add twice.
		if i := strings.IndexByte(s, '('); i > 0 {
			t, err = mail.ParseDate(strings.TrimSpace(s[:i]))
		}
		if err != nil {
			return time.Time{}, false
		}
	}
	return t.UTC(), true
}

// fastDate parses "[Day,] D Mon YYYY HH:MM[:SS] ZONE [(comment)]" where ZONE is a numeric
// offset or UT, GMT, Z or a North American zone of RFC 5322. It reports false for anything
// else, and dsnParseDate falls back to net/mail.
func fastDate(s string) (time.Time, bool) {
	p := dateScanner{s: s}
	p.space()
	if len(p.s) > 3 && p.s[3] == ',' {
		p.s = p.s[4:] // day of week; not checked, as net/mail does not either
		p.space()
	}
	day, ok := p.num(1, 2)
	if !ok || !p.space() {
		return time.Time{}, false
	}
	if len(p.s) < 3 {
		return time.Time{}, false
	}
	month := monthOf(p.s[:3])
	if month == 0 {
		return time.Time{}, false
	}
	p.s = p.s[3:]
	if !p.space() {
		return time.Time{}, false
	}
	n := len(p.s)
	year, ok := p.num(2, 4)
	digits := n - len(p.s)
	if !ok || !p.space() {
		return time.Time{}, false
	}
	// Two-digit years as Go's time package (and so net/mail) reads them: 69-99 are 19xx,
	// the rest 20xx. Three-digit years are years since 1900 (RFC 5322 obs-year).
	switch {
	case digits == 2 && year >= 69:
		year += 1900
	case digits == 2:
		year += 2000
	case digits == 3:
		year += 1900
	}
	hour, ok := p.num(1, 2)
	if !ok || !p.byte(':') {
		return time.Time{}, false
	}
	minute, ok := p.num(2, 2)
	if !ok {
		return time.Time{}, false
	}
	sec := 0
	if p.byte(':') {
		if sec, ok = p.num(2, 2); !ok {
			return time.Time{}, false
		}
	}
	if !p.space() || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	off, ok := p.zone()
	if !ok {
		return time.Time{}, false
	}
	p.space()
	if p.s != "" && p.s[0] != '(' {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // 31 Feb and the like
	}
	return t.Add(-time.Duration(off) * time.Second), true
}

type dateScanner struct{ s string }

// space skips blanks and reports whether there was at least one.
func (p *dateScanner) space() bool {
	i := 0
	for i < len(p.s) && (p.s[i] == ' ' || p.s[i] == '\t' || p.s[i] == '\r' || p.s[i] == '\n') {
		i++
	}
	p.s = p.s[i:]
	return i > 0
}

func (p *dateScanner) byte(c byte) bool {
	if p.s != "" && p.s[0] == c {
		p.s = p.s[1:]
		return true
	}
	return false
}

// num reads a decimal number of min to max digits.
func (p *dateScanner) num(min, max int) (int, bool) {
	v, i := 0, 0
	for i < len(p.s) && i < max && p.s[i] >= '0' && p.s[i] <= '9' {
		v = v*10 + int(p.s[i]-'0')
		i++
	}
	if i < min || i < len(p.s) && p.s[i] >= '0' && p.s[i] <= '9' {
		return 0, false
	}
	p.s = p.s[i:]
	return v, true
}

// zone reads a numeric offset or a zone name and returns the offset east of UTC in seconds.
func (p *dateScanner) zone() (int, bool) {
	if p.s == "" {
		return 0, false
	}
	if c := p.s[0]; c == '+' || c == '-' {
		p.s = p.s[1:]
		v, ok := p.num(4, 4)
		if !ok || v%100 > 59 {
			return 0, false
		}
		off := (v/100)*3600 + (v%100)*60
		if c == '-' {
			off = -off
		}
		return off, true
	}
	i := 0
	for i < len(p.s) && (p.s[i] >= 'A' && p.s[i] <= 'Z' || p.s[i] >= 'a' && p.s[i] <= 'z') {
		i++
	}
	name := p.s[:i]
	for _, z := range namedZones {
		if strings.EqualFold(name, z.name) {
			p.s = p.s[i:]
			return z.off * 3600, true
		}
	}
	return 0, false
}

// namedZones are the zone names of RFC 5322 §4.3 (obsolete but still written).
var namedZones = []struct {
	name string
	off  int
}{{"UT", 0}, {"UTC", 0}, {"GMT", 0}, {"Z", 0}, {"EST", -5}, {"EDT", -4}, {"CST", -6}, {"CDT", -5},
	{"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}}

// monthOf returns 1-12 for a three-letter English month name in any case, or 0.
func monthOf(m string) int {
	for i, name := range [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"} {
		if strings.EqualFold(m, name) {
			return i + 1
		}
	}
	return 0
}
