package classify

import (
	"bytes"
	"strings"
	"unsafe"
)

// reply is a response taken apart: wrappers stripped, codes and phase taken off. All strings
// are substrings of the input.
type reply struct {
	code     int
	enhanced string
	text     string // the response as the receiver said it, wrappers stripped, codes kept
	body     string // text without the leading reply and enhanced codes
	preamble string // what an Exchange NDR says before "Remote Server returned '…'"
	phase    string
	host     string
}

// maxWrapperPasses bounds the stripping loop; real wrappers nest two or three deep.
const maxWrapperPasses = 8

// parseReply strips MTA wrappers and takes the codes off a logged response.
func parseReply(s string) reply {
	var r reply
	s = trimSpace(s)
	// Exchange quotes the remote answer: "… Remote Server returned '550 5.1.1 …'". Whatever
	// precedes it (often a localized explanation) is boilerplate.
	if i := indexRemoteReturned(s); i >= 0 {
		r.preamble = trimSpace(s[:max(0, i-len("remote server returned '"))])
		s = s[i:]
		if j := strings.LastIndexByte(s, '\''); j >= 0 {
			s = s[:j]
		}
	}
	// Exchange quotes some remote answers as "<mx.example.com #5.0.0 smtp; 452 4.2.2 …>": the
	// part after "smtp;" is the receiver's; Sendmail logs the reply after "<<< ".
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
		if i := strings.Index(s, " smtp;"); i > 0 && i < 80 {
			s = s[i+len(" smtp;") : len(s)-1]
		}
	}
	// Search from the rare '<' (not the space) and only then for the last occurrence.
	if strings.Contains(s, "<<< ") {
		if i := strings.LastIndex(s, " <<< "); i >= 0 {
			s = s[i+len(" <<< "):]
		}
	}
	for pass := 0; pass < maxWrapperPasses; pass++ {
		s = trimSpace(trimLeftAny(s, "#\"'<"))
		if s == "" {
			break
		}
		before := s
		// Most responses start with their reply code: dispatch on the first byte so that
		// they leave the loop at once.
		switch s[0] | 0x20 {
		case 'h':
			if hasPrefixFold(s, "host ") {
				s, r.host = stripHostSaid(s, r.host)
			}
		case 's':
			switch {
			case hasPrefixFold(s, "smtp error from remote mail server after "),
				hasPrefixFold(s, "smtp error from remote mailer after "):
				s = stripEximAfter(s, &r)
			default:
				s = stripPrefixes(s, plainPrefixes)
			}
		case 'c', 'd':
			if hasPrefixFold(s, "connect to ") || hasPrefixFold(s, "delivery temporarily suspended: ") {
				// Postfix: "connect to host[ip]:25: Connection refused" keeps its text, but a
				// server greeting quoted after "refused to talk to me:" is the real answer.
				if i := indexFold(s, "refused to talk to me: "); i >= 0 {
					s = s[i+len("refused to talk to me: "):]
				}
			} else {
				s = stripPrefixes(s, plainPrefixes)
			}
		case 'r', 'x', 't', 'e', '<':
			s = stripPrefixes(s, plainPrefixes)
		}
		if s == before {
			break
		}
	}
	s = trimSpace(s)
	// Trailing wrappers.
	for pass := 0; pass < 3; pass++ {
		before := s
		if strings.HasSuffix(s, ")") {
			tail := max(0, len(s)-60)
			if i := indexFold(s[tail:], "(in reply to "); i >= 0 {
				i += tail
				r.phase = phaseOf(s[i+len("(in reply to ") : len(s)-1])
				s = trimSpace(s[:i])
			}
		}
		s = strings.TrimSuffix(s, "##")
		s = trimSpace(trimRightAny(s, "'\""))
		if s == before {
			break
		}
	}
	r.text = s
	r.code, r.enhanced, r.body = splitCodes(s)
	if r.enhanced == "" {
		r.enhanced = trailingEnhanced(r.body)
	}
	return r
}

// indexRemoteReturned finds Exchange's "Remote Server returned '" (any case) and returns the
// index just past it, or -1.
func indexRemoteReturned(s string) int {
	const quote = "remote server returned '"
	// Apostrophes are rare in responses: find each one and look behind it.
	for off := len(quote) - 1; off < len(s); {
		i := strings.IndexByte(s[off:], '\'')
		if i < 0 {
			return -1
		}
		i += off
		if strings.EqualFold(s[i+1-len(quote):i+1], quote) {
			return i + 1
		}
		off = i + 1
	}
	return -1
}

