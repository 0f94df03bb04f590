package report

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bouncehouse/bouncehouse/dashboards"
	"github.com/bouncehouse/bouncehouse/storage"
)

// builder runs the report's queries. Every value goes in as a bound parameter; the only
// text put into SQL is the database name, checked to be an identifier.
type builder struct {
	q      Querier
	db     string
	r      *Report
	params storage.Params
}

// Placeholders of the bound parameters, and the filter every events query shares.
const (
	pFrom     = "{from:DateTime64(3, 'UTC')}"
	pTo       = "{to:DateTime64(3, 'UTC')}"
	pPrevFrom = "{prev_from:DateTime64(3, 'UTC')}"
	ours      = "direction = 'outbound' AND NOT notification AND ({customer:String} = '' OR customer = {customer:String})"
	current   = "event_time >= " + pFrom + " AND event_time < " + pTo
	// failure is an attempt that did not get through (deferrals included).
	failure = "outcome IN ('deferred', 'bounced', 'expired')"
)

func (b *builder) query(ctx context.Context, sql string) ([]map[string]any, error) {
	res, err := b.q.Query(ctx, strings.ReplaceAll(sql, "{db}", b.db), b.params)
	if err != nil {
		return nil, err
	}
	return res.Maps(), nil
}

func (b *builder) summary(ctx context.Context) error {
	rows, err := b.query(ctx, `
SELECT if(event_time >= `+pFrom+`, 'current', 'previous') AS period,
       countIf(outcome IN ('delivered', 'deferred', 'bounced', 'expired')) AS attempts,
       countIf(outcome = 'delivered') AS delivered,
       countIf(outcome = 'deferred') AS deferred,
       countIf(outcome = 'bounced') AS bounced,
       countIf(outcome = 'expired') AS expired,
       countIf(outcome = 'complaint') AS complaints,
       max(event_time) AS last
FROM {db}.delivery_events
WHERE event_time >= `+pPrevFrom+` AND event_time < `+pTo+` AND `+ours+`
GROUP BY period`)
	if err != nil {
		return err
	}
	for _, row := range rows {
		t := Totals{Attempts: num(row["attempts"]), Delivered: num(row["delivered"]), Deferred: num(row["deferred"]),
			Bounced: num(row["bounced"]), Expired: num(row["expired"]), Complaints: num(row["complaints"])}
		final := t.Delivered + t.Bounced + t.Expired
		t.DeliveryRate = ratio(t.Delivered, final)
		t.BounceRate = ratio(t.Bounced+t.Expired, final)
		t.DeferralRate = ratio(t.Deferred, t.Attempts)
		if row["period"] == "current" {
			b.r.Summary.Current = t
			b.r.DataEnd, _ = row["last"].(time.Time)
		} else {
			b.r.Summary.Previous = t
		}
	}
	if b.r.DataEnd.IsZero() {
		b.r.DataEnd = b.r.To
	}
	return nil
}

func (b *builder) daily(ctx context.Context) error {
	rows, err := b.query(ctx, `
SELECT toString(toDate(event_time)) AS day,
       countIf(outcome = 'delivered') AS delivered,
       countIf(outcome = 'deferred') AS deferred,
       countIf(outcome IN ('bounced', 'expired')) AS failed
FROM {db}.delivery_events
WHERE `+current+` AND `+ours+`
GROUP BY day`)
	if err != nil {
		return err
	}
	byDay := map[string]Day{}
	for _, row := range rows {
		d := str(row["day"])
		byDay[d] = Day{Date: d, Delivered: num(row["delivered"]), Deferred: num(row["deferred"]), Failed: num(row["failed"])}
	}
	for d := b.r.From; d.Before(b.r.To); d = d.AddDate(0, 0, 1) {
		key := d.Format("2006-01-02")
		day := byDay[key]
		day.Date = key
		b.r.Daily = append(b.r.Daily, day)
	}
	return nil
}

