package ingest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func readLines(b *testing.B, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// BenchmarkLines measures framing, detection, parsing, correlation, classification and
// enrichment of Postfix and Exim lines, KumoMTA JSON records and PowerMTA CSV lines on one
// core (target: 300,000 lines/s).
// go test ./ingest -run '^$' -bench Lines -benchmem -count 10 | tee new.txt; benchstat old.txt new.txt
func BenchmarkLines(b *testing.B) {
	for _, name := range []string{"postfix.log", "exim.log", "kumomta.jsonl", "powermta.csv"} {
		lines := readLines(b, filepath.Join("testdata", name))
		b.Run(name, func(b *testing.B) {
			p := NewProcessor(classifier(b), testOptions())
			evs := make([]Event, 0, 16)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				evs, _ = p.Line(lines[i%len(lines)], i+1, FormatAuto, evs[:0])
			}
		})
	}
}

// BenchmarkStateMemory opens one million Postfix queue entries (sender, Message-ID, one
// deferred recipient) and reports the heap they take (target: under 300 MB).
func BenchmarkStateMemory(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		st := NewState(StateOptions{})
		st.advance(time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC))
		for i := 0; i < 1_000_000; i++ {
			k := queueKey{Host: "mx-out1", Instance: "postfix", QID: fmt.Sprintf("%010X", i)}
			e := st.get(k, true)
			e.Sender, e.HasSender = fmt.Sprintf("news-%d@customer%d.example", i%1000, i%5000), true
			e.MessageID = fmt.Sprintf("%d.%d@customer.example", i, i*7)
			e.Sender = st.intern(e.Sender)
			e.Deferred = []deferredRcpt{{Recipient: fmt.Sprintf("user%d@example.net", i), RemoteHost: st.intern("mx.example.net"), Enhanced: st.intern("4.7.0")}}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MB/1M-entries")
		runtime.KeepAlive(st)
	}
}
