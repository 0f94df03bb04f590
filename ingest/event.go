// Package ingest turns what MTAs log and what comes back as bounce emails into classified
// delivery events: one Event per recipient per attempt.
//
// The data flow is framing (syslog RFC 3164/5424, RFC 3339 files, Exim's own files, JSON
// envelopes of log shippers) → a per-format parser → correlation state (Postfix queue ids,
// expiry fan-out) → classification → enrichment (customer, sending IP or pool). Parsers are
// total: any input yields events or an error, never a panic. The package knows nothing of
// Kafka or ClickHouse.
package ingest

import (
	"strings"
	"time"
)

// Outcome is what happened to one recipient in one attempt.
type Outcome string

// The outcomes; the names are stored in the delivery_events table.
const (
	Delivered Outcome = "delivered"
	Deferred  Outcome = "deferred"
	Bounced   Outcome = "bounced"
	Expired   Outcome = "expired"
	Rejected  Outcome = "rejected"  // refused while receiving (smtpd, postscreen, milter)
	Complaint Outcome = "complaint" // ARF feedback report
	AutoReply Outcome = "auto_reply"
)

// IsFailure reports whether the outcome counts as a delivery failure.
func (o Outcome) IsFailure() bool {
	return o == Deferred || o == Bounced || o == Expired || o == Rejected
}

// Direction says whether the event concerns mail we send or mail we receive.
type Direction string

// The directions.
const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// Event is one recipient of one delivery attempt: the row of the delivery_events table.
// JSON names are the table's column names.
type Event struct {
	EventTime   time.Time `json:"event_time"`
	Line        int       `json:"line"` // 1-based line of the record that produced the event; 0 for a whole email
	MTA         string    `json:"mta"`
	MTAHost     string    `json:"mta_host"`
	MTAInstance string    `json:"mta_instance"`
	QueueID     string    `json:"queue_id"`
	MessageID   string    `json:"message_id"`
	Direction   Direction `json:"direction"`
	Outcome     Outcome   `json:"outcome"`

	Sender          string `json:"sender"`
	SenderDomain    string `json:"sender_domain"`
	Customer        string `json:"customer"`
	Recipient       string `json:"recipient"`
	RecipientDomain string `json:"recipient_domain"`

	SendingIP  string `json:"sending_ip"`
	Pool       string `json:"pool"`
	RemoteHost string `json:"remote_host"`
	RemoteIP   string `json:"remote_ip"`

	SMTPCode       int    `json:"smtp_code"`
	EnhancedStatus string `json:"enhanced_status"`
	SMTPPhase      string `json:"smtp_phase"`
	Response       string `json:"response"`

	Category           string   `json:"category"`
	BounceClass        string   `json:"bounce_class"`
	ActionParty        string   `json:"action_party"`
	Provider           string   `json:"provider"`
	ProviderCode       string   `json:"provider_code"`
	BlocklistProviders []string `json:"blocklist_providers"`
	ListedIP           string   `json:"listed_ip"`
	ThrottleScope      string   `json:"throttle_scope"`
	Rule               string   `json:"rule"`

	// Notification marks the delivery of a bounce or delay notification that our MTA sent
	// back to the sender (Postfix "sender non-delivery notification"): its failures are not
	// the customer's.
	Notification bool `json:"notification"`
	// Attributes the source record carried that the enrichment step can map to a customer:
	// SASL user, job or campaign id, a customer header.
	SASLUser  string            `json:"-"`
	Transport string            `json:"-"` // Postfix service or Exim transport: maps to an egress IP
	JobID     string            `json:"job_id,omitempty"`
	Headers   map[string]string `json:"-"`

	// VendorClass is the source's own classification when it has one (PowerMTA bounceCat,
	// KumoMTA bounce_classification, SES bounceSubType), kept for comparison.
	VendorClass string `json:"vendor_class,omitempty"`
}

// domainOf returns the lower-cased domain of an address, or "".
func domainOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || at == len(addr)-1 {
		return ""
	}
	return strings.ToLower(strings.TrimRight(addr[at+1:], ">. "))
}

// cleanAddr strips angle brackets and spaces from a logged address; "<>" becomes "".
func cleanAddr(a string) string {
	a = strings.TrimSpace(a)
	a = strings.TrimPrefix(a, "<")
	a = strings.TrimSuffix(a, ">")
	return strings.TrimSpace(a)
}
