package classify

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzClassify feeds arbitrary text, codes and hosts to the classifier. It must never panic,
// must always return a known category and class, and must stay fast on any input.
func FuzzClassify(f *testing.F) {
	for _, s := range benchResponses() {
		f.Add(s, 0, "", "")
	}
	f.Add("550-5.7.1 550-5.7.1 550 5.7.1", 550, "5.7.1", "mx.example.com")
	f.Add("host [said: 550", 0, "9.9.9", ".")
	f.Add("Remote Server returned '", 0, "", "")
	f.Add("SMTP error from remote mail server after RCPT TO:<", 0, "", "")
	f.Add("\xff\xfe\x00 550 5.1.1 \xe2\x80", 0, "", "")
	f.Add("(#5.1.1)", 0, "", "")
	f.Add("Vidarebefordran nekades", 550, "5.7.1", "")
	f.Add(strings.Repeat("ib", 1000), 0, "", "")
	c, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string, code int, enhanced, host string) {
		start := time.Now()
		r := c.Classify(Input{Text: text, Code: code, Enhanced: enhanced, RemoteHost: host})
		if c.Category(r.Category) == nil {
			t.Fatalf("unknown category %q for %q", r.Category, text)
		}
		if !validClass(r.BounceClass) || !validParty(r.ActionParty) {
			t.Fatalf("bad class %q or party %q for %q", r.BounceClass, r.ActionParty, text)
		}
		if !strings.Contains(text, r.Response) {
			t.Fatalf("response %q is not part of the input %q", r.Response, text)
		}
		if d := time.Since(start); d > 250*time.Millisecond && len(text) < 1<<20 {
			t.Fatalf("classification took %v for %d bytes", d, len(text))
		}
	})
}

// FuzzFold checks that folding is total and idempotent, so patterns and texts fold alike.
func FuzzFold(f *testing.F) {
	for _, s := range []string{"Boîte PLEINE", "Überschritten ß", "Пользователь НЕ найден", "ｆｕｌｌ", "Chuyển tiếp bị từ chối", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := appendFolded(nil, s)
		if !utf8.Valid(once) {
			t.Fatalf("folded %q is not valid UTF-8: %q", s, once)
		}
		if ref := foldReference(s); string(once) != ref {
			t.Fatalf("fold %q = %q, reference %q", s, once, ref)
		}
		twice := appendFolded(nil, string(once))
		if string(once) != string(twice) {
			t.Fatalf("folding is not idempotent: %q → %q → %q", s, once, twice)
		}
	})
}

// FuzzPattern compiles arbitrary patterns: an error is fine, a panic is not, and a pattern
// that compiles must match its own literal text.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{`\bib\d\d\d\b`, `as(\d+)`, `[tss0\d]`, `relay access denied`, `\d+\d`, `\`, `\b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := parsePattern(src)
		if err != nil {
			return
		}
		if strings.ContainsAny(src, `\`) {
			return
		}
		text := appendFolded(nil, "x "+src+" x") // a leading space in a pattern means "after a space"
		found := false
		for end := 0; end <= len(text); end++ {
			if end >= len(p.anchor) && string(text[end-len(p.anchor):end]) == p.anchor {
				if _, _, ok := p.verify(text, end); ok {
					found = true
					break
				}
			}
		}
		if !found {
			t.Fatalf("pattern %q does not match its own text %q", src, text)
		}
	})
}

// TestHugeAndInvalidInput checks bounded time and no panic on 1 MB lines and invalid UTF-8.
func TestHugeAndInvalidInput(t *testing.T) {
	c := mustDefault(t)
	inputs := []string{
		strings.Repeat("550 5.7.1 spam ", 1<<16),
		strings.Repeat("\xff", 1<<20),
		strings.Repeat("host x[", 1<<17),
		strings.Repeat("(in reply to ", 1<<16) + ")",
		strings.Repeat("é", 1<<19),
		"550 " + strings.Repeat("Remote Server returned '", 1<<15),
	}
	for _, in := range inputs {
		start := time.Now()
		r := c.ClassifyText(in)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%d-byte input took %v", len(in), d)
		}
		if r.Category == "" {
			t.Errorf("%d-byte input: empty category", len(in))
		}
	}
}

// foldReference is appendFolded fed one rune at a time, so that its word-at-a-time fast path
// never runs; invalid bytes are dropped as appendFolded drops them.
func foldReference(s string) string {
	var out []byte
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || size > 1 {
			out = appendFolded(out, s[i:i+size])
		}
		i += size
	}
	return string(out)
}

func TestFoldWord(t *testing.T) {
	cases := []string{"abcdefgh", "ABCDEFGH", "Hello Wo", "a  bcdef", " abcdefg", "abc\tdefg", "ab\x7fcdefg", "[@`{AZaz", "0123 567"}
	for _, in := range cases {
		got := string(appendFolded(nil, in))
		if ref := foldReference(in); got != ref {
			t.Errorf("fold %q = %q, want %q", in, got, ref)
		}
	}
	if got := string(appendFolded([]byte("x "), " abcdefgh")); got != "x abcdefgh" {
		t.Errorf("a space after a space must collapse across calls: %q", got)
	}
}
