package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusShare runs corpus files through a fresh Processor each (format detection on) and
// reports the share of failure lines, as judged by isFailure, that became failure events.
// It fails below 90%.
func corpusShare(t *testing.T, isFailure func(line string) bool, names ...string) {
	t.Helper()
	dir := filepath.Join(corpusDir(t), "logs")
	total, parsed := 0, 0
	var missed []string
	for _, name := range names {
		paths, _ := filepath.Glob(filepath.Join(dir, name))
		if len(paths) == 0 {
			t.Errorf("no corpus file matches %s", name)
		}
		for _, path := range paths {
			tl, pl, m := corpusFileShare(t, path, isFailure, "")
			total, parsed, missed = total+tl, parsed+pl, append(missed, m...)
		}
	}
	if total == 0 {
		t.Fatalf("%s: no failure lines", strings.Join(names, ", "))
	}
	share := float64(parsed) / float64(total)
	t.Logf("%s: %d/%d failure lines parsed into failure events (%.0f%%)", strings.Join(names, ", "), parsed, total, 100*share)
	if share < 0.9 {
		t.Errorf("only %.0f%% of failure lines parsed; missed:\n  %s", 100*share, strings.Join(missed, "\n  "))
	} else if len(missed) > 0 {
		t.Logf("missed:\n  %s", strings.Join(missed, "\n  "))
	}
}

// containsAny reports whether s contains one of the markers.
func containsAny(s string, markers ...string) bool {
	for _, m := range markers {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// fuzzFormat feeds line through a fresh Processor for each format, alone and after the
// records of prefix: no panic, every failure event classified, the state bounded.
func fuzzFormat(t *testing.T, line string, prefix []string, formats ...Format) {
	c := classifier(t)
	for _, format := range formats {
		for _, pre := range [][]string{nil, prefix} {
			p := NewProcessor(c, testOptions())
			var evs []Event
			for i, l := range pre {
				evs, _ = p.Line(l, i+1, format, evs)
			}
			evs, _ = p.Line(line, len(pre)+1, format, evs)
			evs, _ = p.Line(line+", "+line, len(pre)+2, format, evs)
			evs = p.Flush(evs)
			for _, ev := range evs {
				if ev.Outcome.IsFailure() && ev.Category == "" {
					t.Fatalf("failure event without category from %q", line)
				}
			}
			if p.State().Len() > len(pre)+4 {
				t.Fatalf("state grew to %d entries", p.State().Len())
			}
		}
	}
}

// testdataLines returns the lines of a test data file.
func testdataLines(t testing.TB, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// findEvent returns the event of rcpt with outcome, failing the test when there is none.
func findEvent(t *testing.T, evs []Event, rcpt string, outcome Outcome) *Event {
	t.Helper()
	for i := range evs {
		if evs[i].Recipient == rcpt && evs[i].Outcome == outcome {
			return &evs[i]
		}
	}
	t.Fatalf("no %s event for %q", outcome, rcpt)
	return nil
}

// countEvents counts the events of rcpt with outcome.
func countEvents(evs []Event, rcpt string, outcome Outcome) int {
	n := 0
	for _, ev := range evs {
		if ev.Recipient == rcpt && ev.Outcome == outcome {
			n++
		}
	}
	return n
}
