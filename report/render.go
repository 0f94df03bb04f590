package report

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
)

// Formats the report renders to.
var Formats = []string{"html", "md", "json", "csv"}

// Render writes the report in a format: html (one self-contained page), md, json or csv.
func Render(w io.Writer, r *Report, format string) error {
	switch format {
	case "html":
		return renderHTML(w, r)
	case "md":
		return renderMarkdown(w, r)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "csv":
		return renderCSV(w, r)
	}
	return fmt.Errorf("report format %q: want html, md, json or csv", format)
}

// Title names the report: its period and, if any, its customer.
func (r *Report) Title() string {
	who := "all customers"
	if r.Customer != "" {
		who = r.Customer
	}
	return fmt.Sprintf("Deliverability report %s, %s", r.Period(), who)
}

// Period writes the period as people read it: an ISO week when it is one.
func (r *Report) Period() string {
	y, w := r.From.ISOWeek()
	if r.From.Weekday() == time.Monday && r.From.Equal(r.From.Truncate(24*time.Hour)) && r.To.Sub(r.From) == 7*24*time.Hour {
		return fmt.Sprintf("%d-W%02d (%s to %s)", y, w, r.From.Format("2 Jan"), r.To.AddDate(0, 0, -1).Format("2 Jan 2006"))
	}
	return fmt.Sprintf("%s to %s", r.From.Format("2006-01-02 15:04"), r.To.Format("2006-01-02 15:04 UTC"))
}

// change writes the change from prev to cur: +12%, -3%, new, or = .
func change(cur, prev int64) string {
	switch {
	case prev == 0 && cur == 0:
		return "="
	case prev == 0:
		return "new"
	}
	d := float64(cur-prev) / float64(prev)
	if d > -0.005 && d < 0.005 {
		return "="
	}
	return fmt.Sprintf("%+.0f%%", 100*d)
}

// points writes the change of a rate in percentage points.
func points(cur, prev float64) string {
	d := 100 * (cur - prev)
	if d > -0.05 && d < 0.05 {
		return "="
	}
	return fmt.Sprintf("%+.1f pt", d)
}

//go:embed report.html.tmpl
var htmlTemplate string

var funcs = template.FuncMap{
	"pct":    pct,
	"stamp":  stamp,
	"span":   span,
	"change": change,
	"points": points,
	"int":    func(n int64) string { return thousands(n) },
	"join":   strings.Join,
	"dash":   dash,
	"lower":  strings.ToLower,
	"short": func(s string, n int) string {
		if len([]rune(s)) <= n {
			return s
		}
		return string([]rune(s)[:n-1]) + "…"
	},
	"dailyChart":   dailyChart,
	"partiesChart": partiesChart,
}

var page = template.Must(template.New("report").Funcs(funcs).Parse(htmlTemplate))

func renderHTML(w io.Writer, r *Report) error {
	var b bytes.Buffer
	if err := page.Execute(&b, r); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// mdCell escapes a table cell of Markdown.
func mdCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", "\\|")
}

func renderMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	row := func(cells ...string) {
		for i := range cells {
			cells[i] = mdCell(cells[i])
		}
		p("| %s |\n", strings.Join(cells, " | "))
	}
	head := func(cells ...string) {
		row(cells...)
		p("|%s\n", strings.Repeat("---|", len(cells)))
	}
	cur, prev := r.Summary.Current, r.Summary.Previous
	p("# %s\n\n", r.Title())
	p("Generated %s. Week-over-week changes compare with %s to %s.\n\n", r.GeneratedAt.Format("2006-01-02 15:04 UTC"),
		r.PrevFrom.Format("2006-01-02"), r.From.Format("2006-01-02"))
	p("## What to do\n\n")
	for _, rec := range r.Recommendations {
		p("- **%s** (%s): %s\n", rec.Subject, rec.Priority, rec.Text)
	}
	p("\n## Summary\n\n")
	head("", "this period", "before", "change")
	row("attempts", thousands(cur.Attempts), thousands(prev.Attempts), change(cur.Attempts, prev.Attempts))
	row("delivered", thousands(cur.Delivered), thousands(prev.Delivered), change(cur.Delivered, prev.Delivered))
	row("deferred", thousands(cur.Deferred), thousands(prev.Deferred), change(cur.Deferred, prev.Deferred))
	row("bounced", thousands(cur.Bounced+cur.Expired), thousands(prev.Bounced+prev.Expired), change(cur.Bounced+cur.Expired, prev.Bounced+prev.Expired))
	row("delivery rate", pct(cur.DeliveryRate), pct(prev.DeliveryRate), points(cur.DeliveryRate, prev.DeliveryRate))
	row("bounce rate", pct(cur.BounceRate), pct(prev.BounceRate), points(cur.BounceRate, prev.BounceRate))
	p("\n## Receiving providers\n\n")
	head("provider", "attempts", "accepted", "deferred", "blocked", "rate-limited")
	for _, x := range r.Providers {
		row(x.Provider, thousands(x.Attempts), pct(x.Acceptance), pct(x.Deferral), pct(x.Block), pct(x.RateLimited))
	}
	p("\n## Failures by who must act\n\n")
	head("who acts", "failures", "before", "change")
	for _, x := range r.ActionParties {
		row(x.ActionParty, thousands(x.Failures), thousands(x.Previous), change(x.Failures, x.Previous))
	}
	p("\n## Failures by category\n\n")
	head("category", "group", "who acts", "failures", "before", "change")
	for _, x := range r.Categories {
		row(x.Category, x.Group, x.ActionParty, thousands(x.Failures), thousands(x.Previous), change(x.Failures, x.Previous))
	}
	p("\n## Blocklist incidents\n\n")
	if len(r.Incidents) == 0 {
		p("None.\n")
	} else {
		head("IP", "pool", "list / provider", "start", "end", "duration", "attempts hurt", "delisting")
		for _, x := range r.Incidents {
			end := stamp(x.End)
			if x.Ongoing {
				end = "ongoing"
			}
			row(x.IP, dash(x.Pool), x.List, stamp(x.Start), end, span(x.Duration()), thousands(x.Attempts), dash(x.DelistURL))
		}
	}
	p("\n## Misconfigured customers\n\n")
	if len(r.Misconfigured) == 0 {
		p("None.\n")
	}
	for _, m := range r.Misconfigured {
		state := "fixed, last seen " + stamp(m.LastSeen)
		if m.Ongoing {
			state = "still failing"
		}
		p("### %s (%s): %s\n\n%d failures (%s of its mail) since %s, %s. Example: `%s`\n\n**Fix:** %s\n\n",
			m.Customer, m.SenderDomain, m.Issue, m.Failures, pct(m.Share), stamp(m.Since), state,
			strings.ReplaceAll(mdCell(m.Example), "`", "'"), strings.Join(strings.Fields(m.Remediation), " "))
	}
	p("\n## New responses\n\n")
	if len(r.NewResponses) == 0 {
		p("None.\n")
	} else {
		head("count", "category", "providers", "first seen", "example")
		for _, x := range r.NewResponses {
			row(thousands(x.Count), x.Category, strings.Join(x.Providers, ", "), stamp(x.FirstSeen), x.Example)
		}
	}
	p("\n## List hygiene\n\n")
	head("customer", "attempts", "unknown users", "share", "disabled mailboxes", "unknown domains")
	for _, h := range r.Hygiene {
		row(h.Customer, thousands(h.Attempts), thousands(h.UserUnknown), pct(h.UserUnknownRate), thousands(h.MailboxDisabled), thousands(h.DomainNotFound))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// renderCSV writes the report as one long table: section, key, field, value. Every figure
// of the report is a row, so a spreadsheet or a script can pick what it needs.
func renderCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	put := func(section, key, field string, value any) {
		var v string
		switch x := value.(type) {
		case float64:
			v = strconv.FormatFloat(x, 'f', 6, 64)
		case time.Time:
			v = x.UTC().Format(time.RFC3339)
		default:
			v = fmt.Sprint(x)
		}
		_ = cw.Write([]string{section, key, field, v})
	}
	_ = cw.Write([]string{"section", "key", "field", "value"})
	put("report", "period", "from", r.From)
	put("report", "period", "to", r.To)
	put("report", "period", "customer", r.Customer)
	for _, t := range []struct {
		key string
		v   Totals
	}{{"current", r.Summary.Current}, {"previous", r.Summary.Previous}} {
		put("summary", t.key, "attempts", t.v.Attempts)
		put("summary", t.key, "delivered", t.v.Delivered)
		put("summary", t.key, "deferred", t.v.Deferred)
		put("summary", t.key, "bounced", t.v.Bounced)
		put("summary", t.key, "expired", t.v.Expired)
		put("summary", t.key, "complaints", t.v.Complaints)
		put("summary", t.key, "delivery_rate", t.v.DeliveryRate)
		put("summary", t.key, "bounce_rate", t.v.BounceRate)
		put("summary", t.key, "deferral_rate", t.v.DeferralRate)
	}
	for _, x := range r.Providers {
		put("provider", x.Provider, "attempts", x.Attempts)
		put("provider", x.Provider, "acceptance_rate", x.Acceptance)
		put("provider", x.Provider, "deferral_rate", x.Deferral)
		put("provider", x.Provider, "block_rate", x.Block)
		put("provider", x.Provider, "rate_limited_rate", x.RateLimited)
	}
	for _, x := range r.Categories {
		put("category", x.Category, "failures", x.Failures)
		put("category", x.Category, "previous", x.Previous)
		put("category", x.Category, "action_party", x.ActionParty)
	}
	for _, x := range r.ActionParties {
		put("action_party", x.ActionParty, "failures", x.Failures)
		put("action_party", x.ActionParty, "previous", x.Previous)
	}
	for _, x := range r.Incidents {
		key := x.IP + " " + x.List
		put("incident", key, "pool", x.Pool)
		put("incident", key, "start", x.Start)
		put("incident", key, "end", x.End)
		put("incident", key, "ongoing", x.Ongoing)
		put("incident", key, "attempts_hurt", x.Attempts)
		put("incident", key, "delist_url", x.DelistURL)
	}
	for _, x := range r.Misconfigured {
		key := x.Customer + " " + x.Issue
		put("misconfigured", key, "sender_domain", x.SenderDomain)
		put("misconfigured", key, "failures", x.Failures)
		put("misconfigured", key, "failure_share", x.Share)
		put("misconfigured", key, "since", x.Since)
		put("misconfigured", key, "ongoing", x.Ongoing)
		put("misconfigured", key, "remediation", x.Remediation)
	}
	for i, x := range r.NewResponses {
		key := strconv.Itoa(i + 1)
		put("new_response", key, "count", x.Count)
		put("new_response", key, "category", x.Category)
		put("new_response", key, "example", x.Example)
	}
	for _, h := range r.Hygiene {
		put("hygiene", h.Customer, "attempts", h.Attempts)
		put("hygiene", h.Customer, "user_unknown", h.UserUnknown)
		put("hygiene", h.Customer, "user_unknown_share", h.UserUnknownRate)
	}
	for i, x := range r.Recommendations {
		put("recommendation", strconv.Itoa(i+1), x.Priority, x.Text)
	}
	cw.Flush()
	return cw.Error()
}
