package classify

import (
	"errors"
	"fmt"
	"strings"
)

// pattern is one compiled match pattern: a sequence of literal bytes and digit wildcards, with
// optional word boundaries at either end. The automaton finds the anchor (the longest literal
// run); verify checks the rest around it.
type pattern struct {
	src         string // as written in the rule file
	items       []patItem
	anchor      string   // folded literal looked up by the automaton
	anchors     []string // the anchor with its expanded digits (see expandDigits), or just anchor
	anchorFrom  int      // items[anchorFrom:anchorTo] are matched by the automaton
	anchorTo    int
	boundStart  bool
	boundEnd    bool
	hasWildcard bool
}

type itemKind uint8

const (
	itemByte itemKind = iota
	itemDigit
	itemDigits // one or more
)

type patItem struct {
	kind itemKind
	b    byte
}

var errEmptyPattern = errors.New("empty pattern")

// maxAnchorBytes caps the literal the automaton looks for; see parsePattern.
const maxAnchorBytes = 12

// parsePattern compiles the pattern syntax of rules/README.md.
func parsePattern(src string) (*pattern, error) {
	p := &pattern{src: src}
	s := src
	if strings.HasPrefix(s, `\b`) {
		p.boundStart = true
		s = s[2:]
	}
	if strings.HasSuffix(s, `\b`) && !strings.HasSuffix(s, `\\b`) {
		p.boundEnd = true
		s = s[:len(s)-2]
	}
	// Fold the literal parts; escapes are kept apart so folding cannot touch them.
	var lit strings.Builder
	flush := func() {
		if lit.Len() == 0 {
			return
		}
		var folded []byte
		if lit.String()[0] == ' ' {
			folded = append(folded, ' ') // keep a leading space after a wildcard
		}
		for _, b := range appendFolded(folded, lit.String()) {
			p.items = append(p.items, patItem{kind: itemByte, b: b})
		}
		lit.Reset()
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			lit.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("pattern %q: trailing backslash", src)
		}
		i++
		switch s[i] {
		case '\\':
			lit.WriteByte('\\')
		case 'd':
			flush()
			if i+1 < len(s) && s[i+1] == '+' {
				i++
				if i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'd' {
					return nil, fmt.Errorf("pattern %q: \\d+ followed by \\d is ambiguous", src)
				}
				p.items = append(p.items, patItem{kind: itemDigits})
			} else {
				p.items = append(p.items, patItem{kind: itemDigit})
			}
			p.hasWildcard = true
		case 'b':
			return nil, fmt.Errorf("pattern %q: \\b is only allowed at the start or the end", src)
		default:
			return nil, fmt.Errorf("pattern %q: unknown escape \\%c", src, s[i])
		}
	}
	flush()
	if len(p.items) == 0 {
		return nil, fmt.Errorf("pattern %q: %w", src, errEmptyPattern)
	}
	// Longest literal run is the anchor.
	bestFrom, bestTo := 0, 0
	for i := 0; i < len(p.items); {
		if p.items[i].kind != itemByte {
			i++
			continue
		}
		j := i
		for j < len(p.items) && p.items[j].kind == itemByte {
			j++
		}
		if j-i > bestTo-bestFrom {
			bestFrom, bestTo = i, j
		}
		i = j
	}
	if bestTo-bestFrom < 2 {
		return nil, fmt.Errorf("pattern %q: needs a literal part of at least 2 bytes", src)
	}
	// A long literal only needs its first bytes in the automaton: verify checks the rest.
	// Capping the anchor keeps the DFA small enough to stay in cache.
	if bestTo-bestFrom > maxAnchorBytes {
		bestTo = bestFrom + maxAnchorBytes
	}
	p.anchorFrom, p.anchorTo = bestFrom, bestTo
	anchor := make([]byte, 0, bestTo-bestFrom)
	for _, it := range p.items[bestFrom:bestTo] {
		anchor = append(anchor, it.b)
	}
	p.anchor = string(anchor)
	p.anchors = []string{p.anchor}
	p.expandDigits()
	return p, nil
}

// expandDigits lengthens a short anchor by the single-digit wildcards that follow it, as one
// anchor per digit: "ib" + \d\d becomes "ib00" … "ib99". Short anchors such as "es" or "ib"
// occur in almost every English sentence; with their digits they almost never do, which spares
// a verification per occurrence.
func (p *pattern) expandDigits() {
	const minAnchor, maxExpanded = 4, 2
	for n := 0; n < maxExpanded && len(p.anchors[0]) < minAnchor &&
		p.anchorTo < len(p.items) && p.items[p.anchorTo].kind == itemDigit; n++ {
		next := make([]string, 0, len(p.anchors)*10)
		for _, a := range p.anchors {
			for d := byte('0'); d <= '9'; d++ {
				next = append(next, a+string(d))
			}
		}
		p.anchors = next
		p.anchorTo++
	}
}

// verify reports whether the whole pattern matches text around an anchor occurrence ending at
// end, and returns the span of the whole match.
func (p *pattern) verify(text []byte, end int) (start, stop int, ok bool) {
	// Forward from the anchor's end.
	pos := end
	for _, it := range p.items[p.anchorTo:] {
		switch it.kind {
		case itemByte:
			if pos >= len(text) || text[pos] != it.b {
				return 0, 0, false
			}
			pos++
		case itemDigit:
			if pos >= len(text) || !isDigit(text[pos]) {
				return 0, 0, false
			}
			pos++
		case itemDigits:
			if pos >= len(text) || !isDigit(text[pos]) {
				return 0, 0, false
			}
			for pos < len(text) && isDigit(text[pos]) {
				pos++
			}
		}
	}
	stop = pos
	// Backward from the anchor's start.
	pos = end - len(p.anchors[0])
	for i := p.anchorFrom - 1; i >= 0; i-- {
		it := p.items[i]
		switch it.kind {
		case itemByte:
			if pos <= 0 || text[pos-1] != it.b {
				return 0, 0, false
			}
			pos--
		case itemDigit:
			if pos <= 0 || !isDigit(text[pos-1]) {
				return 0, 0, false
			}
			pos--
		case itemDigits:
			if pos <= 0 || !isDigit(text[pos-1]) {
				return 0, 0, false
			}
			for pos > 0 && isDigit(text[pos-1]) {
				pos--
			}
		}
	}
	start = pos
	if p.boundStart && start > 0 && isWordByte(text[start-1]) {
		return 0, 0, false
	}
	if p.boundEnd && stop < len(text) && isWordByte(text[stop]) {
		return 0, 0, false
	}
	return start, stop, true
}
