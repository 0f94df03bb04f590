package report_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/report"
)

// chromium finds headless Chromium: $CHROMIUM, or chromium on the PATH. In CI it must be
// there (make test installs it); elsewhere the test skips without it.
func chromium(t *testing.T) string {
	t.Helper()
	if c := os.Getenv("CHROMIUM"); c != "" {
		return c
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("headless Chromium is required in CI (scripts/install-chromium.sh)")
	}
	t.Skip("chromium not installed (scripts/install-chromium.sh); skipping the rendering test")
	return ""
}

// consoleProblem matches what Chromium logs for a console error, an uncaught exception or
// a resource the page failed or tried to load.
var consoleProblem = regexp.MustCompile(`(?i)CONSOLE.*(error|uncaught)|Uncaught |Failed to load resource|net::ERR_`)

// screenshot renders an HTML file in headless Chromium, saves a PNG next to it and returns
// what Chromium logged.
func screenshot(t *testing.T, bin, htmlPath, pngPath string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--hide-scrollbars", "--window-size=1100,4200", "--enable-logging=stderr", "--v=0", "--log-level=0",
		"--user-data-dir="+filepath.Join(t.TempDir(), "profile"),
		"--screenshot="+pngPath, "file://"+htmlPath)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, logs.String())
	}
	return logs.String()
}

// TestHTMLInChromium renders the week's HTML report in headless Chromium, keeps a
// screenshot in the test's artifacts (-artifacts keeps them), and fails on console errors
// and on resources the page tried to load. A page with a console error must be caught, so
// the check itself is tested first.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.ArtifactDir()

	bad := filepath.Join(dir, "console-error.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><title>x</title><script>console.error("broken on purpose")</script><img src="missing.png">`), 0o644); err != nil {
		t.Fatal(err)
	}
	if logs := screenshot(t, bin, bad, filepath.Join(dir, "console-error.png")); !consoleProblem.MatchString(logs) {
		t.Fatalf("a page with a console error and a missing image went unnoticed; Chromium logged:\n%s", logs)
	}

	st, _, _ := weeks(t)
	for _, customer := range []string{"", "brightcart"} {
		r := build(t, st, "2026-W47", customer)
		var b bytes.Buffer
		if err := report.Render(&b, r, "html"); err != nil {
			t.Fatal(err)
		}
		name := "report-w47"
		if customer != "" {
			name += "-" + customer
		}
		htmlPath := filepath.Join(dir, name+".html")
		if err := os.WriteFile(htmlPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		pngPath := filepath.Join(dir, name+".png")
		logs := screenshot(t, bin, htmlPath, pngPath)
		for _, line := range strings.Split(logs, "\n") {
			if consoleProblem.MatchString(line) {
				t.Errorf("%s: %s", name, line)
			}
		}
		png, err := os.ReadFile(pngPath)
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 20_000 {
			t.Errorf("%s: screenshot %d bytes, %v", name, len(png), err)
		}
		t.Logf("screenshot %s", pngPath)
	}
}
