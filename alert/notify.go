package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Payload formats of a webhook.
const (
	FormatSlack = "slack" // {"text": …}: Slack, Mattermost, Rocket.Chat, Teams workflows
	FormatJSON  = "json"  // the evaluation as a JSON object, for other tools
)

// Report is what one evaluation found, as the generic JSON payload carries it.
type Report struct {
	Source    string     `json:"source"`
	At        time.Time  `json:"evaluated_at"`
	Firing    []Instance `json:"firing"`
	Evaluated int        `json:"instances_evaluated"`
	Rules     int        `json:"rules_evaluated"`
}

// Text is the report as lines for people: one line per firing instance, most severe first.
func (r Report) Text() string {
	if len(r.Firing) == 0 {
		return fmt.Sprintf("nothing fires (%d rules, %d instances evaluated at %s)\n", r.Rules, r.Evaluated, r.At.UTC().Format(time.RFC3339))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d alert(s) firing at %s\n", len(r.Firing), r.At.UTC().Format(time.RFC3339))
	for _, i := range sorted(r.Firing) {
		fmt.Fprintf(&b, "%-8s %-22s %s (value %s > %s)\n", strings.ToUpper(i.Severity), i.Rule, i.Summary,
			strconv.FormatFloat(i.Value, 'g', 4, 64), strconv.FormatFloat(i.Threshold, 'g', 4, 64))
	}
	return b.String()
}

func sorted(insts []Instance) []Instance {
	out := append([]Instance(nil), insts...)
	rank := map[string]int{"critical": 0, "warning": 1}
	sort.SliceStable(out, func(a, b int) bool {
		ra, ok := rank[out[a].Severity]
		if !ok {
			ra = 2
		}
		rb, ok := rank[out[b].Severity]
		if !ok {
			rb = 2
		}
		if ra != rb {
			return ra < rb
		}
		return out[a].Key() < out[b].Key()
	})
	return out
}

// Payload builds the webhook body in a format.
func (r Report) Payload(format string) ([]byte, error) {
	switch format {
	case FormatJSON:
		return json.Marshal(r)
	case FormatSlack:
		var b strings.Builder
		fmt.Fprintf(&b, ":rotating_light: *bouncehouse: %d alert(s) firing* at %s\n", len(r.Firing), r.At.UTC().Format("2006-01-02 15:04 UTC"))
		for _, i := range sorted(r.Firing) {
			fmt.Fprintf(&b, "• *%s* `%s` %s\n", strings.ToUpper(i.Severity), i.Rule, i.Summary)
		}
		return json.Marshal(map[string]string{"text": strings.TrimSpace(b.String())})
	}
	return nil, fmt.Errorf("webhook format %q: want %s or %s", format, FormatSlack, FormatJSON)
}

// FormatFor picks the payload format for a webhook URL: Slack's for Slack-compatible hooks
// (hooks.slack.com, a /hooks/ or /slack path), generic JSON otherwise.
func FormatFor(u string) string {
	p, err := url.Parse(u)
	if err == nil && (strings.HasSuffix(p.Host, "slack.com") || strings.Contains(p.Path, "/hooks/") || strings.HasSuffix(p.Path, "/slack")) {
		return FormatSlack
	}
	return FormatJSON
}

// Poster posts payloads to webhooks, retrying failures.
type Poster struct {
	Client *http.Client
	// Attempts is how many times a post is tried (default 4); Backoff the first wait
	// between attempts, doubled each time (default 1s).
	Attempts int
	Backoff  time.Duration
}

// Post sends the payload as JSON. A 5xx or 429 answer or a network error is retried; a
// 4xx answer is not (the payload or the URL is wrong). The URL is kept out of errors, as
// webhook URLs carry their secret.
func (p Poster) Post(ctx context.Context, webhook string, payload []byte) error {
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	attempts := max(p.Attempts, 1)
	if p.Attempts == 0 {
		attempts = 4
	}
	wait := p.Backoff
	if wait == 0 {
		wait = time.Second
	}
	host := "webhook"
	if u, err := url.Parse(webhook); err == nil && u.Host != "" {
		host = u.Host
	}
	var last error
	for n := 1; n <= attempts; n++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("webhook %s: %w", host, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "bouncehouse-alerts")
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return nil
			}
			last = fmt.Errorf("webhook %s answered %s: %s", host, resp.Status, strings.TrimSpace(string(body)))
			if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
				return last
			}
		} else {
			last = fmt.Errorf("webhook %s: %w", host, unwrapURLError(err))
		}
		if n < attempts {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
	}
	return fmt.Errorf("%w (after %d attempts)", last, attempts)
}

// unwrapURLError drops the URL that net/http puts in its errors.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