func (b *builder) providers(ctx context.Context) error {
	rows, err := b.query(ctx, `
SELECT if(provider = '', 'other', provider) AS receiver,
       countIf(outcome IN ('delivered', 'deferred', 'bounced', 'expired')) AS attempts,
       countIf(outcome = 'delivered') / greatest(attempts, 1) AS acceptance,
       countIf(outcome = 'deferred') / greatest(attempts, 1) AS deferral,
       countIf(`+failure+` AND category IN (`+dashboards.QuoteList(dashboards.BlockCategories)+`)) / greatest(attempts, 1) AS block,
       countIf(`+failure+` AND category IN (`+dashboards.QuoteList(dashboards.RateLimitCategories)+`)) / greatest(attempts, 1) AS rate_limited
FROM {db}.delivery_events
WHERE `+current+` AND `+ours+`
GROUP BY receiver
HAVING attempts > 0
ORDER BY attempts DESC
LIMIT 20`)
	if err != nil {
		return err
	}
	for _, row := range rows {
		b.r.Providers = append(b.r.Providers, ProviderRates{Provider: str(row["receiver"]), Attempts: num(row["attempts"]),
			Acceptance: flt(row["acceptance"]), Deferral: flt(row["deferral"]), Block: flt(row["block"]), RateLimited: flt(row["rate_limited"])})
	}
	return nil
}

func (b *builder) categories(ctx context.Context) error {
	rows, err := b.query(ctx, `
SELECT e.category AS category, c.category_group AS grp, if(c.action_party = '', e.party, c.action_party) AS party,
       e.cur AS cur, e.prev AS prev
FROM
(
    SELECT category, any(action_party) AS party,
           countIf(event_time >= `+pFrom+`) AS cur, countIf(event_time < `+pFrom+`) AS prev
    FROM {db}.delivery_events
    WHERE event_time >= `+pPrevFrom+` AND event_time < `+pTo+` AND `+ours+` AND `+failure+` AND category != ''
    GROUP BY category
) AS e
LEFT JOIN (SELECT name, category_group, action_party FROM {db}.categories FINAL) AS c ON c.name = e.category
ORDER BY cur DESC, category`)
	if err != nil {
		return err
	}
	parties := map[string]*PartyCount{}
	for _, row := range rows {
		c := CategoryCount{Category: str(row["category"]), Group: str(row["grp"]), ActionParty: str(row["party"]),
			Failures: num(row["cur"]), Previous: num(row["prev"])}
		if c.ActionParty == "" {
			c.ActionParty = "unknown"
		}
		b.r.Categories = append(b.r.Categories, c)
		p := parties[c.ActionParty]
		if p == nil {
			p = &PartyCount{ActionParty: c.ActionParty}
			parties[c.ActionParty] = p
		}
		p.Failures += c.Failures
		p.Previous += c.Previous
	}
	for _, p := range parties {
		b.r.ActionParties = append(b.r.ActionParties, *p)
	}
	sort.Slice(b.r.ActionParties, func(i, j int) bool {
		a, c := b.r.ActionParties[i], b.r.ActionParties[j]
		return a.Failures > c.Failures || a.Failures == c.Failures && a.ActionParty < c.ActionParty
	})
	return nil
}

// incidentGap is the pause in refusals that ends an incident.
const incidentGap = time.Hour

