package classify

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusDir is where the shared corpus sits beside a checkout; BOUNCEHOUSE_CORPUS overrides it.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("BOUNCEHOUSE_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "responses.tsv")); err != nil {
		t.Skipf("corpus not found at %s (set BOUNCEHOUSE_CORPUS): %v", dir, err)
	}
	return dir
}

type labelledResponse struct {
	line        int
	text        string
	category    Category
	annotations map[string]string
}

func readResponsesTSV(t testing.TB, path string) []labelledResponse {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	var out []labelledResponse
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if n == 1 {
			continue // header
		}
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 2 {
			t.Fatalf("%s:%d: want at least 2 columns, got %d", path, n, len(cols))
		}
		ann := map[string]string{}
		if len(cols) >= 4 {
			for _, kv := range strings.Split(cols[3], ";") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					ann[k] = v
				}
			}
		}
		out = append(out, labelledResponse{line: n, text: cols[0], category: Category(cols[1]), annotations: ann})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return out
}

// TestCorpusAccuracy classifies every labelled response of the shared corpus, reports the
// accuracy per category and fails below 95% overall.
func TestCorpusAccuracy(t *testing.T) {
	dir := corpusDir(t)
	c := mustDefault(t)
	rows := readResponsesTSV(t, filepath.Join(dir, "responses.tsv"))
	type tally struct{ ok, total int }
	per := map[Category]*tally{}
	ok := 0
	var misses []string
	for _, r := range rows {
		got := c.ClassifyText(r.text)
		tl := per[r.category]
		if tl == nil {
			tl = &tally{}
			per[r.category] = tl
		}
		tl.total++
		if got.Category == r.category {
			tl.ok++
			ok++
			continue
		}
		misses = append(misses, fmt.Sprintf("line %d: want %s, got %s (rule %q): %.140s",
			r.line, r.category, got.Category, got.Rule, r.text))
	}
	cats := make([]string, 0, len(per))
	for cat := range per {
		cats = append(cats, string(cat))
	}
	sort.Strings(cats)
	var report strings.Builder
	for _, cat := range cats {
		tl := per[Category(cat)]
		fmt.Fprintf(&report, "  %-30s %3d/%-3d %5.1f%%\n", cat, tl.ok, tl.total, 100*float64(tl.ok)/float64(tl.total))
	}
	acc := float64(ok) / float64(len(rows))
	t.Logf("corpus accuracy %.1f%% (%d/%d)\n%s", 100*acc, ok, len(rows), report.String())
	for _, m := range misses {
		t.Log("miss " + m)
	}
	if acc < 0.95 {
		t.Errorf("accuracy %.1f%% is below 95%%", 100*acc)
	}
}

// blocklistAgrees compares an annotation value of the corpus, which is sometimes a family
// ("spamhaus", "microsoft") and sometimes a §3.4 value, with what the classifier extracted.
func blocklistAgrees(want string, got []string) bool {
	want = strings.TrimSuffix(want, "_de")
	for _, g := range got {
		if g == want || strings.HasPrefix(g, want+"_") || strings.HasPrefix(want, g) {
			return true
		}
	}
	return false
}

// TestCorpusBlocklists checks blocklist provider extraction against the corpus annotations.
func TestCorpusBlocklists(t *testing.T) {
	dir := corpusDir(t)
	c := mustDefault(t)
	total, ok := 0, 0
	for _, r := range readResponsesTSV(t, filepath.Join(dir, "responses.tsv")) {
		want, has := r.annotations["blocklist"]
		if !has {
			continue
		}
		total++
		got := c.ClassifyText(r.text)
		if blocklistAgrees(want, got.BlocklistProviders) {
			ok++
			continue
		}
		t.Logf("line %d: want blocklist %s, got %v: %.120s", r.line, want, got.BlocklistProviders, r.text)
	}
	t.Logf("blocklist agreement %d/%d", ok, total)
	if total > 0 && float64(ok)/float64(total) < 0.9 {
		t.Errorf("blocklist agreement %d/%d is below 90%%", ok, total)
	}
}

// TestCorpusProviderCodes checks provider code extraction against the corpus annotations.
func TestCorpusProviderCodes(t *testing.T) {
	dir := corpusDir(t)
	c := mustDefault(t)
	total, ok := 0, 0
	for _, r := range readResponsesTSV(t, filepath.Join(dir, "responses.tsv")) {
		want, has := r.annotations["code"]
		if !has {
			continue
		}
		total++
		got := c.ClassifyText(r.text)
		if got.ProviderCode != "" && strings.Contains(strings.ToUpper(got.ProviderCode), strings.ToUpper(want)) {
			ok++
			continue
		}
		t.Logf("line %d: want code %s, got %q: %.120s", r.line, want, got.ProviderCode, r.text)
	}
	t.Logf("provider code agreement %d/%d", ok, total)
	if total > 0 && float64(ok)/float64(total) < 0.9 {
		t.Errorf("provider code agreement %d/%d is below 90%%", ok, total)
	}
}

// TestWrittenResponses runs the project's own labelled set (classify/testdata/
// responses-written.tsv: responses written for this project across providers, wrappers and
// languages, not taken from the shared corpus) and fails below 97% agreement.
func TestWrittenResponses(t *testing.T) {
	c := mustDefault(t)
	f, err := os.Open(filepath.Join("testdata", "responses-written.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	total, ok := 0, 0
	for n := 1; sc.Scan(); n++ {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 2 || cols[0] == "" {
			continue
		}
		total++
		got := c.ClassifyText(cols[0])
		if string(got.Category) == strings.TrimSpace(cols[1]) {
			ok++
			continue
		}
		t.Logf("line %d: want %s, got %s (rule %q): %.120s", n, cols[1], got.Category, got.Rule, cols[0])
	}
	acc := float64(ok) / float64(total)
	t.Logf("written set: %d/%d (%.1f%%)", ok, total, 100*acc)
	if acc < 0.97 {
		t.Errorf("agreement %.1f%% is below 97%%", 100*acc)
	}
}
