// Package report builds the weekly deliverability report from the store: delivery
// figures with their change on the period before, rates per receiving provider, failures by
// category and by who must act, blocklist incidents, misconfigured customers, new
// responses, list hygiene and recommendations derived from them. Every figure comes from SQL
// with bound parameters; render it as HTML, Markdown, JSON or CSV.
package report

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bouncehouse/bouncehouse/storage"
)

// Querier runs SQL against the store; *storage.Store is one.
type Querier interface {
	Query(ctx context.Context, sql string, params storage.Params) (*storage.Result, error)
}

// Options say which period, for whom, from which database.
type Options struct {
	From, To time.Time // the period, [From, To)
	// Customer limits the report to one customer; empty covers every customer.
	Customer string
	Database string // default bouncehouse
	// Now is when the report is made (default time.Now).
	Now time.Time
}

// Report is the weekly deliverability report.
type Report struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	PrevFrom    time.Time `json:"previous_from"`
	Customer    string    `json:"customer,omitempty"`
	GeneratedAt time.Time `json:"generated_at"`
	// DataEnd is the time of the last attempt stored in the period: incidents and issues
	// still seen within an hour of it are ongoing.
	DataEnd time.Time `json:"data_end"`

	Summary         Summary          `json:"summary"`
	Daily           []Day            `json:"daily"`
	Providers       []ProviderRates  `json:"providers"`
	Categories      []CategoryCount  `json:"categories"`
	ActionParties   []PartyCount     `json:"action_parties"`
	Incidents       []Incident       `json:"blocklist_incidents"`
	Misconfigured   []Misconfig      `json:"misconfigured_customers"`
	NewResponses    []NewResponse    `json:"new_responses"`
	Hygiene         []Hygiene        `json:"list_hygiene"`
	Recommendations []Recommendation `json:"recommendations"`
}

// Totals are the delivery figures of one period. Attempts are every try (deliveries,
// deferrals, bounces, expiries); the rates are over final outcomes (delivered, bounced,
// expired), so retries do not dilute them.
type Totals struct {
	Attempts     int64   `json:"attempts"`
	Delivered    int64   `json:"delivered"`
	Deferred     int64   `json:"deferred"`
	Bounced      int64   `json:"bounced"`
	Expired      int64   `json:"expired"`
	Complaints   int64   `json:"complaints"`
	DeliveryRate float64 `json:"delivery_rate"`
	BounceRate   float64 `json:"bounce_rate"`
	DeferralRate float64 `json:"deferral_rate"`
}

// Summary is this period against the one before.
type Summary struct {
	Current  Totals `json:"current"`
	Previous Totals `json:"previous"`
}

// Day is one day's attempts by outcome, for the chart.
type Day struct {
	Date      string `json:"date"`
	Delivered int64  `json:"delivered"`
	Deferred  int64  `json:"deferred"`
	Failed    int64  `json:"failed"` // bounced and expired
}

// ProviderRates are one receiving provider's answers in the period.
type ProviderRates struct {
	Provider    string  `json:"provider"`
	Attempts    int64   `json:"attempts"`
	Acceptance  float64 `json:"acceptance_rate"`
	Deferral    float64 `json:"deferral_rate"`
	Block       float64 `json:"block_rate"`
	RateLimited float64 `json:"rate_limited_rate"`
}

// CategoryCount is one failure category in this period and the one before.
type CategoryCount struct {
	Category    string `json:"category"`
	Group       string `json:"group"`
	ActionParty string `json:"action_party"`
	Failures    int64  `json:"failures"`
	Previous    int64  `json:"previous"`
}

// PartyCount is the failures that one party must act on.
type PartyCount struct {
	ActionParty string `json:"action_party"`
	Failures    int64  `json:"failures"`
	Previous    int64  `json:"previous"`
}

// Incident is a run of blocks of one sending IP by one list or provider: a pause of more
// than an hour starts a new one.
type Incident struct {
	IP        string    `json:"sending_ip"`
	Pool      string    `json:"pool"`
	List      string    `json:"list"`
	Providers []string  `json:"providers"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"` // last refusal seen
	Ongoing   bool      `json:"ongoing"`
	Attempts  int64     `json:"attempts_hurt"`
	DelistURL string    `json:"delist_url,omitempty"`
}