func (b *builder) incidents(ctx context.Context) error {
	rows, err := b.query(ctx, `
SELECT sending_ip, anyIf(pool, pool != '') AS ip_pool, list, toStartOfFiveMinutes(event_time) AS bucket,
       count() AS n, min(event_time) AS first, max(event_time) AS last,
       groupUniqArrayIf(provider, provider != '') AS receivers
FROM {db}.delivery_events
ARRAY JOIN if(empty(blocklist_providers),
              [concat(if(provider = '', 'other', provider), ' reputation', if(provider_code != '', concat(' (', provider_code, ')'), ''))],
              CAST(blocklist_providers, 'Array(String)')) AS list
WHERE `+current+` AND `+ours+` AND `+failure+` AND sending_ip != ''
  AND category IN (`+dashboards.QuoteList(dashboards.BlockCategories)+`)
GROUP BY sending_ip, list, bucket
ORDER BY sending_ip, list, bucket`)
	if err != nil {
		return err
	}
	urls, err := b.query(ctx, `SELECT id, delist_url FROM {db}.blocklists FINAL`)
	if err != nil {
		return err
	}
	delist := map[string]string{}
	for _, u := range urls {
		delist[str(u["id"])] = str(u["delist_url"])
	}
	var cur *Incident
	providers := map[string]bool{}
	flush := func() {
		if cur == nil {
			return
		}
		for p := range providers {
			cur.Providers = append(cur.Providers, p)
		}
		slices.Sort(cur.Providers)
		b.r.Incidents = append(b.r.Incidents, *cur)
		cur, providers = nil, map[string]bool{}
	}
	for _, row := range rows {
		ip, list := str(row["sending_ip"]), str(row["list"])
		first, _ := row["first"].(time.Time)
		last, _ := row["last"].(time.Time)
		if cur == nil || cur.IP != ip || cur.List != list || first.Sub(cur.End) > incidentGap {
			flush()
			cur = &Incident{IP: ip, Pool: str(row["ip_pool"]), List: list, Start: first, DelistURL: delist[list]}
		}
		cur.End = last
		cur.Attempts += num(row["n"])
		if cur.Pool == "" {
			cur.Pool = str(row["ip_pool"])
		}
		for _, p := range strs(row["receivers"]) {
			providers[p] = true
		}
	}
	flush()
	for i := range b.r.Incidents {
		in := &b.r.Incidents[i]
		accepted, err := b.acceptedAfter(ctx, "sending_ip = {who:String}", in.IP, "category IN ("+dashboards.QuoteList(dashboards.BlockCategories)+
			") AND sending_ip = {who:String} AND (has(blocklist_providers, {what:String}) OR empty(blocklist_providers))", in.List, in.End)
		if err != nil {
			return err
		}
		in.Ongoing = b.ongoing(in.End, accepted)
	}
	sort.SliceStable(b.r.Incidents, func(i, j int) bool {
		a, c := b.r.Incidents[i], b.r.Incidents[j]
		if a.Ongoing != c.Ongoing {
			return a.Ongoing
		}
		return a.Attempts > c.Attempts
	})
	return nil
}

func (b *builder) misconfigured(ctx context.Context) error {
	minutes := int64(b.r.To.Sub(b.r.From) / time.Minute)
	b.params["window_min"] = minutes
	rows, err := b.query(ctx, `
SELECT customer, sender_domain, issue, category, failures, failure_share, since, last_seen, example_response, remediation
FROM {db}.misconfigured_customers(t_end = `+pTo+`, window_min = {window_min:UInt32})
WHERE {customer:String} = '' OR customer = {customer:String}
ORDER BY failures DESC, customer`)
	if err != nil {
		return err
	}
	for _, row := range rows {
		m := Misconfig{Customer: str(row["customer"]), SenderDomain: str(row["sender_domain"]), Issue: str(row["issue"]),
			Category: str(row["category"]), Failures: num(row["failures"]), Share: flt(row["failure_share"]),
			Example: str(row["example_response"]), Remediation: str(row["remediation"])}
		m.Since, _ = row["since"].(time.Time)
		m.LastSeen, _ = row["last_seen"].(time.Time)
		if m.Since.Before(b.r.From) {
			m.Since = b.r.From // the run started before the period; the report speaks of its own
		}
		accepted, err := b.acceptedAfter(ctx, "customer = {who:String}", m.Customer,
			"customer = {who:String} AND category = {what:String}", m.Category, m.LastSeen)
		if err != nil {
			return err
		}
		m.Ongoing = b.ongoing(m.LastSeen, accepted)
		b.r.Misconfigured = append(b.r.Misconfigured, m)
	}
	return nil
}

