package lokisink

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The label names of a line.
const (
	LabelMTA      = "mta"
	LabelMTAHost  = "mta_host"
	LabelOutcome  = "outcome"
	LabelCategory = "category"
)

// maxLabelValueBytes caps a label value. Loki's own limit is 2048 bytes; no legitimate
// value of the line labels is longer than a host name (253).
const maxLabelValueBytes = 255

// maxLabels is Loki's default max_label_names_per_series.
const maxLabels = 15

// labelKey is the sanitised label values of one line; "" leaves the label out.
type labelKey struct {
	mta, host, outcome, category string
}

// sanitizeValue makes s a label value that Loki accepts: surrounding white space trimmed,
// control and other non-printing characters, invalid UTF-8 and U+FFFD replaced by "_", at
// most maxLabelValueBytes bytes, cut at a character boundary. U+FFFD goes too because the
// Prometheus label parser, which Loki runs on a stream's labels, cannot tell it from an
// invalid byte and refuses it: Loki would answer the push with 400, and the client would
// give up the whole batch.
func sanitizeValue(s string) string {
	if plainValue(s) {
		return s
	}
	s = strings.ToValidUTF8(strings.TrimSpace(s), "_")
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r != utf8.RuneError && unicode.IsPrint(r) {
			return r
		}
		return '_'
	}, s)
	return strings.TrimSpace(cutUTF8(s, maxLabelValueBytes))
}

// plainValue reports whether s is printable ASCII, short enough, and has no surrounding
// spaces: the common case, which needs no copy.
func plainValue(s string) bool {
	if len(s) > maxLabelValueBytes {
		return false
	}
	if s != "" && (s[0] == ' ' || s[len(s)-1] == ' ') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// cutUTF8 returns at most n bytes of s, not splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// validLabelName reports whether name is a classic Prometheus/Loki label name.
func validLabelName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// externalLabels validates the configured external labels and sanitises their values.
func externalLabels(m map[string]string) (map[string]string, error) {
	if len(m)+4 > maxLabels {
		return nil, fmt.Errorf("%d external labels: Loki allows %d labels per stream, 4 of them are the line's",
			len(m), maxLabels)
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make(map[string]string, len(m))
	for _, name := range names {
		switch {
		case !validLabelName(name):
			return nil, fmt.Errorf("external label name %q: want [a-zA-Z_][a-zA-Z0-9_]*", name)
		case strings.HasPrefix(name, "__"):
			return nil, fmt.Errorf("external label name %q: names starting with __ are reserved", name)
		case name == LabelMTA || name == LabelMTAHost || name == LabelOutcome || name == LabelCategory:
			return nil, fmt.Errorf("external label %q: the name is one of the line labels", name)
		}
		v := sanitizeValue(m[name])
		if v == "" {
			return nil, fmt.Errorf("external label %q has no value", name)
		}
		out[name] = v
	}
	return out, nil
}
