package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// EnrichOptions map what a record carries to the sending IP or pool and to the customer.
// Values from the record itself (KumoMTA egress_source, PowerMTA dlvSourceIp, a Postfix
// instance named after its IP) win over configuration.
type EnrichOptions struct {
	// Egress maps an MTA host, instance or transport to a sending IP and pool. The first
	// rule whose non-empty fields all equal the event's wins.
	Egress []EgressRule `yaml:"egress"`
	// Customers maps SASL users, sender domains and job ids to customers. Without a match
	// the sender domain is the customer.
	Customers CustomerMap `yaml:"customers"`
	// Recipients says what to keep of recipient addresses: "keep" (default), "hash"
	// (SHA-256 of salt and address) or "drop". The domain is always kept.
	Recipients string `yaml:"recipients"`
	// RecipientSalt is the salt for "hash".
	RecipientSalt string `yaml:"recipient_salt"`
}

// EgressRule names the sending IP and pool of the traffic that matches it.
type EgressRule struct {
	Host      string `yaml:"host"`
	Instance  string `yaml:"instance"`
	Transport string `yaml:"transport"`
	IP        string `yaml:"ip"`
	Pool      string `yaml:"pool"`
}

// CustomerMap maps record attributes to customer names.
type CustomerMap struct {
	BySASLUser     map[string]string `yaml:"sasl_users"`
	BySenderDomain map[string]string `yaml:"sender_domains"`
	ByJobID        map[string]string `yaml:"jobs"`
	// Header names a message header whose value is the customer (when the source logs
	// headers, as KumoMTA and PowerMTA can).
	Header string `yaml:"header"`
}

type enricher struct{ opts EnrichOptions }

func newEnricher(o EnrichOptions) *enricher { return &enricher{opts: o} }

func (e *enricher) enrich(ev *Event) {
	if ev.SendingIP == "" || ev.Pool == "" {
		for _, r := range e.opts.Egress {
			if (r.Host == "" || r.Host == ev.MTAHost) && (r.Instance == "" || r.Instance == ev.MTAInstance) &&
				(r.Transport == "" || r.Transport == ev.Transport) {
				if ev.SendingIP == "" {
					ev.SendingIP = r.IP
				}
				if ev.Pool == "" {
					ev.Pool = r.Pool
				}
				break
			}
		}
	}
	if ev.Customer == "" {
		ev.Customer = e.customer(ev)
	}
	switch e.opts.Recipients {
	case "hash":
		if ev.Recipient != "" {
			sum := sha256.Sum256([]byte(e.opts.RecipientSalt + strings.ToLower(ev.Recipient)))
			ev.Recipient = hex.EncodeToString(sum[:16])
		}
	case "drop":
		ev.Recipient = ""
	}
}

func (e *enricher) customer(ev *Event) string {
	c := e.opts.Customers
	if ev.SASLUser != "" {
		if v, ok := c.BySASLUser[ev.SASLUser]; ok {
			return v
		}
	}
	if ev.JobID != "" {
		if v, ok := c.ByJobID[ev.JobID]; ok {
			return v
		}
	}
	if c.Header != "" && ev.Headers != nil {
		if v := ev.Headers[strings.ToLower(c.Header)]; v != "" {
			return v
		}
	}
	if ev.Direction == Inbound {
		return ""
	}
	if v, ok := c.BySenderDomain[ev.SenderDomain]; ok {
		return v
	}
	return ev.SenderDomain
}
