package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncehouse/bouncehouse/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// runCLI runs the command tree in-process and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCommand()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.Execute()
	code := exitOK
	if err != nil {
		errOut.WriteString(err.Error())
		code = exitError
		var ue usageError
		var ce codeError
		switch {
		case errors.As(err, &ce):
			code = ce.code
		case asUsage(err, &ue):
			code = exitUsage
		}
	}
	return out.String(), errOut.String(), code
}

func asUsage(err error, ue *usageError) bool {
	if e, ok := err.(usageError); ok {
		*ue = e
		return true
	}
	return isCobraUsageError(err)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./cmd/bouncehouse -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestExplainGolden pins the human-readable explanation of the most quoted responses.
func TestExplainGolden(t *testing.T) {
	cases := map[string]string{
		"explain-relay.golden":     "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
		"explain-blocklist.golden": "5.7.1 Service unavailable; Client host [198.51.100.9] blocked using Blocklist 1",
		"explain-exrecip.golden":   "#550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found ##",
		"explain-yahoo.golden":     "host mta6.am0.yahoodns.net[67.195.204.72] said: 421 4.7.0 [TSS04] Messages from 198.51.100.2 temporarily deferred due to unexpected volume or user complaints (in reply to MAIL FROM command)",
		"explain-swedish.golden":   "550 5.7.1 Vidarebefordran nekades",
	}
	for name, text := range cases {
		out, errOut, code := runCLI(t, "", "explain", text)
		if code != exitOK {
			t.Fatalf("explain %q: exit %d: %s", text, code, errOut)
		}
		golden(t, name, out)
	}
}

// TestExplainStdinAndJSON checks "-" and --json.
func TestExplainStdinAndJSON(t *testing.T) {
	out, _, code := runCLI(t, "550 5.7.1 Relay access denied\n", "explain", "--json", "-")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got["category"] != "relay_denied" || got["remediation"] == "" || got["rule"] != "en.relay_denied" {
		t.Errorf("unexpected explanation: %v", got)
	}
}

// TestClassifyJSONLines checks one JSON object per non-empty line, in order, with line numbers.
func TestClassifyJSONLines(t *testing.T) {
	in := "550 5.1.1 User unknown\n\n421 4.7.0 [TSS04] Messages from 198.51.100.2 temporarily deferred\r\n550 5.7.1 Relay access denied"
	out, errOut, code := runCLI(t, in, "classify", "--input", "response")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []struct {
		line     float64
		category string
	}{{1, "user_unknown"}, {3, "reputation_block"}, {4, "relay_denied"}}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, l := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		if obj["line"] != want[i].line || obj["category"] != want[i].category {
			t.Errorf("object %d: line=%v category=%v, want %v %v", i, obj["line"], obj["category"], want[i].line, want[i].category)
		}
		for _, k := range []string{"bounce_class", "action_party", "provider", "provider_code", "blocklist_providers", "listed_ip", "throttle_scope", "rule"} {
			if _, ok := obj[k]; !ok {
				t.Errorf("object %d lacks %s", i, k)
			}
		}
	}
}

