package ingest

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func corpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("BOUNCEHOUSE_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "logs")); err != nil {
		t.Skipf("corpus not found at %s (set BOUNCEHOUSE_CORPUS): %v", dir, err)
	}
	return dir
}

// failureLine reports whether a corpus line records a failed, deferred, expired or rejected
// recipient, judged by markers of each format (independently of the parsers).
var failureMarkers = map[Format][]string{
	FormatPostfix: {"status=deferred", "status=bounced", "status=expired", "status=undeliverable", ": reject: ", "milter-reject: ", "proxy-reject: "},
	FormatExim:    {" ** ", " == ", " rejected RCPT ", " rejected MAIL ", " rejected after DATA"},
}

func failureLine(f Format, line string) bool {
	if f == FormatExim && strings.Contains(line, "retry time not reached") {
		return false // not an attempt
	}
	for _, m := range failureMarkers[f] {
		if strings.Contains(line, m) {
			return true
		}
	}
	return false
}

// corpusSources lists the corpus files per format that the parsers must handle.
var corpusSources = map[Format][]string{
	FormatPostfix: {"postfix-fail2ban.log", "postfix-grok-messages.log", "postfix-index-postlogsa.log",
		"postfix-kumina-exporter.log", "postfix-pixelpark-iso8601.log", "postfix-sekoia-json-wrapped.log",
		"postfix-timandes.log", "postfix-youyo-iso8601.log", "postfix-youyo.log", "postfix-lightmeter/*.log"},
	FormatExim: {"exim-fail2ban.log", "exim-mainlog-gvengel.log", "exim-mainlog-lbausch.log",
		"exim-rejectlog-gvengel.log", "exim-rejectlog-lbausch.log", "exim-spec-examples.log", "exim-testsuite-sample.log"},
}

// TestCorpusLogs reads every corpus log of the supported formats and reports, per source, the
// share of failure lines that became failure events; it fails below 90% for any source.
func TestCorpusLogs(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "logs")
	formats := make([]string, 0, len(corpusSources))
	for f := range corpusSources {
		formats = append(formats, string(f))
	}
	sort.Strings(formats)
	for _, fs := range formats {
		f := Format(fs)
		for _, pattern := range corpusSources[f] {
			paths, _ := filepath.Glob(filepath.Join(dir, pattern))
			if len(paths) == 0 {
				t.Errorf("%s: no corpus file matches %s", f, pattern)
			}
			total, parsed := 0, 0
			var missed []string
			for _, path := range paths {
				tl, pl, m := corpusFile(t, path)
				total, parsed, missed = total+tl, parsed+pl, append(missed, m...)
			}
			if total == 0 {
				t.Logf("%-32s %s: no failure lines", pattern, f)
				continue
			}
			share := float64(parsed) / float64(total)
			t.Logf("%-32s %s: %d/%d failure lines parsed (%.0f%%)", pattern, f, parsed, total, 100*share)
			if share < 0.9 {
				t.Errorf("%s: only %.0f%% of failure lines parsed; missed:\n  %s", pattern, 100*share, strings.Join(missed, "\n  "))
			}
		}
	}
}

func corpusFile(t *testing.T, path string) (total, parsed int, missed []string) {
	t.Helper()
	f := formatOfPath(path)
	return corpusFileShare(t, path, func(line string) bool { return failureLine(f, line) }, "")
}

// corpusFileShare runs one corpus file through a fresh Processor (format detection on) and
// counts the failure lines, as judged by isFailure, that became failure events. Every
// failure event must be classified, and, when wantMTA is set, come from that format.
func corpusFileShare(t *testing.T, path string, isFailure func(line string) bool, wantMTA string) (total, parsed int, missed []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := NewProcessor(classifier(t), testOptions())
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var evs []Event
	failures := map[int]string{}
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if isFailure(strings.TrimPrefix(line, "\ufeff")) {
			failures[n] = line
		}
		evs, _ = p.Line(line, n, FormatAuto, evs)
	}
	evs = p.Flush(evs)
	got := map[int]bool{}
	for _, ev := range evs {
		if wantMTA != "" && ev.MTA != wantMTA {
			t.Errorf("%s:%d: event of %q, want %q", filepath.Base(path), ev.Line, ev.MTA, wantMTA)
		}
		if ev.Outcome.IsFailure() {
			got[ev.Line] = true
			if ev.Category == "" {
				t.Errorf("%s:%d: failure event without category", filepath.Base(path), ev.Line)
			}
		}
	}
	for n, line := range failures {
		total++
		if got[n] {
			parsed++
		} else {
			missed = append(missed, filepath.Base(path)+":"+itoa(n)+": "+trunc(line, 160))
		}
	}
	sort.Strings(missed)
	return total, parsed, missed
}

func formatOfPath(path string) Format {
	base := filepath.Base(path)
	if strings.HasPrefix(base, "exim") {
		return FormatExim
	}
	return FormatPostfix
}

func itoa(n int) string {
	s := ""
	for n > 0 || s == "" {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
