package classify

import (
	"encoding/binary"
	"slices"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// foldTable maps the runes of the Latin blocks (U+0080–U+024F and U+1E00–U+1EFF) to their
// folded form: lower case with diacritics removed. An empty entry means "use unicode.ToLower".
var foldTable = buildFoldTable()

const (
	foldLatinEnd    = 0x250
	foldExtStart    = 0x1E00
	foldExtEnd      = 0x1F00
	fullwidthStart  = 0xFF01
	fullwidthEnd    = 0xFF5E
	fullwidthOffset = 0xFF01 - 0x21
)

// special folds that canonical decomposition does not give.
var foldSpecial = map[rune]string{
	'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'ø': "o", 'Ø': "o", 'œ': "oe", 'Œ': "oe",
	'đ': "d", 'Đ': "d", 'ł': "l", 'Ł': "l", 'ı': "i", 'ħ': "h", 'Ħ': "h", 'þ': "th", 'Þ': "th",
	'ð': "d", 'Ð': "d", 'ŀ': "l", 'Ŀ': "l",
	// Typographic quotes and dashes fold to ASCII so "can’t" matches "can't".
	'\u2018': "'", '\u2019': "'", '\u201c': "\"", '\u201d': "\"", '\u2013': "-", '\u2014': "-",
	'\u00a0': " ",
}

type foldRange struct {
	start rune
	folds []string
}

func buildFoldTable() [2]foldRange {
	build := func(start, end rune) foldRange {
		fr := foldRange{start: start, folds: make([]string, end-start)}
		for r := start; r < end; r++ {
			if s, ok := foldSpecial[r]; ok {
				fr.folds[r-start] = s
				continue
			}
			d := norm.NFD.String(string(unicode.ToLower(r)))
			base, _ := utf8.DecodeRuneInString(d)
			if base < utf8.RuneSelf && base != utf8.RuneError {
				fr.folds[r-start] = string(rune(unicode.ToLower(base)))
			}
		}
		return fr
	}
	return [2]foldRange{build(0x80, foldLatinEnd), build(foldExtStart, foldExtEnd)}
}

// asciiFold maps ASCII to lower case, and control characters and space to ' '.
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for c := 0; c < utf8.RuneSelf; c++ {
		switch {
		case c <= ' ' || c == 0x7f:
			t[c] = ' '
		case 'A' <= c && c <= 'Z':
			t[c] = byte(c + 'a' - 'A')
		default:
			t[c] = byte(c)
		}
	}
	return t
}()

// SWAR constants: one in every byte, and the high bit of every byte.
const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// foldWord folds eight ASCII bytes at once (little-endian in w) when that needs no change in
// length: no byte ≥ 0x80, no control character or DEL, and no space that follows a space
// (including the byte before the word, given as prevSpace). Upper-case letters become lower
// case. ok is false when the word needs the byte-by-byte path.
func foldWord(w uint64, prevSpace bool) (uint64, bool) {
	if w&swarHighs != 0 {
		return 0, false
	}
	// Bytes below 0x20 (controls) or equal to 0x7f (DEL).
	if (w-swarOnes*0x20)&^w&swarHighs != 0 || hasByte(w, 0x7f) {
		return 0, false
	}
	spaces := byteMask(w, ' ')
	if spaces&(spaces<<8) != 0 || (prevSpace && spaces&0x80 != 0) {
		return 0, false // a run of spaces collapses: not a length-preserving fold
	}
	// Upper case: 'A' <= b <= 'Z'. With b < 0x80 the sums cannot carry between bytes.
	ge := (w + swarOnes*(0x80-'A')) & swarHighs
	gt := (w + swarOnes*(0x80-'Z'-1)) & swarHighs
	return w | (ge&^gt)>>2, true
}

// byteMask has the high bit set in every byte of w equal to b (w must have no high bits).
func byteMask(w uint64, b byte) uint64 {
	x := w ^ (swarOnes * uint64(b)) // zero where equal; below 0x80 in every byte
	// (x|0x80)-1 keeps the high bit of a byte unless the byte was zero; no byte borrows.
	return ^((x | swarHighs) - swarOnes) & swarHighs
}

func hasByte(w uint64, b byte) bool { return byteMask(w, b) != 0 }

// appendFolded appends the folded form of s to dst: ASCII lower case, Latin letters without
// diacritics, full-width ASCII as ASCII, other scripts lower-cased, control characters and runs
// of white space as one space. Invalid UTF-8 bytes are dropped. Patterns and responses both go
// through it, so they compare byte for byte.
func appendFolded(dst []byte, s string) []byte {
	space := len(dst) == 0 || dst[len(dst)-1] == ' '
	dst = slices.Grow(dst, len(s))
	for i := 0; i < len(s); {
		// ASCII fast path: eight bytes at a time while they are plain (see foldWord), then
		// byte by byte, writing straight into the spare capacity.
		if s[i] < utf8.RuneSelf {
			n := len(dst)
			buf := dst[:cap(dst)]
			for i+8 <= len(s) && n+8 <= len(buf) {
				w, ok := foldWord(binary.LittleEndian.Uint64([]byte(s[i:i+8])), space)
				if !ok {
					break
				}
				binary.LittleEndian.PutUint64(buf[n:], w)
				space = w>>56 == ' '
				i += 8
				n += 8
			}
			for i < len(s) && n < len(buf) {
				c := s[i]
				if c >= utf8.RuneSelf {
					break
				}
				i++
				f := asciiFold[c]
				sp := f == ' '
				buf[n] = f
				if !sp || !space {
					n++
				}
				space = sp
			}
			dst = buf[:n]
			if n == len(buf) && i < len(s) {
				dst = slices.Grow(dst, len(s)-i)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size <= 1 {
			continue
		}
		var folded string
		switch {
		case r < foldLatinEnd:
			folded = foldTable[0].folds[r-0x80]
		case foldExtStart <= r && r < foldExtEnd:
			folded = foldTable[1].folds[r-foldExtStart]
		case fullwidthStart <= r && r <= fullwidthEnd:
			c := byte(r - fullwidthOffset)
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			space = false
			continue
		case r == 0x3000 || unicode.IsSpace(r):
			if !space {
				dst = append(dst, ' ')
				space = true
			}
			continue
		case 0x2018 <= r && r <= 0x201d || r == 0x2013 || r == 0x2014:
			folded = foldSpecial[r]
		}
		if folded != "" {
			if folded == " " {
				if !space {
					dst = append(dst, ' ')
					space = true
				}
				continue
			}
			dst = append(dst, folded...)
			space = false
			continue
		}
		if unicode.IsMark(r) {
			continue // combining accents of decomposed input
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		space = false
	}
	return dst
}

// isWordByte reports whether b is an ASCII letter or digit.
func isWordByte(b byte) bool {
	return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || 'A' <= b && b <= 'Z'
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
