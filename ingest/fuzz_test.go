package ingest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func addSeedFile(f *testing.F, path string) {
	fh, err := os.Open(path)
	if err != nil {
		return
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f.Add(sc.Text())
	}
}

// FuzzFrame: framing is total and never panics; it keeps the message inside the line.
func FuzzFrame(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "postfix.log"))
	addSeedFile(f, filepath.Join("testdata", "exim.log"))
	for _, s := range []string{"<22>1 2014-06-18T09:56:21Z h a - - [x y=\"]\"] m", "<34>Nov 16 14:55:56 h P: m", "{\"message\":1}", "{", "x : Dec 14 05:28:39 x s[1]: m", "2020-06-19 04:54:02 +0200 [1] 1jmFYj-00039V-QX <= a"} {
		f.Add(s)
	}
	opts := &FrameOptions{Now: func() time.Time { return time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC) }}
	f.Fuzz(func(t *testing.T, line string) {
		rec, err := Frame(line, opts)
		if err == nil && !rec.JSON && !strings.HasPrefix(line, "{") && rec.Message != "" && !strings.Contains(line, rec.Message) {
			t.Fatalf("message %q is not part of line %q", rec.Message, line)
		}
	})
}

// FuzzProcessor feeds arbitrary lines, alone and after a realistic prefix, through every
// parser: no panic, every failure event classified, memory bounded.
func FuzzProcessor(f *testing.F) {
	addSeedFile(f, filepath.Join("testdata", "postfix.log"))
	addSeedFile(f, filepath.Join("testdata", "exim.log"))
	f.Add("Nov  3 09:15:02 h postfix/smtp[1]: ABCDE12345: to=<a@b>, status=")
	f.Add("Nov  3 09:15:02 h postfix/qmgr[1]: ABCDE12345: from=<a@b>, status=expired, returned to sender")
	f.Add("1jmFYj-00039V-QX ** a@b: ")
	f.Add("H=x rejected ")
	c := classifier(f)
	f.Fuzz(func(t *testing.T, line string) {
		for _, format := range []Format{FormatAuto, FormatPostfix, FormatExim} {
			p := NewProcessor(c, testOptions())
			var evs []Event
			evs, _ = p.Line(line, 1, format, evs)
			evs, _ = p.Line(line+" "+line, 2, format, evs)
			evs = p.Flush(evs)
			for _, ev := range evs {
				if ev.Outcome.IsFailure() && ev.Category == "" {
					t.Fatalf("failure event without category from %q", line)
				}
			}
			if p.State().Len() > 4 {
				t.Fatalf("state grew to %d entries from two lines", p.State().Len())
			}
		}
	})
}
