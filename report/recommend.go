package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Thresholds of the recommendations.
const (
	hygieneShare   = 0.03 // user_unknown share of a customer's attempts that calls for list cleaning
	hygieneMin     = 10   // and at least this many unknown users
	providerBlock  = 0.05 // block rate at a provider that calls for action
	providerRate   = 0.05 // rate-limited share at a provider
	providerDefer  = 0.15 // deferral rate at a provider worth watching
	providerMin    = 100  // attempts at a provider below which its rates are noise
	deliveryDrop   = 0.02 // fall of the delivery rate (absolute) worth saying
	complaintShare = 0.001
)

var priorityRank = map[string]int{"urgent": 0, "important": 1, "watch": 2}

// recommend derives what to do from the report's figures, most urgent first.
func recommend(r *Report) []Recommendation {
	var out []Recommendation
	add := func(priority, subject, format string, args ...any) {
		out = append(out, Recommendation{Priority: priority, Subject: subject, Text: fmt.Sprintf(format, args...)})
	}
	for _, in := range r.Incidents {
		where := strings.Join(in.Providers, ", ")
		if where == "" {
			where = "receivers of no known provider"
		}
		switch {
		case in.Ongoing && in.DelistURL != "":
			add("urgent", in.IP, "%s (pool %s) is still refused for %s since %s (%d attempts hurt at %s). Find what caused the listing, stop it, then request delisting at %s; move its customers to another IP meanwhile.",
				in.IP, dash(in.Pool), in.List, stamp(in.Start), in.Attempts, where, in.DelistURL)
		case in.Ongoing:
			add("urgent", in.IP, "%s (pool %s) is still refused by %s since %s (%d attempts hurt). Slow down sending from it to that provider and review the complaints and the content it sends.",
				in.IP, dash(in.Pool), in.List, stamp(in.Start), in.Attempts)
		default:
			add("watch", in.IP, "%s was refused for %s from %s to %s (%s, %d attempts hurt at %s). It has recovered; check what was sent from it just before %s so it does not happen again.",
				in.IP, in.List, stamp(in.Start), stamp(in.End), span(in.Duration()), in.Attempts, where, stamp(in.Start))
		}
	}
	for _, m := range r.Misconfigured {
		fix := firstSentence(m.Remediation)
		if m.Ongoing {
			add("urgent", m.Customer, "%s (%s): %d attempts refused for %s (%s of its mail) since %s, still failing. %s",
				m.Customer, m.SenderDomain, m.Failures, m.Issue, pct(m.Share), stamp(m.Since), fix)
		} else {
			add("watch", m.Customer, "%s (%s) had %d attempts refused for %s from %s to %s; it stopped. Confirm the fix with the customer.",
				m.Customer, m.SenderDomain, m.Failures, m.Issue, stamp(m.Since), stamp(m.LastSeen))
		}
	}
	for _, h := range r.Hygiene {
		if h.UserUnknownRate >= hygieneShare && h.UserUnknown >= hygieneMin {
			add("important", h.Customer, "%s sent %s of its attempts (%d) to addresses that do not exist. Suppress them, and check how the list is collected (confirmed opt-in, no purchased or old lists): receivers count unknown users against our IPs.",
				h.Customer, pct(h.UserUnknownRate), h.UserUnknown)
		}
	}
	for _, p := range r.Providers {
		if p.Attempts < providerMin || p.Provider == "other" {
			continue
		}
		switch {
		case p.Block >= providerBlock:
			add("important", p.Provider, "%s blocked %s of %d attempts. See the blocklist incidents above and the provider's postmaster pages.", p.Provider, pct(p.Block), p.Attempts)
		case p.RateLimited >= providerRate:
			add("important", p.Provider, "%s rate-limited %s of %d attempts: lower the connections and messages per connection to it, and spread bulk sends over more time.", p.Provider, pct(p.RateLimited), p.Attempts)
		case p.Deferral >= providerDefer:
			add("watch", p.Provider, "%s deferred %s of %d attempts: deferrals come before blocks; watch its reputation pages.", p.Provider, pct(p.Deferral), p.Attempts)
		}
	}
	cur, prev := r.Summary.Current, r.Summary.Previous
	if prev.Attempts > 0 && cur.Attempts > 0 && prev.DeliveryRate-cur.DeliveryRate >= deliveryDrop {
		add("important", "delivery rate", "The delivery rate fell from %s to %s against the period before; the failures by category show where.", pct(prev.DeliveryRate), pct(cur.DeliveryRate))
	}
	if cur.Complaints > 0 && ratio(cur.Complaints, cur.Delivered) >= complaintShare {
		add("important", "complaints", "%d complaints (%s of deliveries): above 0.1%%, receivers start to filter. Find the customers and campaigns they come from.", cur.Complaints, pct(ratio(cur.Complaints, cur.Delivered)))
	}
	unclassified := 0
	for _, n := range r.NewResponses {
		if n.Category == "unclassified" {
			unclassified++
		}
	}
	if unclassified > 0 {
		add("watch", "classification", "%d new response(s) are unclassified: check them with `bouncehouse explain` and add rules for them.", unclassified)
	}
	if len(out) == 0 {
		add("watch", "all clear", "Nothing needs action: no blocklist incident, no misconfigured customer, and the delivery rate is %s.", pct(cur.DeliveryRate))
	}
	sort.SliceStable(out, func(i, j int) bool { return priorityRank[out[i].Priority] < priorityRank[out[j].Priority] })
	return out
}

func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format("Mon 2 Jan 15:04") }

func pct(f float64) string {
	switch {
	case f == 0:
		return "0%"
	case f < 0.001:
		return "<0.1%"
	case f < 0.1:
		return fmt.Sprintf("%.1f%%", 100*f)
	}
	return fmt.Sprintf("%.0f%%", 100*f)
}

// span writes a duration the way people say it: 45 min, 3 h 20 min, 2 d 4 h.
func span(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d d %d h", int(d.Hours())/24, int(d.Hours())%24)
}
