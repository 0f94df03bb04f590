package alert

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func testReport() Report {
	return Report{Source: "bouncehouse", At: time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC), Rules: 6, Evaluated: 3, Firing: []Instance{
		{Rule: "bh-customer-auth", Severity: "warning", Summary: "brightcart: 0.4 of its mail fails authentication", Value: 0.4, Threshold: 0.02, Firing: true},
		{Rule: "bh-ip-listed", Severity: "critical", Summary: "198.51.100.10 (shared-bulk) is listed on spamhaus_zen", Value: 40, Threshold: 2, Firing: true,
			Labels: map[string]string{"sending_ip": "198.51.100.10"}},
	}}
}

func TestPayloads(t *testing.T) {
	r := testReport()
	b, err := r.Payload(FormatSlack)
	if err != nil {
		t.Fatal(err)
	}
	var slack map[string]string
	if err := json.Unmarshal(b, &slack); err != nil || len(slack) != 1 {
		t.Fatalf("slack payload %s: %v", b, err)
	}
	text := slack["text"]
	if !strings.Contains(text, "2 alert(s) firing") || strings.Index(text, "bh-ip-listed") > strings.Index(text, "bh-customer-auth") {
		t.Errorf("slack text (critical first): %s", text)
	}
	b, err = r.Payload(FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Firing) != 2 || back.Firing[1].Labels["sending_ip"] != "198.51.100.10" {
		t.Errorf("json payload %s: %v", b, err)
	}
	if _, err := r.Payload("xml"); err == nil {
		t.Error("unknown format accepted")
	}
	if got := (Report{At: r.At, Rules: 6}).Text(); !strings.HasPrefix(got, "nothing fires") {
		t.Errorf("quiet text %q", got)
	}
	for u, want := range map[string]string{"https://hooks.slack.com/services/T/B/X": FormatSlack, "https://chat.example/hooks/abc": FormatSlack,
		"https://ops.example/alert": FormatJSON, "://bad": FormatJSON} {
		if got := FormatFor(u); got != want {
			t.Errorf("FormatFor(%s) = %s, want %s", u, got, want)
		}
	}
}

func TestPosterRetries(t *testing.T) {
	var calls atomic.Int32
	statuses := []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		w.WriteHeader(statuses[min(int(n)-1, len(statuses)-1)])
	}))
	defer srv.Close()
	p := Poster{Backoff: time.Millisecond}
	if err := p.Post(context.Background(), srv.URL+"/secret-token", []byte(`{}`)); err != nil || calls.Load() != 3 {
		t.Errorf("after 503, 429: %v, %d calls", err, calls.Load())
	}

	calls.Store(0)
	statuses = []int{http.StatusBadRequest}
	err := p.Post(context.Background(), srv.URL+"/secret-token", []byte(`{}`))
	if err == nil || calls.Load() != 1 || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("400: %v after %d calls (no retry, no URL in the error)", err, calls.Load())
	}

	calls.Store(0)
	statuses = []int{http.StatusBadGateway}
	p.Attempts = 3
	if err := p.Post(context.Background(), srv.URL, []byte(`{}`)); err == nil || calls.Load() != 3 || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("502 forever: %v after %d calls", err, calls.Load())
	}

	srv.Close()
	err = Poster{Attempts: 2, Backoff: time.Millisecond}.Post(context.Background(), srv.URL+"/secret-token", []byte(`{}`))
	if err == nil || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("server gone: %v", err)
	}
}
