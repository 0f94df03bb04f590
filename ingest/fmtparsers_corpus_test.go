package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fmtCorpusSource is one corpus file of the CSV and JSON formats (PowerMTA, KumoMTA,
// Exchange, ESP events) with the markers of its failure records, judged independently of
// the parsers.
type fmtCorpusSource struct {
	file     string
	format   Format
	markers  []string // a line holding one of these records a failure
	excludes []string // unless it holds one of these
}

var fmtCorpusSources = []fmtCorpusSource{
	{file: "powermta-acct.log", format: FormatPowerMTA, markers: []string{"b,", "t,", "tq,", "rb,"}},
	{file: "kumomta-jsonl.log", format: FormatKumoMTA,
		markers: []string{`"Bounce"`, `"TransientFailure"`, `"Expiration"`, `"AdminBounce"`, `"OOB"`, `"Rejection"`}},
	{file: "exchange-msgtrk.log", format: FormatExchange, markers: []string{",FAIL,", ",DEFER,"}},
	{file: "esp-aws-ses-bounce.log", format: FormatSES, markers: []string{`"Bounce"`}},
	{file: "esp-sendgrid.log", format: FormatSendGrid,
		markers: []string{`"bounce"`, `"blocked"`, `"deferred"`, `"dropped"`}},
	{file: "esp-mailgun.log", format: FormatMailgun, markers: []string{`"failed"`, `"bounced"`, `"dropped"`}},
	{file: "esp-sparkpost.log", format: FormatSparkPost,
		markers:  []string{`"bounce"`, `"delay"`, `"out_of_band"`, `"policy_rejection"`, `"generation_failure"`},
		excludes: []string{`"bounce_class": "60"`}}, // auto-reply
	{file: "esp-postmark.log", format: FormatPostmark, markers: []string{`"HardBounce"`, `"SoftBounce"`, `"Transient"`}},
}

func (s fmtCorpusSource) failure(line string) bool {
	for _, x := range s.excludes {
		if strings.Contains(line, x) {
			return false
		}
	}
	for _, m := range s.markers {
		if s.format == FormatPowerMTA && strings.HasPrefix(line, m) || s.format != FormatPowerMTA && strings.Contains(line, m) {
			return true
		}
	}
	return false
}

// TestPowerMTAKumoExchangeESPCorpus reads the corpus logs of the CSV and JSON formats with
// format detection and reports, per file, the share of failure records that became
// classified failure events of the right format; it fails below 90%.
func TestPowerMTAKumoExchangeESPCorpus(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "logs")
	for _, src := range fmtCorpusSources {
		t.Run(src.file, func(t *testing.T) {
			path := filepath.Join(dir, src.file)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("corpus file: %v", err)
			}
			total, parsed, missed := corpusFileShare(t, path, src.failure, string(src.format))
			if total == 0 {
				t.Logf("%-24s no failure records", src.file)
				return
			}
			share := float64(parsed) / float64(total)
			t.Logf("%-24s %s: %d/%d failure records parsed (%.0f%%)", src.file, src.format, parsed, total, 100*share)
			if share < 0.9 {
				t.Errorf("%s: only %.0f%% of failure records parsed; missed:\n  %s", src.file, 100*share,
					strings.Join(missed, "\n  "))
			}
		})
	}
}
