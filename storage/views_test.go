package storage

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/ingest"
)

func insertAll(t *testing.T, s *Store, rs []Row) {
	t.Helper()
	for i := range rs {
		rs[i].Offset = int64(i)
	}
	if err := s.InsertEvents(context.Background(), rs, BatchToken("events", rs)); err != nil {
		t.Fatal(err)
	}
}

// TestBlockedIPs seeds three IPs: one listed on Spamhaus and refused at two providers right
// now, one that was blocked two hours ago and has delivered since (recovered), one clean.
func TestBlockedIPs(t *testing.T) {
	s := openTestStore(t, nil)
	now := time.Now().UTC()
	listed := ev{ip: "203.0.113.10", pool: "bulk", customer: "acme", domain: "acme.example", outcome: ingest.Bounced,
		category: "ip_blocklisted", lists: []string{"spamhaus_zen"},
		response: "554 5.7.1 Service unavailable; Client host [203.0.113.10] blocked using zen.spamhaus.org"}
	var evs []ev
	// 203.0.113.10: blocked for the last 40 minutes at gmx and yahoo, still delivering to gmail.
	for _, p := range []string{"gmx", "yahoo"} {
		e := listed
		e.provider, e.at = p, 2*time.Minute
		evs = append(evs, repeat(30, e)...)
		e.at = 40 * time.Minute
		evs = append(evs, repeat(10, e)...)
	}
	evs = append(evs, repeat(40, ev{at: time.Minute, ip: "203.0.113.10", pool: "bulk", provider: "gmail", customer: "globex",
		domain: "globex.example", outcome: ingest.Delivered})...)
	// 203.0.113.11: blocked 2-3 hours ago, delivering now.
	old := listed
	old.ip, old.provider, old.at, old.customer = "203.0.113.11", "yahoo", 3*time.Hour, "initech"
	evs = append(evs, repeat(20, old)...)
	evs = append(evs, repeat(20, ev{at: 10 * time.Minute, ip: "203.0.113.11", provider: "yahoo", customer: "initech",
		domain: "initech.example", outcome: ingest.Delivered})...)
	// 203.0.113.12: clean.
	evs = append(evs, repeat(50, ev{at: 5 * time.Minute, ip: "203.0.113.12", provider: "gmail", customer: "acme",
		domain: "acme.example", outcome: ingest.Delivered})...)
	insertAll(t, s, rows(now, 0, evs...))

	res, err := s.Query(context.Background(), "SELECT * FROM "+s.q("blocked_ips_now"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Maps()
	if len(got) != 1 {
		t.Fatalf("blocked_ips_now: %d rows, want only 203.0.113.10: %v", len(got), got)
	}
	b := got[0]
	if b["sending_ip"] != "203.0.113.10" || b["pool"] != "bulk" {
		t.Errorf("ip/pool: %v", b)
	}
	if fmt.Sprint(b["providers"]) != "[gmx yahoo]" || fmt.Sprint(b["blocklists"]) != "[spamhaus_zen]" {
		t.Errorf("providers %v, lists %v", b["providers"], b["blocklists"])
	}
	if urls := fmt.Sprint(b["delist_urls"]); !strings.Contains(urls, "spamhaus") {
		t.Errorf("delisting pages: %v", urls)
	}
	if asInt(b["blocked_attempts"]) != 80 || asInt(b["attempts"]) != 120 {
		t.Errorf("blocked %v of %v attempts, want 80 of 120", b["blocked_attempts"], b["attempts"])
	}
	if share := b["blocked_share"].(float64); share < 0.66 || share > 0.67 {
		t.Errorf("blocked share %v", share)
	}
	since := b["since"].(time.Time)
	if d := now.Sub(since); d < 40*time.Minute || d > 46*time.Minute {
		t.Errorf("since %v (%v ago), want the 5-minute bucket of 40 minutes ago", since, d)
	}
	if !strings.Contains(asString(b["example_response"]), "zen.spamhaus.org") || fmt.Sprint(b["affected_customers"]) != "[acme]" {
		t.Errorf("example %v, customers %v", b["example_response"], b["affected_customers"])
	}

	// As of three hours ago, the second IP was the blocked one.
	res, err = s.Query(context.Background(), "SELECT sending_ip FROM "+s.q("blocked_ips")+
		"(t_end = {at:DateTime64(3, 'UTC')}, window_min = 60)", Params{"at": now.Add(-2*time.Hour - 50*time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0][0] != "203.0.113.11" {
		t.Errorf("blocked three hours ago: %v, want 203.0.113.11", res.Rows)
	}
}

// TestMisconfiguredCustomers seeds a customer with a broken SPF record now, one that fixed
// its SPF two hours ago, one refused for relaying, and one with only recipient failures.
func TestMisconfiguredCustomers(t *testing.T) {
	s := openTestStore(t, nil)
	now := time.Now().UTC()
	spf := ev{provider: "gmail", ip: "203.0.113.20", outcome: ingest.Bounced, category: "spf_fail",
		response: "550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM."}
	var evs []ev
	broken := spf
	broken.customer, broken.domain, broken.at = "acme", "acme.example", 3*time.Minute
	evs = append(evs, repeat(30, broken)...)
	evs = append(evs, repeat(70, ev{at: 2 * time.Minute, provider: "yahoo", customer: "acme", domain: "acme.example", outcome: ingest.Delivered})...)
	fixed := spf
	fixed.customer, fixed.domain, fixed.at = "globex", "globex.example", 3*time.Hour
	evs = append(evs, repeat(30, fixed)...)
	evs = append(evs, repeat(30, ev{at: 20 * time.Minute, provider: "gmail", customer: "globex", domain: "globex.example", outcome: ingest.Delivered})...)
	evs = append(evs, repeat(10, ev{at: time.Minute, provider: "microsoft", customer: "initech", domain: "initech.example",
		outcome: ingest.Bounced, category: "relay_denied", response: "550 5.7.64 TenantAttribution; Relay Access Denied"})...)
	evs = append(evs, repeat(10, ev{at: time.Minute, provider: "gmail", customer: "hooli", domain: "hooli.example",
		outcome: ingest.Bounced, category: "user_unknown"})...)
	insertAll(t, s, rows(now, 0, evs...))

	res, err := s.Query(context.Background(), "SELECT * FROM "+s.q("misconfigured_customers_now")+" ORDER BY customer", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Maps()
	if len(got) != 2 {
		t.Fatalf("misconfigured_customers_now: %d rows, want acme (spf) and initech (relay): %v", len(got), got)
	}
	a, i := got[0], got[1]
	if a["customer"] != "acme" || a["sender_domain"] != "acme.example" || a["issue"] != "spf" || asInt(a["failures"]) != 30 || asInt(a["attempts"]) != 100 {
		t.Errorf("acme: %v", a)
	}
	if !strings.Contains(asString(a["remediation"]), "SPF") || !strings.Contains(asString(a["example_response"]), "5.7.26") {
		t.Errorf("acme remediation/example: %v", a)
	}
	// Customers are resolved to the hour: since is the hour of the first failure of the run.
	if since, want := a["since"].(time.Time), now.Add(-3*time.Minute-29*time.Second).Truncate(time.Hour); !since.Equal(want) {
		t.Errorf("acme since %v, want %v", since, want)
	}
	if i["customer"] != "initech" || i["issue"] != "relay" {
		t.Errorf("initech: %v", i)
	}
	// Three hours ago globex was the broken one.
	res, err = s.Query(context.Background(), "SELECT customer, issue FROM "+s.q("misconfigured_customers")+
		"(t_end = {at:DateTime64(3, 'UTC')}, window_min = 60)", Params{"at": now.Add(-2*time.Hour - 50*time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Rows) != "[[globex spf]]" {
		t.Errorf("misconfigured three hours ago: %v", res.Rows)
	}
}