var plainPrefixes = []string{
	"diagnostic-code:", "smtp;", "x-postfix;", "x-unix;", "x-local;", "reason:", "status:",
	"remote host said:", "deferred:", "the error that the other server returned was:",
	"<<<", "error:", "said:",
}

// stripHostSaid removes Postfix/qmail/Exim "host NAME[IP] said:", "host NAME [IP]:" and
// "host NAME[IP] refused to talk to me:" wrappers, returning the host name.
func stripHostSaid(s, host string) (string, string) {
	rest := s[len("host "):]
	sp := 0
	for sp < len(rest) && rest[sp] != ' ' && rest[sp] != '[' {
		sp++
	}
	if sp == 0 || sp == len(rest) {
		return s, host
	}
	name := rest[:sp]
	rest = rest[sp:]
	rest = strings.TrimLeft(rest, " ")
	if strings.HasPrefix(rest, "[") {
		if j := strings.IndexByte(rest, ']'); j > 0 {
			rest = rest[j+1:]
		}
	}
	rest = strings.TrimLeft(rest, " ")
	switch {
	case hasPrefixFold(rest, "said:"):
		rest = rest[len("said:"):]
	case hasPrefixFold(rest, "refused to talk to me:"):
		rest = rest[len("refused to talk to me:"):]
	case strings.HasPrefix(rest, ":"):
		rest = rest[1:]
	default:
		return s, host
	}
	return rest, name
}

// stripEximAfter removes Exim's "SMTP error from remote mail server after RCPT TO:<a@b>:".
func stripEximAfter(s string, r *reply) string {
	i := strings.Index(s, " after ")
	rest := s[i+len(" after "):]
	r.phase = phaseOf(rest)
	// The command may quote an address with a colon in it: skip past the closing '>'.
	if j := strings.IndexByte(rest, '>'); j >= 0 && j < 300 {
		if k := strings.IndexByte(rest[j:], ':'); k >= 0 {
			return rest[j+k+1:]
		}
	}
	if k := strings.Index(rest, ": "); k >= 0 {
		return rest[k+2:]
	}
	return s
}

func phaseOf(c string) string {
	if hasPrefixFold(c, "pipelined ") {
		c = c[len("pipelined "):]
	}
	switch {
	case hasPrefixFold(c, "rcpt"):
		return "rcpt"
	case hasPrefixFold(c, "mail"):
		return "mail"
	case hasPrefixFold(c, "end of data"), hasPrefixFold(c, "data"):
		return "data"
	case hasPrefixFold(c, "helo"), hasPrefixFold(c, "ehlo"):
		return "helo"
	case hasPrefixFold(c, "initial"), hasPrefixFold(c, "connect"):
		return "connect"
	case hasPrefixFold(c, "starttls"):
		return "starttls"
	case hasPrefixFold(c, "auth"):
		return "auth"
	}
	return ""
}

// splitCodes takes "550", "550-5.7.1", "550 5.7.1", "#550 5.1.1", "5.7.705" and "550 #5.7.1"
// off the front of s.
func splitCodes(s string) (code int, enhanced, body string) {
	body = s
	if len(s) >= 3 && (s[0] == '2' || s[0] == '4' || s[0] == '5') && isDigit(s[1]) && isDigit(s[2]) &&
		(len(s) == 3 || s[3] == ' ' || s[3] == '-' || s[3] == ';' || s[3] == ',' || s[3] == ':') {
		code = int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
		body = trimSpace(trimLeftAny(s[3:], " -;,:"))
		// "552 552 5.3.4" and "550 550-5.7.1" repeat the code.
		if len(body) >= 4 && body[:3] == s[:3] && (body[3] == ' ' || body[3] == '-') {
			body = trimSpace(body[4:])
		}
	}
	b := trimLeftAny(body, "#")
	if e, rest := leadingEnhanced(b); e != "" {
		enhanced = e
		body = trimSpace(trimLeftAny(rest, " -;,:"))
	}
	return code, enhanced, body
}

