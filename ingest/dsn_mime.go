package ingest

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

// Limits of the bounce decoder. A bounce is small; anything beyond these bounds is garbage
// or an attack, and is cut rather than refused.
const (
	maxMIMEDepth      = 10       // nested multiparts and messages
	maxDecodedBytes   = 16 << 20 // decoded bytes per message, all parts together
	maxHeaderBytes    = 256 << 10
	maxHeaderFields   = 1000
	maxFieldBytes     = 32 << 10
	maxParts          = 500
	maxScanTextBytes  = 256 << 10 // text of one part that the heuristics look at
	maxInlineAttempts = 64
)

// dsnField is one header field: the name lower-cased, the value unfolded.
type dsnField struct{ name, value string }

// dsnHeader is a header block in its original order.
type dsnHeader []dsnField

// get returns the value of the first field called name (lower case), or "".
func (h dsnHeader) get(name string) string {
	for i := range h {
		if h[i].name == name {
			return h[i].value
		}
	}
	return ""
}

// has reports whether a field called name (lower case) is present.
func (h dsnHeader) has(name string) bool {
	for i := range h {
		if h[i].name == name {
			return true
		}
	}
	return false
}

// dsnParseHeader reads a header block from the start of b and returns it with the rest of b
// after the blank line that ends it. It never fails: a line that is neither a field nor a
// continuation ends the block (it then belongs to the body), and the block is bounded.
func dsnParseHeader(b []byte) (dsnHeader, []byte) {
	// Fields gather in a stack buffer and are copied out once, at their final size.
	var stack [48]dsnField
	h := dsnHeader(stack[:0])
	pos := 0
	var cur []byte // value of a folded field being joined
	var curVal []byte
	folded := false
	curName := ""
	keep := true
	flush := func() {
		if curName != "" && len(h) < maxHeaderFields {
			var v string
			if !keep {
				// Name only: has() still sees the field.
			} else if folded {
				v = string(bytes.TrimSpace(cur))
			} else {
				v = string(curVal)
			}
			h = append(h, dsnField{curName, v})
		}
		curName, folded, curVal = "", false, nil
		cur = cur[:0]
	}
	first := true
	for pos < len(b) {
		if pos > maxHeaderBytes {
			// Skip the rest of an oversized header block.
			if i := bytes.Index(b[pos:], []byte("\n\n")); i >= 0 {
				pos += i + 2
			} else if i := bytes.Index(b[pos:], []byte("\r\n\r\n")); i >= 0 {
				pos += i + 4
			} else {
				pos = len(b)
			}
			break
		}
		end := bytes.IndexByte(b[pos:], '\n')
		var line []byte
		next := len(b)
		if end < 0 {
			line = b[pos:]
		} else {
			line = b[pos : pos+end]
			next = pos + end + 1
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			pos = next
			break
		}
		if first && len(line) > 5 && string(line[:5]) == "From " {
			first = false
			pos = next // mbox separator
			continue
		}
		first = false
		if line[0] == ' ' || line[0] == '\t' {
			if curName != "" && keep && len(cur)+len(curVal) < maxFieldBytes {
				if !folded {
					cur = append(cur[:0], curVal...)
					folded = true
				}
				cur = append(cur, ' ')
				cur = append(cur, bytes.TrimSpace(line)...)
			}
			pos = next
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || bytes.IndexByte(line[:colon], ' ') >= 0 || bytes.IndexByte(line[:colon], '\t') >= 0 {
			break // not a header line: the body starts here
		}
		flush()
		curName, keep = fieldName(line[:colon])
		v := bytes.TrimSpace(line[colon+1:])
		if len(v) > maxFieldBytes {
			v = v[:maxFieldBytes]
		}
		curVal = v
		pos = next
	}
	flush()
	if len(h) == 0 {
		return nil, b[pos:]
	}
	return append(dsnHeader(nil), h...), b[pos:]
}

// fieldName returns the lower-cased field name, without allocating for the fields bounces
// are made of, and whether its value is worth keeping: trace and signature fields (Received,
// DKIM, ARC, provider anti-spam stamps) are long, folded and never read.
func fieldName(b []byte) (string, bool) {
	var buf [48]byte
	if len(b) > len(buf) {
		return strings.ToLower(string(b)), true
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(b)]) {
	case "received":
		return "received", false
	case "return-path":
		return "return-path", true
	case "from":
		return "from", true
	case "to":
		return "to", true
	case "cc":
		return "cc", true
	case "subject":
		return "subject", true
	case "date":
		return "date", true
	case "message-id":
		return "message-id", true
	case "mime-version":
		return "mime-version", true
	case "content-type":
		return "content-type", true
	case "content-transfer-encoding":
		return "content-transfer-encoding", true
	case "content-description":
		return "content-description", true
	case "content-disposition":
		return "content-disposition", true
	case "x-failed-recipients":
		return "x-failed-recipients", true
	case "auto-submitted":
		return "auto-submitted", true
	case "reporting-mta":
		return "reporting-mta", true
	case "arrival-date":
		return "arrival-date", true
	case "final-recipient":
		return "final-recipient", true
	case "original-recipient":
		return "original-recipient", true
	case "action":
		return "action", true
	case "status":
		return "status", true
	case "remote-mta":
		return "remote-mta", true
	case "diagnostic-code":
		return "diagnostic-code", true
	case "last-attempt-date":
		return "last-attempt-date", true
	case "x-postfix-queue-id":
		return "x-postfix-queue-id", true
	case "x-postfix-sender":
		return "x-postfix-sender", true
	case "received-from-mta":
		return "received-from-mta", true
	case "will-retry-until":
		return "will-retry-until", true
	case "reply-to":
		return "reply-to", true
	case "sender":
		return "sender", true
	case "delivered-to":
		return "delivered-to", true
	case "x-original-to":
		return "x-original-to", true
	case "dkim-signature":
		return "dkim-signature", false
	case "authentication-results":
		return "authentication-results", false
	case "precedence":
		return "precedence", true
	case "in-reply-to":
		return "in-reply-to", true
	case "references":
		return "references", true
	case "user-agent":
		return "user-agent", true
	case "x-mailer":
		return "x-mailer", true
	case "feedback-type":
		return "feedback-type", true
	case "original-rcpt-to":
		return "original-rcpt-to", true
	case "source-ip":
		return "source-ip", true
	case "version":
		return "version", true
	case "x-google-dkim-signature":
		return "x-google-dkim-signature", false
	case "arc-seal":
		return "arc-seal", false
	case "arc-message-signature":
		return "arc-message-signature", false
	case "arc-authentication-results":
		return "arc-authentication-results", false
	case "x-received":
		return "x-received", false
	case "x-google-smtp-source":
		return "x-google-smtp-source", false
	case "x-gm-message-state":
		return "x-gm-message-state", false
	case "x-ms-exchange-antispam-messagedata-0":
		return "x-ms-exchange-antispam-messagedata-0", false
	case "x-microsoft-antispam-message-info":
		return "x-microsoft-antispam-message-info", false
	case "x-forefront-antispam-report":
		return "x-forefront-antispam-report", false
	case "x-microsoft-antispam":
		return "x-microsoft-antispam", false
	case "x-ms-exchange-crosstenant-id":
		return "x-ms-exchange-crosstenant-id", false
	}
	return string(buf[:len(b)]), true
}