// acceptedAfter counts the deliveries of who (an IP or a customer, as the filter names it)
// after a time, to the recipient domains that had refused it for what (a list or a
// category) in the period: the receivers that refused it take its mail again.
func (b *builder) acceptedAfter(ctx context.Context, whoFilter, who, refusedFilter, what string, after time.Time) (int64, error) {
	b.params["who"], b.params["what"], b.params["after"] = who, what, after
	rows, err := b.query(ctx, `
SELECT count() AS n
FROM {db}.delivery_events
WHERE event_time > {after:DateTime64(3, 'UTC')} AND event_time < `+pTo+` AND `+ours+` AND outcome = 'delivered' AND `+whoFilter+`
  AND recipient_domain IN
  (
      SELECT DISTINCT recipient_domain FROM {db}.delivery_events
      WHERE `+current+` AND `+ours+` AND `+failure+` AND `+refusedFilter+`
  )`)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	return num(rows[0]["n"]), nil
}

// ongoing decides whether a problem last seen at last is still on: not if the receivers
// that refused took mail again afterwards; otherwise if it was seen within an hour of the
// data's end.
func (b *builder) ongoing(last time.Time, acceptedAfter int64) bool {
	return acceptedAfter == 0 && !last.Before(b.r.DataEnd.Add(-incidentGap))
}

func (b *builder) newResponses(ctx context.Context) error {
	shape := dashboards.ResponseShape("response")
	rows, err := b.query(ctx, `
SELECT `+shape+` AS shape, any(response) AS example, topKWeighted(1)(category, 1)[1] AS category, count() AS n,
       min(event_time) AS first_seen, groupUniqArrayIf(5)(provider, provider != '') AS receivers
FROM {db}.delivery_events
WHERE `+current+` AND `+ours+` AND `+failure+` AND response != ''
GROUP BY shape
HAVING shape NOT IN
(
    SELECT DISTINCT `+shape+`
    FROM {db}.delivery_events
    WHERE event_time >= `+pPrevFrom+` AND event_time < `+pFrom+` AND direction = 'outbound' AND `+failure+`
)
ORDER BY n DESC, shape
LIMIT 10`)
	if err != nil {
		return err
	}
	for _, row := range rows {
		nr := NewResponse{Example: str(row["example"]), Category: str(row["category"]), Count: num(row["n"]), Providers: strs(row["receivers"])}
		nr.FirstSeen, _ = row["first_seen"].(time.Time)
		slices.Sort(nr.Providers)
		b.r.NewResponses = append(b.r.NewResponses, nr)
	}
	return nil
}

func (b *builder) hygiene(ctx context.Context) error {
	rows, err := b.query(ctx, `
SELECT customer,
       countIf(outcome IN ('delivered', 'deferred', 'bounced', 'expired')) AS attempts,
       countIf(category = 'user_unknown' AND outcome IN ('bounced', 'expired')) AS user_unknown,
       countIf(category = 'mailbox_disabled' AND outcome IN ('bounced', 'expired')) AS disabled,
       countIf(category = 'domain_not_found' AND outcome IN ('bounced', 'expired')) AS no_domain
FROM {db}.delivery_events
WHERE `+current+` AND `+ours+` AND customer != ''
GROUP BY customer
HAVING attempts > 0
ORDER BY user_unknown / attempts DESC, customer`)
	if err != nil {
		return err
	}
	for _, row := range rows {
		h := Hygiene{Customer: str(row["customer"]), Attempts: num(row["attempts"]), UserUnknown: num(row["user_unknown"]),
			MailboxDisabled: num(row["disabled"]), DomainNotFound: num(row["no_domain"])}
		h.UserUnknownRate = ratio(h.UserUnknown, h.Attempts)
		b.r.Hygiene = append(b.r.Hygiene, h)
	}
	return nil
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// num, flt and str read result values (see storage.Result).
func num(v any) int64 { return storage.Int(v) }

func flt(v any) float64 {
	f, _ := storage.Float(v)
	return f
}

func str(v any) string { return storage.String(v) }

func strs(v any) []string {
	xs, _ := v.([]any)
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, str(x))
	}
	return out
}