// TestClassifyExamplesGolden pins the text output over the shipped example file.
func TestClassifyExamplesGolden(t *testing.T) {
	out, errOut, code := runCLI(t, "", "classify", "--input", "response", "--format", "text", filepath.Join("..", "..", "examples", "responses.txt"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "classify-examples.golden", strings.ReplaceAll(out, filepath.Join("..", "..", "examples")+string(filepath.Separator), ""))
}

// TestExitCodes checks the codes scripts rely on.
func TestExitCodes(t *testing.T) {
	if _, _, code := runCLI(t, "", "explain"); code != exitUsage {
		t.Errorf("explain without text: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := runCLI(t, "", "classify", "--format", "xml"); code != exitUsage {
		t.Errorf("bad --format: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := runCLI(t, "", "nosuchcommand"); code != exitUsage {
		t.Errorf("unknown command: exit %d, want %d", code, exitUsage)
	}
	out, _, code := runCLI(t, "", "classify", "--input", "response", "no-such-file.txt", filepath.Join("..", "..", "examples", "responses.txt"))
	if code != exitError {
		t.Errorf("missing file: exit %d, want %d", code, exitError)
	}
	if strings.Count(out, "\n") < 10 {
		t.Errorf("a missing file must not stop the other inputs; got:\n%s", out)
	}
}

// TestRulesFlag checks that --rules layers a site rule file over the built-in rules.
func TestRulesFlag(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "site.yaml")
	rules := "rules:\n  - id: site.opaque\n    category: reputation_block\n    match: [zz-our-partner-throttle]\n    examples: [\"451 zz-our-partner-throttle\"]\n"
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "", "--rules", path, "explain", "451 ZZ-our-partner-throttle hit")
	if code != exitOK || !strings.Contains(out, "site.opaque") {
		t.Errorf("exit %d, output:\n%s%s", code, out, errOut)
	}
	if err := os.WriteFile(path, []byte("rules: [{id: x, category: bogus, match: [a]}]"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCLI(t, "", "--rules", path, "explain", "x"); code != exitError || !strings.Contains(errOut, "bogus") {
		t.Errorf("bad rule file: exit %d, stderr %q", code, errOut)
	}
}

// TestClassifyEmails reads a .eml file (events at line 0), an mbox (events at the line of each
// message's "From " separator, non-bounces counted on stderr) and an email on standard input.
func TestClassifyEmails(t *testing.T) {
	dsnDir := filepath.Join("..", "..", "ingest", "testdata", "dsn")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dsnDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	type ev struct {
		File      string `json:"file"`
		Line      int    `json:"line"`
		Outcome   string `json:"outcome"`
		Recipient string `json:"recipient"`
		Category  string `json:"category"`
	}
	decode := func(out string) []ev {
		var evs []ev
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l == "" {
				continue
			}
			var e ev
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("output line %q: %v", l, err)
			}
			evs = append(evs, e)
		}
		return evs
	}

	eml := filepath.Join(dsnDir, "exim.eml")
	out, errOut, code := runCLI(t, "", "classify", eml)
	got := decode(out)
	if code != exitOK || len(got) != 2 {
		t.Fatalf("classify exim.eml: code %d, %d events, stderr %s", code, len(got), errOut)
	}
	for _, e := range got {
		if e.File != eml || e.Line != 0 || e.Outcome != "bounced" {
			t.Errorf("event %+v: want file %s, line 0, outcome bounced", e, eml)
		}
	}
	if got[0].Recipient != "hanna.berg@mail.example.se" || got[0].Category != "mailbox_full" ||
		got[1].Recipient != "nobody@gmail.example" || got[1].Category != "user_unknown" {
		t.Errorf("events = %+v", got)
	}

	// An mbox: a bounce, a message that is no bounce, an auto-reply.
	qmail, ar := read("qmail.eml"), read("autoreply.eml")
	mbox := "From MAILER-DAEMON Mon Nov 16 10:00:00 2026\n" + qmail + "\n" +
		"From someone@example.org Mon Nov 16 10:00:01 2026\nFrom: someone@example.org\nSubject: lunch?\n\nAre you free?\n\n" +
		"From someone@example.org Mon Nov 16 10:00:02 2026\n" + ar
	nonBounce := 1 + strings.Count(qmail, "\n") + 2 // separator, qmail's lines, blank line
	path := filepath.Join(t.TempDir(), "bounces")
	if err := os.WriteFile(path, []byte(mbox), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "", "classify", "--all", path)
	got = decode(out)
	if code != exitOK || len(got) < 2 {
		t.Fatalf("classify mbox: code %d, events %+v, stderr %s", code, got, errOut)
	}
	if got[0].Line != 1 || got[0].Outcome != "bounced" {
		t.Errorf("first mbox event %+v: want line 1, bounced", got[0])
	}
	last := got[len(got)-1]
	if want := nonBounce + 6; last.Line != want || last.Outcome != "auto_reply" {
		t.Errorf("last mbox event %+v: want line %d, auto_reply", last, want)
	}
	if !strings.Contains(errOut, "not a bounce") || !strings.Contains(errOut, path+":"+fmt.Sprint(nonBounce)) {
		t.Errorf("stderr does not report the non-bounce message at its line:\n%s", errOut)
	}
	// Without --all the auto-reply is not a failure.
	out, _, _ = runCLI(t, "", "classify", path)
	for _, e := range decode(out) {
		if e.Outcome == "auto_reply" {
			t.Errorf("auto-reply written without --all: %+v", e)
		}
	}

	// An email on standard input is recognised by its header.
	out, errOut, code = runCLI(t, read("exim.eml"), "classify", "-")
	if got := decode(out); code != exitOK || len(got) != 2 || got[0].Line != 0 {
		t.Errorf("classify - (email): code %d, events %+v, stderr %s", code, got, errOut)
	}
	// Log lines on standard input are still log lines.
	logLine := "Nov 16 10:00:00 mx1 postfix/smtp[4242]: 4BqX2F1z9Kz9t: to=<a@example.net>, relay=mx.example.net[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.9] said: 550 5.1.1 <a@example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command))\n"
	out, errOut, _ = runCLI(t, logLine, "classify", "-")
	if got := decode(out); len(got) != 1 || got[0].Line != 1 || got[0].Category != "user_unknown" {
		t.Errorf("classify - (log line): events %+v, stderr %s", got, errOut)
	}
}

// TestSniffKind tells emails and mboxes from log files.
func TestSniffKind(t *testing.T) {
	cases := []struct{ name, head, want string }{
		{"a.eml", "anything", inputEmail},
		{"bounces.mbox", "", inputMbox},
		{"", "From MAILER-DAEMON Mon Nov 16 10:00:00 2026\nReturn-Path: <>\n", inputMbox},
		{"", "Return-Path: <>\nReceived: from x\n", inputEmail},
		{"", "\r\nDelivered-To: a@example.org\n", inputEmail},
		{"", "Nov 16 10:00:00 mx1 postfix/smtp[1]: 4BqX: to=<a@b.c>\n", ""},
		{"", "<22>Nov 16 10:00:00 mx1 postfix/smtp[1]: x\n", ""},
		{"", "2026-11-16 10:00:00 1tQy2K-000Abc-3F ** a@b.c: Unrouteable address\n", ""},
		{"", "#Software: Microsoft Exchange Server\n", ""},
		{"", "type,timeLogged,orig,rcpt\n", ""},
		{"", `{"type":"Bounce"}` + "\n", ""},
		{"", "2026-11-16T10:00:00+00:00 mx1 postfix/smtp[1]: x\n", ""},
	}
	for _, c := range cases {
		if got := sniffKind(c.name, []byte(c.head)); got != c.want {
			t.Errorf("sniffKind(%q, %q) = %q, want %q", c.name, c.head, got, c.want)
		}
	}
}

// TestMigrateAndQuery runs migrate twice and query in every output format on the embedded
// engine.
func TestMigrateAndQuery(t *testing.T) {
	storagetest.RequireEngine(t)
	dir := filepath.Join(t.TempDir(), "data")
	out, errOut, code := runCLI(t, "", "migrate", "--data", dir)
	if code != exitOK || !strings.Contains(out, "applied 0001_events, 0002_rollups, 0003_reference, 0004_views") {
		t.Fatalf("migrate: code %d\n%s%s", code, out, errOut)
	}
	out, _, code = runCLI(t, "", "migrate", "--data", dir)
	if code != exitOK || !strings.Contains(out, "up to date (4 migrations)") {
		t.Errorf("second migrate: code %d\n%s", code, out)
	}
	q := "SELECT name, customer_issue FROM bouncehouse.categories WHERE customer_issue = {issue:String}"
	out, _, code = runCLI(t, "", "query", "--data", dir, "--param", "issue=spf", q)
	if code != exitOK || !strings.Contains(out, "spf_fail") || !strings.Contains(out, "(1 rows)") {
		t.Errorf("query table: code %d\n%s", code, out)
	}
	out, _, _ = runCLI(t, "", "query", "--data", dir, "--format", "csv", "--param", "issue=relay", q)
	if out != "name,customer_issue\nrelay_denied,relay\n" {
		t.Errorf("query csv: %q", out)
	}
	out, _, _ = runCLI(t, "", "query", "--data", dir, "--format", "json", "SELECT 1 AS n, ['a'] AS l, toDateTime('2026-11-16 10:00:00', 'UTC') AS t")
	if out != `{"l":["a"],"n":1,"t":"2026-11-16T10:00:00Z"}`+"\n" {
		t.Errorf("query json: %q", out)
	}
	if _, errOut, code := runCLI(t, "", "query", "--data", dir, "SELEC 1"); code != exitError || !strings.Contains(errOut, "SYNTAX_ERROR") {
		t.Errorf("bad SQL: code %d, %s", code, errOut)
	}
	if _, _, code := runCLI(t, "", "query", "--data", dir, "--format", "xml", "SELECT 1"); code != exitUsage {
		t.Errorf("bad format: code %d", code)
	}
	out, _, code = runCLI(t, "", "migrate", "--cluster", "mail", "--print")
	if code != exitOK || !strings.Contains(out, "ReplicatedMergeTree") || !strings.Contains(out, "ENGINE = Distributed(`mail`") {
		t.Errorf("migrate --cluster --print: code %d", code)
	}
}

// TestGrafana writes the provisioning with the defaults, which must be what the repository
// holds under dashboards/provisioning, and refuses unknown alert parameters.
func TestGrafana(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runCLI(t, "", "grafana", "--out", dir)
	if code != exitOK {
		t.Fatalf("code %d: %s", code, errOut)
	}
	if n := strings.Count(out, "\n"); n != 11 {
		t.Errorf("%d files written:\n%s", n, out)
	}
	for _, name := range []string{"dashboards/bouncehouse/bouncehouse-noc.json", "alerting/bouncehouse-rules.yaml", "datasources/bouncehouse.yaml"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", "..", "dashboards", "provisioning", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from dashboards/provisioning/%s", name, name)
		}
	}
	_, _, code = runCLI(t, "", "grafana", "--out", dir, "--set", "bh-customer-auth.threshold=0.25")
	rules, _ := os.ReadFile(filepath.Join(dir, "alerting", "bouncehouse-rules.yaml"))
	if code != exitOK || !bytes.Contains(rules, []byte("More than 0.25 of this customer's attempts")) {
		t.Errorf("--set: code %d", code)
	}
	for _, args := range [][]string{{"grafana"}, {"grafana", "--out", dir, "--set", "bh-nosuch.threshold=1"}, {"grafana", "--out", dir, "--set", "oops"}} {
		if _, _, code := runCLI(t, "", args...); code != exitUsage {
			t.Errorf("%v: code %d, want %d", args, code, exitUsage)
		}
	}
}