// leadingEnhanced returns the enhanced status code at the start of s and the rest.
func leadingEnhanced(s string) (string, string) {
	end := 0
	for end < len(s) && end < 11 && (isDigit(s[end]) || s[end] == '.') {
		end++
	}
	if end < 5 {
		return "", s
	}
	if end < len(s) && isWordByte(s[end]) {
		return "", s
	}
	cand := strings.TrimRight(s[:end], ".")
	if _, ok := parseEnhanced(cand); !ok {
		return "", s
	}
	return cand, s[len(cand):]
}

// trailingEnhanced finds qmail's "(#5.1.1)" and similar bracketed codes near the end.
func trailingEnhanced(s string) string {
	tail := s[max(0, len(s)-40):]
	i := strings.LastIndex(tail, "(#")
	if i < 0 {
		return ""
	}
	e, _ := leadingEnhanced(tail[i+2:])
	return e
}

// stripPrefixes removes the first of prefixes that s starts with (ASCII case-insensitive).
func stripPrefixes(s string, prefixes []string) string {
	first := s[0] | 0x20
	for _, p := range prefixes {
		if (p[0] == first || p[0] == s[0]) && hasPrefixFold(s, p) {
			return s[len(p):]
		}
	}
	return s
}

func trimRightAny(s, cutset string) string {
	for len(s) > 0 && strings.IndexByte(cutset, s[len(s)-1]) >= 0 {
		s = s[:len(s)-1]
	}
	return s
}

// trimLeftAny is strings.TrimLeft for a short ASCII cutset, without building a set per call.
func trimLeftAny(s, cutset string) string {
	for len(s) > 0 && strings.IndexByte(cutset, s[0]) >= 0 {
		s = s[1:]
	}
	return s
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[len(s)-1] == '\r' || s[len(s)-1] == '\n') {
		s = s[:len(s)-1]
	}
	return s
}

// hasPrefixFold is an ASCII case-insensitive strings.HasPrefix.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// indexFold is an ASCII case-insensitive strings.Index for a lower-case needle.
func indexFold(s, needle string) int {
	n := len(needle)
	if n == 0 {
		return 0
	}
	first, upper := needle[0], needle[0]
	if 'a' <= first && first <= 'z' {
		upper = first - ('a' - 'A')
	}
	for i := 0; i+n <= len(s); {
		// Jump to the next byte that can start the needle.
		j := strings.IndexByte(s[i:len(s)-n+1], first)
		if upper != first {
			if k := strings.IndexByte(s[i:len(s)-n+1], upper); k >= 0 && (j < 0 || k < j) {
				j = k
			}
		}
		if j < 0 {
			return -1
		}
		i += j
		if strings.EqualFold(s[i:i+n], needle) {
			return i
		}
		i++
	}
	return -1
}

// dropCodeTokens removes, in place, the continuation prefixes of a multi-line reply from the
// folded text: "550-5.7.1", "550-", a repeated "550" or "5.7.1" standing alone.
func dropCodeTokens(buf []byte, code int, enhanced string) []byte {
	if code == 0 && enhanced == "" {
		return buf
	}
	// Most responses do not repeat their codes: look before rewriting.
	repeated := false
	if code != 0 {
		c3 := [3]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)}
		repeated = bytes.Contains(buf, c3[:])
	}
	if !repeated && enhanced != "" {
		repeated = bytes.Contains(buf, unsafeBytes(enhanced))
	}
	if !repeated {
		return buf
	}
	var c [3]byte
	if code != 0 {
		c = [3]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)}
	}
	out := buf[:0]
	for i := 0; i < len(buf); {
		j := i
		for j < len(buf) && buf[j] != ' ' {
			j++
		}
		w := buf[i:j]
		keep := w
		if code != 0 && len(w) >= 3 && w[0] == c[0] && w[1] == c[1] && w[2] == c[2] &&
			(len(w) == 3 || w[3] == '-') {
			keep = w[min(len(w), 4):]
			if len(keep) > 0 && enhanced != "" && hasPrefixBytes(keep, enhanced) {
				keep = keep[len(enhanced):]
			}
		} else if enhanced != "" && len(w) == len(enhanced) && hasPrefixBytes(w, enhanced) {
			keep = nil
		}
		if len(keep) > 0 {
			if len(out) > 0 {
				out = append(out, ' ')
			}
			out = append(out, keep...)
		}
		i = j + 1
	}
	return out
}

func hasPrefixBytes(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if b[i] != prefix[i] {
			return false
		}
	}
	return true
}

// unsafeBytes views s as bytes without copying; the result must not be modified.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