// dsnMediaType splits a Content-Type value into the lower-cased type and its parameters,
// tolerating broken parameters.
func dsnMediaType(v string) (string, map[string]string) {
	if v == "" {
		return "text/plain", nil
	}
	mt, params, err := mime.ParseMediaType(v)
	if err == nil || mt != "" {
		if err != nil && params == nil {
			params = dsnLooseParams(v)
		}
		return strings.ToLower(mt), params
	}
	t, _, _ := strings.Cut(v, ";")
	t = strings.TrimSpace(t)
	if i := strings.IndexAny(t, " \t"); i >= 0 {
		t = t[:i] // "text/plain charset=x": a missing semicolon
	}
	return strings.ToLower(t), dsnLooseParams(strings.Replace(v, " ", ";", 1))
}

// dsnLooseParams extracts name=value parameters of a header value that mime.ParseMediaType
// refused (unquoted specials, duplicates).
func dsnLooseParams(v string) map[string]string {
	params := map[string]string{}
	for _, p := range strings.Split(v, ";")[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.Trim(strings.TrimSpace(val), `"'`)
		if _, dup := params[k]; !dup && k != "" {
			params[k] = val
		}
	}
	return params
}

// dsnPart is a decoded leaf of a message.
type dsnPart struct {
	ctype  string
	params map[string]string
	hdr    dsnHeader
	body   []byte // transfer-decoded; text/* converted to UTF-8
}

// dsnWalker flattens the MIME tree of a message into its leaves, within the budget.
type dsnWalker struct {
	parts  []dsnPart
	budget int
	report string // report-type of the first multipart/report seen
}

