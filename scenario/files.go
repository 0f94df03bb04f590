package scenario

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// logFileNames names the log file of each MTA host.
var logFileNames = map[string]string{
	hostOut1: hostOut1 + ".postfix.log",
	hostOut2: hostOut2 + ".postfix.log",
	hostExim: hostExim + ".exim.log",
	hostPMTA: pmtaFileName,
	hostKumo: kumoFileName,
}

// BouncesDir is the directory of WriteFiles that holds the bounce emails.
const BouncesDir = "bounces"

// TruthFile is the file of WriteFiles that holds the ground truth.
const TruthFile = "truth.json"

// WriteFiles writes the scenario into dir, which is created when missing: one log file per
// MTA host in time order (mx-out1.postfix.log, mx-out2.postfix.log, mta2.exim.log,
// pmta1.acct.csv with its header line first, kumo1.kumomta.jsonl), the bounce emails as
// bounces/00001.eml, bounces/00002.eml, … in the order they arrived, and truth.json.
// Existing files of those names are replaced.
func (s *Scenario) WriteFiles(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, BouncesDir), 0o755); err != nil {
		return fmt.Errorf("cannot create scenario directory: %w", err)
	}
	type logFile struct {
		f *os.File
		w *bufio.Writer
	}
	logs := map[string]*logFile{}
	closeAll := func() {
		for _, lf := range logs {
			_ = lf.f.Close()
		}
	}
	defer closeAll()
	n := 0
	for _, r := range s.Records {
		if r.Kind == KindBounceEmail {
			n++
			path := filepath.Join(dir, BouncesDir, fmt.Sprintf("%05d.eml", n))
			if err := os.WriteFile(path, r.Value, 0o644); err != nil {
				return fmt.Errorf("cannot write bounce email: %w", err)
			}
			continue
		}
		lf := logs[r.Key]
		if lf == nil {
			name := logFileNames[r.Key]
			if name == "" {
				name = r.Key + ".log"
			}
			f, err := os.Create(filepath.Join(dir, name))
			if err != nil {
				return fmt.Errorf("cannot create log file: %w", err)
			}
			lf = &logFile{f: f, w: bufio.NewWriterSize(f, 1<<16)}
			logs[r.Key] = lf
		}
		lf.w.Write(r.Value)
		if err := lf.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("cannot write %s: %w", lf.f.Name(), err)
		}
	}
	for _, lf := range logs {
		if err := lf.w.Flush(); err != nil {
			return fmt.Errorf("cannot write %s: %w", lf.f.Name(), err)
		}
		if err := lf.f.Close(); err != nil {
			return fmt.Errorf("cannot write %s: %w", lf.f.Name(), err)
		}
	}
	logs = nil
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.Truth); err != nil {
		return fmt.Errorf("cannot encode the truth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, TruthFile), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("cannot write the truth: %w", err)
	}
	return nil
}