// Duration is how long the incident has lasted (to its last refusal).
func (i Incident) Duration() time.Duration { return i.End.Sub(i.Start) }

// Misconfig is a customer's issue on its side in the period.
type Misconfig struct {
	Customer     string    `json:"customer"`
	SenderDomain string    `json:"sender_domain"`
	Issue        string    `json:"issue"`
	Category     string    `json:"category"`
	Failures     int64     `json:"failures"`
	Share        float64   `json:"failure_share"`
	Since        time.Time `json:"since"`
	LastSeen     time.Time `json:"last_seen"`
	Ongoing      bool      `json:"ongoing"`
	Example      string    `json:"example_response"`
	Remediation  string    `json:"remediation"`
}

// NewResponse is a response shape seen in the period and not in the one before.
type NewResponse struct {
	Example   string    `json:"example"`
	Category  string    `json:"category"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	Providers []string  `json:"providers"`
}

// Hygiene is one customer's list-quality figures.
type Hygiene struct {
	Customer        string  `json:"customer"`
	Attempts        int64   `json:"attempts"`
	UserUnknown     int64   `json:"user_unknown"`
	UserUnknownRate float64 `json:"user_unknown_share"`
	MailboxDisabled int64   `json:"mailbox_disabled"`
	DomainNotFound  int64   `json:"domain_not_found"`
}

// Recommendation is one thing to do, derived from the figures, most urgent first.
type Recommendation struct {
	Priority string `json:"priority"` // urgent, important, watch
	Subject  string `json:"subject"`
	Text     string `json:"text"`
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ISOWeek returns the start and end of an ISO 8601 week written as 2026-W47 (Monday 00:00
// UTC to the next Monday).
func ISOWeek(s string) (time.Time, time.Time, error) {
	y, w, ok := strings.Cut(strings.ToUpper(strings.TrimSpace(s)), "-W")
	year, err1 := strconv.Atoi(y)
	week, err2 := strconv.Atoi(w)
	if !ok || err1 != nil || err2 != nil || week < 1 || week > 53 {
		return time.Time{}, time.Time{}, fmt.Errorf("week %q: want YYYY-Www, e.g. 2026-W47", s)
	}
	// The week with January 4th is week 1.
	jan4 := time.Date(year, 1, 4, 0, 0, 0, 0, time.UTC)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday())+6)%7)).AddDate(0, 0, 7*(week-1))
	if _, wk := monday.ISOWeek(); wk != week {
		return time.Time{}, time.Time{}, fmt.Errorf("week %q: %d has no week %d", s, year, week)
	}
	return monday, monday.AddDate(0, 0, 7), nil
}

// Build runs the report's queries for the period and derives the recommendations.
func Build(ctx context.Context, q Querier, o Options) (*Report, error) {
	if o.Database == "" {
		o.Database = "bouncehouse"
	}
	if !identRE.MatchString(o.Database) {
		return nil, fmt.Errorf("database name %q: letters, digits and _ only", o.Database)
	}
	if !o.From.Before(o.To) {
		return nil, fmt.Errorf("period %s to %s is empty", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	r := &Report{From: o.From.UTC(), To: o.To.UTC(), PrevFrom: o.From.Add(-o.To.Sub(o.From)).UTC(), Customer: o.Customer,
		GeneratedAt: o.Now.UTC()}
	b := &builder{q: q, db: "`" + o.Database + "`", r: r, params: storage.Params{
		"from": r.From, "to": r.To, "prev_from": r.PrevFrom, "customer": o.Customer,
	}}
	for _, step := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"summary", b.summary}, {"daily", b.daily}, {"providers", b.providers}, {"categories", b.categories},
		{"blocklist incidents", b.incidents}, {"misconfigured customers", b.misconfigured},
		{"new responses", b.newResponses}, {"list hygiene", b.hygiene},
	} {
		if err := step.run(ctx); err != nil {
			return nil, fmt.Errorf("report %s: %w", step.name, err)
		}
	}
	r.Recommendations = recommend(r)
	return r, nil
}