// walk adds the leaves of the entity with header h and raw body.
func (w *dsnWalker) walk(h dsnHeader, body []byte, depth int) {
	if len(w.parts) >= maxParts || w.budget <= 0 {
		return
	}
	ct, params := dsnMediaType(h.get("content-type"))
	if strings.HasPrefix(ct, "multipart/") {
		if ct == "multipart/report" && w.report == "" {
			w.report = strings.ToLower(params["report-type"])
			if w.report == "" {
				w.report = "unknown"
			}
		}
		boundary := params["boundary"]
		parts := dsnSplitMultipart(body, boundary)
		if len(parts) == 0 {
			// The declared boundary is not used (a rewriting relay, a typo): use the one
			// the body actually has.
			if b := dsnGuessBoundary(body); b != "" {
				parts = dsnSplitMultipart(body, b)
			}
		}
		if len(parts) > 0 && depth < maxMIMEDepth {
			for _, p := range parts {
				ph, pb := dsnParseHeader(p)
				if len(ph) == 0 && len(bytes.TrimSpace(pb)) == 0 {
					continue
				}
				w.walk(ph, pb, depth+1)
			}
			return
		}
		ct = "text/plain" // no boundary, or too deep: keep the text
	}
	if ct == "" || !strings.Contains(ct, "/") {
		ct = "text/plain"
	}
	if depth == 0 && ct == "text/plain" && !h.has("content-transfer-encoding") && depth < maxMIMEDepth {
		// A multipart whose Content-Type header was lost (Sendmail through some relays):
		// a body made of delimited parts, at least one of which has a header.
		if b := dsnGuessBoundary(body); b != "" {
			parts := dsnSplitMultipart(body, b)
			typed := false
			for _, p := range parts {
				if ph, _ := dsnParseHeader(p); ph.has("content-type") {
					typed = true
					break
				}
			}
			if typed {
				// The text before the first delimiter is the notification itself when the
				// parts are a returned copy (Yahoo's NDR inlines a multipart original).
				if i := bytes.Index(body, []byte("--"+b)); i > 0 && len(bytes.TrimSpace(body[:i])) > 0 {
					w.walk(dsnHeader{{name: "content-type", value: "text/plain"}}, body[:i], depth+1)
				}
				for _, p := range parts {
					ph, pb := dsnParseHeader(p)
					w.walk(ph, pb, depth+1)
				}
				return
			}
		}
	}
	if !strings.HasPrefix(ct, "text/") && !strings.HasPrefix(ct, "message/") {
		// Attachments (images, archives, …) say nothing about the failure: skip them.
		w.parts = append(w.parts, dsnPart{ctype: ct, params: params, hdr: h})
		return
	}
	dec := dsnDecodeTransfer(h.get("content-transfer-encoding"), body)
	if len(dec) > w.budget {
		dec = dec[:w.budget]
	}
	w.budget -= len(dec)
	if strings.HasPrefix(ct, "text/") && ct != "text/rfc822-headers" || ct == "message/delivery-status" ||
		ct == "message/feedback-report" || ct == "message/global-delivery-status" {
		dec = dsnToUTF8(params["charset"], dec)
	}
	w.parts = append(w.parts, dsnPart{ctype: ct, params: params, hdr: h, body: dec})
}

// dsnSplitMultipart returns the bodies between the delimiter lines of boundary. A missing
// closing delimiter ends the last part at the end of the input.
func dsnSplitMultipart(body []byte, boundary string) [][]byte {
	if boundary == "" {
		return nil
	}
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1
	pos := 0
	for pos < len(body) && len(parts) < maxParts {
		i := bytes.Index(body[pos:], delim)
		if i < 0 {
			break
		}
		at := pos + i
		pos = at + len(delim)
		ls := at
		for ls > 0 && (body[ls-1] == ' ' || body[ls-1] == '\t') && at-ls < 8 {
			ls-- // tolerate indented delimiters
		}
		if ls > 0 && body[ls-1] != '\n' {
			continue // not at the start of a line
		}
		at = ls
		closing := bytes.HasPrefix(body[pos:], []byte("--"))
		if start >= 0 {
			end := at
			if end > start && body[end-1] == '\n' {
				end--
				if end > start && body[end-1] == '\r' {
					end--
				}
			}
			parts = append(parts, body[start:end])
		}
		nl := bytes.IndexByte(body[pos:], '\n')
		if nl < 0 {
			start = len(body)
			pos = len(body)
		} else {
			pos += nl + 1
			start = pos
		}
		if closing {
			start = -1
			break
		}
	}
	if start >= 0 && start < len(body) {
		parts = append(parts, body[start:])
	}
	return parts
}

// dsnDecodeTransfer undoes a Content-Transfer-Encoding. Broken input keeps what decodes.
func dsnDecodeTransfer(cte string, b []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return dsnDecodeBase64(b)
	case "quoted-printable":
		// mime/quotedprintable stops at the first bad escape; this keeps going.
		return dsnDecodeQPLoose(b)
	}
	return b
}

