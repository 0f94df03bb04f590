package classify

import (
	"fmt"
	"strconv"
	"strings"
)

// enhancedCode is a parsed RFC 3463 status code class.subject.detail; class 0 means none.
type enhancedCode struct {
	class, subject, detail int
}

// parseEnhanced parses "5.7.1" (the whole string). It does not allocate.
func parseEnhanced(s string) (enhancedCode, bool) {
	var e enhancedCode
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return e, false
	}
	e.class = int(s[0] - '0')
	rest := s[2:]
	dot := strings.IndexByte(rest, '.')
	if dot < 1 || dot > 3 {
		return e, false
	}
	var ok bool
	if e.subject, ok = atoiSmall(rest[:dot]); !ok {
		return e, false
	}
	if e.detail, ok = atoiSmall(rest[dot+1:]); !ok || len(rest)-dot-1 > 3 {
		return e, false
	}
	return e, true
}

func atoiSmall(s string) (int, bool) {
	if s == "" || len(s) > 3 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// statusMatcher matches enhanced codes: "x.7.1", "5.7.606-649", "4.7.5xx", "x.7.x".
type statusMatcher struct {
	class            int // 0 = any, -1 = no enhanced code at all ("none")
	subject          int // -1 = any
	detailLo, detail int // detail range [detailLo, detail]; -1 = any
}

func parseStatusMatcher(s string) (statusMatcher, error) {
	var m statusMatcher
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return statusMatcher{class: -1}, nil
	}
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), ".")
	if len(parts) != 3 {
		return m, fmt.Errorf("status %q: want class.subject.detail", s)
	}
	switch parts[0] {
	case "x":
		m.class = 0
	case "2", "4", "5":
		m.class = int(parts[0][0] - '0')
	default:
		return m, fmt.Errorf("status %q: class must be 2, 4, 5 or x", s)
	}
	if parts[1] == "x" {
		m.subject = -1
	} else {
		n, err := strconv.Atoi(parts[1])
		if err != nil {
			return m, fmt.Errorf("status %q: bad subject", s)
		}
		m.subject = n
	}
	d := parts[2]
	switch {
	case d == "x":
		m.detailLo, m.detail = -1, -1
	case strings.Contains(d, "-"):
		lo, hi, _ := strings.Cut(d, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a > b {
			return m, fmt.Errorf("status %q: bad detail range", s)
		}
		if b < 100 && len(lo) == 3 { // "606-49" style is not accepted; ranges are written in full
			return m, fmt.Errorf("status %q: write the range in full", s)
		}
		m.detailLo, m.detail = a, b
	case strings.HasSuffix(d, "xx") && len(d) == 3:
		base, err := strconv.Atoi(d[:1])
		if err != nil {
			return m, fmt.Errorf("status %q: bad detail", s)
		}
		m.detailLo, m.detail = base*100, base*100+99
	default:
		n, err := strconv.Atoi(d)
		if err != nil {
			return m, fmt.Errorf("status %q: bad detail", s)
		}
		m.detailLo, m.detail = n, n
	}
	return m, nil
}

func (m statusMatcher) match(e enhancedCode) bool {
	if m.class == -1 {
		return e.class == 0
	}
	if e.class == 0 {
		return false
	}
	if m.class != 0 && m.class != e.class {
		return false
	}
	if m.subject >= 0 && m.subject != e.subject {
		return false
	}
	return m.detail < 0 || (m.detailLo <= e.detail && e.detail <= m.detail)
}

// replyMatcher matches a reply code: "550", "5xx", "45x".
type replyMatcher struct{ digits [3]byte } // 'x' = any

func parseReplyMatcher(s string) (replyMatcher, error) {
	var m replyMatcher
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "none" {
		return replyMatcher{digits: [3]byte{'n', 'n', 'n'}}, nil
	}
	if len(s) != 3 || (s[0] != '2' && s[0] != '4' && s[0] != '5') {
		return m, fmt.Errorf("reply %q: want three digits such as 550 or 5xx", s)
	}
	for i := 0; i < 3; i++ {
		if !isDigit(s[i]) && s[i] != 'x' {
			return m, fmt.Errorf("reply %q: want digits or x", s)
		}
		m.digits[i] = s[i]
	}
	return m, nil
}

func (m replyMatcher) match(code int) bool {
	if m.digits[0] == 'n' {
		return code == 0
	}
	if code < 200 || code > 599 {
		return false
	}
	d := [3]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)}
	for i := 0; i < 3; i++ {
		if m.digits[i] != 'x' && m.digits[i] != d[i] {
			return false
		}
	}
	return true
}

// codeCond is a rule's `when: {reply, status}`: each non-empty list must have a match.
type codeCond struct {
	replies  []replyMatcher
	statuses []statusMatcher
}

func parseCodeCond(replies, statuses []string) (codeCond, error) {
	var c codeCond
	for _, r := range replies {
		m, err := parseReplyMatcher(r)
		if err != nil {
			return c, err
		}
		c.replies = append(c.replies, m)
	}
	for _, s := range statuses {
		m, err := parseStatusMatcher(s)
		if err != nil {
			return c, err
		}
		c.statuses = append(c.statuses, m)
	}
	return c, nil
}

func (c codeCond) empty() bool { return len(c.replies) == 0 && len(c.statuses) == 0 }

func (c codeCond) match(code int, e enhancedCode) bool {
	if len(c.replies) > 0 {
		ok := false
		for _, m := range c.replies {
			if m.match(code) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(c.statuses) > 0 {
		ok := false
		for _, m := range c.statuses {
			if m.match(e) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
