package classify

import (
	"strings"
	"testing"
)

func mustDefault(t testing.TB) *Classifier {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatalf("compile built-in rules: %v", err)
	}
	return c
}

// TestRuleFiles checks that the built-in rule files compile and cover the taxonomy.
func TestRuleFiles(t *testing.T) {
	c := mustDefault(t)
	for _, cat := range Categories {
		info := c.Category(cat)
		if info == nil {
			t.Errorf("category %s missing from categories.yaml", cat)
			continue
		}
		if len(info.Remediation) < 40 {
			t.Errorf("category %s: remediation text too short to help anyone: %q", cat, info.Remediation)
		}
	}
	covered := map[Category]bool{}
	for _, r := range c.Rules() {
		covered[r.Category] = true
	}
	for _, cat := range Categories {
		if cat != Unclassified && !covered[cat] {
			t.Errorf("no rule classifies into %s", cat)
		}
	}
	t.Logf("%d rules, %d patterns, %d+%d automaton states", c.RuleCount(), len(c.patterns), c.ac.states(), c.acOther.states())
}

// TestRuleExamples runs every example of every rule and checks that it gets the rule's
// category: the examples are the rules' own regression tests, per category and per language.
// An example decided by an earlier rule of the same category is fine (the rule is then a
// safety net for wordings the earlier one misses); a different category is a failure.
func TestRuleExamples(t *testing.T) {
	c := mustDefault(t)
	perLang := map[string]int{}
	shadowed := 0
	for _, r := range c.Rules() {
		if len(r.Examples) == 0 {
			t.Errorf("%s (%s): rule has no examples", r.ID, r.File)
			continue
		}
		perLang[r.Lang] += len(r.Examples)
		for _, ex := range r.Examples {
			got := c.ClassifyText(ex)
			switch {
			case got.Category != r.Category:
				t.Errorf("%s (%s): example %q\n  decided by %q as %s, want %s",
					r.ID, r.File, ex, got.Rule, got.Category, r.Category)
			case got.Rule != r.ID:
				shadowed++
			}
		}
	}
	langs := make([]string, 0, len(perLang))
	for l, n := range perLang {
		langs = append(langs, l+"="+itoa(n))
	}
	t.Logf("examples per language: %s; %d decided by an earlier rule of the same category",
		strings.Join(langs, " "), shadowed)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// TestRuleFileErrors checks that broken rule files are refused with a useful message.
func TestRuleFileErrors(t *testing.T) {
	f := func(yamlText, wantErr string) {
		t.Helper()
		_, err := New(RuleFile{Name: "00-test.yaml", Data: []byte(yamlText)})
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("rules %q: got error %v, want one containing %q", yamlText, err, wantErr)
		}
	}
	f("rules:\n  - {id: x, category: nonsense, match: [abc]}\n", `unknown category "nonsense"`)
	f("rules:\n  - {id: x, category: virus}\n", "needs match or when")
	f("rules:\n  - {id: en.mail_loop, category: virus, match: [abc]}\n", "used twice")
	f("rules:\n  - {id: x, category: virus, match: ['a\\q']}\n", `unknown escape`)
	f("rules:\n  - {id: x, category: virus, match: ['\\d']}\n", "literal part")
	f("rules:\n  - {id: x, category: virus, match: [abc], when: {status: [9.9.9]}}\n", "class must be")
	f("rules:\n  - {id: x, category: virus, match: [abc], bogus: 1}\n", "field bogus not found")
	f("rules:\n  - {id: x, category: virus, match: [abc], blocklist: [nolist]}\n", `unknown blocklist "nolist"`)
}

// TestExtraRulesComeFirst checks that a user's rule file overrides the built-in rules.
func TestExtraRulesComeFirst(t *testing.T) {
	c, err := New(RuleFile{Name: "site.yaml", Data: []byte(
		"rules:\n  - id: site.relay\n    category: policy_rejected\n    match: [relay access denied]\n    examples: [x]\n")})
	if err != nil {
		t.Fatal(err)
	}
	got := c.ClassifyText("554 5.7.1 <a@example.com>: Relay access denied")
	if got.Rule != "site.relay" || got.Category != PolicyRejected {
		t.Fatalf("got %s, want site.relay/policy_rejected", got)
	}
}