// dsnDecodeBase64 decodes base64 leniently: characters outside the alphabet are skipped and a
// truncated last quantum is dropped.
func dsnDecodeBase64(b []byte) []byte {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '-':
			clean = append(clean, '+') // URL alphabet
		case c == '_':
			clean = append(clean, '/')
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

// dsnDecodeQPLoose decodes quoted-printable, keeping invalid escapes literally.
func dsnDecodeQPLoose(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			i += 2
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			i++
			continue
		}
		if i+2 < len(b) && dsnIsHex(b[i+1]) && dsnIsHex(b[i+2]) {
			out = append(out, dsnUnhex(b[i+1])<<4|dsnUnhex(b[i+2]))
			i += 2
			continue
		}
		out = append(out, c)
	}
	return out
}

func dsnIsHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func dsnUnhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// dsnToUTF8 converts text in charset to UTF-8; unknown charsets and conversion errors keep the
// bytes as they are.
func dsnToUTF8(charset string, b []byte) []byte {
	cs := strings.ToLower(strings.Trim(strings.TrimSpace(charset), `"'`))
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "7bit", "8bit":
		return b
	}
	enc, err := htmlindex.Get(cs)
	if err != nil {
		return b
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return b
	}
	return out
}

// dsnWordDecoder decodes RFC 2047 encoded words in header values.
var dsnWordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(strings.ToLower(charset))
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(r), nil
}}

// dsnDecodeWords decodes the encoded words of a header value, keeping it as is on error.
func dsnDecodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	out, err := dsnWordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return out
}

// dsnHTMLToText turns an HTML body into rough text: tags become line breaks or spaces and the
// common entities are decoded. It is only good enough for the heuristics.
func dsnHTMLToText(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case '<':
			j := bytes.IndexByte(b[i:], '>')
			if j < 0 {
				return out
			}
			tag := b[i+1 : i+j]
			switch {
			case dsnHasPrefixFoldBytes(tag, "br"), dsnHasPrefixFoldBytes(tag, "p"), dsnHasPrefixFoldBytes(tag, "/p"),
				dsnHasPrefixFoldBytes(tag, "div"), dsnHasPrefixFoldBytes(tag, "/div"), dsnHasPrefixFoldBytes(tag, "tr"),
				dsnHasPrefixFoldBytes(tag, "/tr"), dsnHasPrefixFoldBytes(tag, "li"), dsnHasPrefixFoldBytes(tag, "/h"):
				out = append(out, '\n')
			case dsnHasPrefixFoldBytes(tag, "style"), dsnHasPrefixFoldBytes(tag, "script"):
				closing := "</style"
				if dsnHasPrefixFoldBytes(tag, "script") {
					closing = "</script"
				}
				if k := dsnIndexFold(b[i:], closing); k >= 0 {
					j = k
					if e := bytes.IndexByte(b[i+k:], '>'); e >= 0 {
						j = k + e
					}
				}
			default:
				out = append(out, ' ')
			}
			i += j
		case '&':
			j := bytes.IndexByte(b[i:min(len(b), i+10)], ';')
			if j > 0 {
				switch string(b[i+1 : i+j]) {
				case "lt":
					out = append(out, '<')
				case "gt":
					out = append(out, '>')
				case "amp":
					out = append(out, '&')
				case "quot":
					out = append(out, '"')
				case "nbsp", "#160":
					out = append(out, ' ')
				case "#39", "apos":
					out = append(out, '\'')
				default:
					out = append(out, b[i:i+j+1]...)
				}
				i += j
				continue
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	return out
}

// dsnGuessBoundary returns the boundary of the first line of body that looks like a MIME
// delimiter ("--" and a token) and occurs at least twice, or "".
func dsnGuessBoundary(body []byte) string {
	scan := body[:min(len(body), 64<<10)]
	for pos := 0; pos < len(scan); {
		end := bytes.IndexByte(scan[pos:], '\n')
		next := len(scan)
		if end >= 0 {
			next = pos + end + 1
		} else {
			end = len(scan) - pos
		}
		line := bytes.TrimSpace(scan[pos : pos+end])
		if len(line) > 6 && len(line) < 200 && line[0] == '-' && line[1] == '-' && !bytes.ContainsAny(line, " \t") {
			cand := bytes.TrimSuffix(line[2:], []byte("--"))
			if bytes.Count(body, append([]byte("\n--"), cand...)) >= 2 {
				return string(cand)
			}
		}
		pos = next
	}
	return ""
}
