package scenario

import (
	"maps"
	"slices"
	"time"

	"github.com/bouncehouse/bouncehouse/ingest"
)

// Truth is the ground truth of a scenario, in the terms of the pipeline: the delivery events
// ingest produces from the records (one per recipient per attempt, deliveries included, and
// one per failed recipient of a bounce email), and the incidents behind them.
type Truth struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Seed  uint64    `json:"seed"`

	// ProducedEvents is the number of events ingest produces from all records.
	ProducedEvents int `json:"produced_events"`
	// LogLines and BounceEmails count the records by kind.
	LogLines     int `json:"log_lines"`
	BounceEmails int `json:"bounce_emails"`
	// Outcomes counts the events per outcome (delivered, deferred, bounced, expired).
	Outcomes map[string]int `json:"outcomes"`
	// Categories counts the failure events (all but delivered) per classifier category.
	Categories map[string]int `json:"categories"`

	Customers []Customer `json:"customers"`
	IPs       []IP       `json:"ips"`
	// Listings are the sending IPs put on a blocklist during the window.
	Listings []Listing `json:"listings"`
	// Misconfigured are the customers whose own setup broke during the window.
	Misconfigured []Misconfiguration `json:"misconfigured_customers"`
	// Throttling are deferral episodes of one provider against one IP that are not listings.
	Throttling []Throttling `json:"throttling"`
	// BrokenAtEnd names what is still broken when the window closes.
	BrokenAtEnd Broken `json:"broken_at_end"`
}

// Customer is one customer of the scenario and how its mail can be told apart.
type Customer struct {
	Name         string   `json:"name"`
	DisplayName  string   `json:"display_name"`
	SenderDomain string   `json:"sender_domain"`
	SASLUser     string   `json:"sasl_user,omitempty"` // SMTP AUTH user on Postfix and Exim
	MTAHosts     []string `json:"mta_hosts"`
	IPs          []string `json:"ips"`
	Pools        []string `json:"pools"`
	// Events counts the events of its mail, bounce emails included.
	Events int `json:"events"`
}

// IP is one sending IP and where it is configured.
type IP struct {
	IP   string `json:"ip"`
	Pool string `json:"pool"`
	MTA  string `json:"mta"`
	Host string `json:"mta_host"`
	// Binding is how the MTA names the IP: the Postfix instance, the Exim transport, the
	// PowerMTA virtual MTA or the KumoMTA egress source.
	Binding string `json:"binding"`
}

// Listing is a sending IP on a blocklist.
type Listing struct {
	IP   string `json:"ip"`
	Pool string `json:"pool"`
	// List is the blocklist_providers value of the list (spamhaus_zen, spamcop, …).
	List string `json:"list"`
	// Providers are the receiving providers that refused the IP, as the classifier names
	// them; "other" stands for receivers of no known provider (corporate mail servers).
	Providers []string  `json:"providers"`
	Start     time.Time `json:"start"`
	// End is the delisting; zero when the IP is still listed at the end of the window.
	End time.Time `json:"end,omitzero"`
	// Events counts the failure events whose listed_ip is IP and whose blocklist_providers
	// hold List.
	Events int `json:"events"`
}

// Misconfiguration is a customer's broken setup.
type Misconfiguration struct {
	Customer     string `json:"customer"`
	SenderDomain string `json:"sender_domain"`
	// Issue is one of spf, dkim, dmarc, auth, relay, sender, rdns, loop.
	Issue string `json:"issue"`
	// Category is the classifier category of the failures it causes.
	Category string    `json:"category"`
	Start    time.Time `json:"start"`
	// End is the fix; zero when it is still broken at the end of the window.
	End time.Time `json:"end,omitzero"`
	// Events counts the failure events with the customer's sender domain and Category.
	Events int `json:"events"`
}

// Throttling is a provider deferring one IP for a while (Yahoo TSS04).
type Throttling struct {
	IP           string    `json:"ip"`
	Pool         string    `json:"pool"`
	Provider     string    `json:"provider"`
	ProviderCode string    `json:"provider_code"`
	Category     string    `json:"category"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end,omitzero"`
	// Events counts the events with ProviderCode.
	Events int `json:"events"`
}

// Broken names the IPs and customers still broken at the end of the window.
type Broken struct {
	IPs       []string `json:"ips"`
	Customers []string `json:"customers"`
}

func sortedKeys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}

func (g *generator) truth() Truth {
	t := Truth{Start: g.start, End: g.end, Seed: g.cfg.Seed, ProducedEvents: g.events, LogLines: g.logLines,
		BounceEmails: g.bounceEmails, Outcomes: maps.Clone(g.outcomes), Categories: maps.Clone(g.categories),
		BrokenAtEnd: Broken{IPs: []string{}, Customers: []string{}}}
	for _, c := range customers {
		hosts, ips, pools := map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, e := range c.egress {
			hosts[e.host], ips[e.ip], pools[e.pool] = true, true, true
		}
		t.Customers = append(t.Customers, Customer{Name: c.name, DisplayName: c.display, SenderDomain: c.domain, SASLUser: c.sasl,
			MTAHosts: sortedKeys(hosts), IPs: sortedKeys(ips), Pools: sortedKeys(pools), Events: g.custEvents[c]})
	}
	for _, e := range egresses {
		binding := e.instance + e.transport + e.vmta + e.source
		t.IPs = append(t.IPs, IP{IP: e.ip, Pool: e.pool, MTA: e.mta.String(), Host: e.host, Binding: binding})
	}
	for _, l := range g.listings {
		x := Listing{IP: l.eg.ip, Pool: l.eg.pool, List: l.list, Providers: sortedKeys(l.providers), Start: l.start, Events: l.events}
		if !l.ongoing {
			x.End = l.end
		} else {
			t.BrokenAtEnd.IPs = append(t.BrokenAtEnd.IPs, l.eg.ip)
		}
		t.Listings = append(t.Listings, x)
	}
	for _, m := range g.misconfigs {
		x := Misconfiguration{Customer: m.c.name, SenderDomain: m.c.domain, Issue: m.issue, Category: m.category, Start: m.start, Events: m.events}
		if !m.ongoing {
			x.End = m.end
		} else {
			t.BrokenAtEnd.Customers = append(t.BrokenAtEnd.Customers, m.c.name)
		}
		t.Misconfigured = append(t.Misconfigured, x)
	}
	t.Throttling = []Throttling{}
	if !g.cfg.Quiet {
		t.Throttling = append(t.Throttling, Throttling{IP: g.tss.eg.ip, Pool: g.tss.eg.pool, Provider: "yahoo", ProviderCode: "TSS04",
			Category: catReputation, Start: g.tss.start, End: g.tss.end, Events: g.tss.events})
	}
	slices.Sort(t.BrokenAtEnd.IPs)
	slices.Sort(t.BrokenAtEnd.Customers)
	return t
}

// EnrichOptions is the enrichment configuration a pipeline reading this scenario runs with:
// Postfix instances, Exim transports and KumoMTA egress sources mapped to their sending IPs
// and pools, and SASL
// users, sender domains and the X-Customer-Id header (which PowerMTA, KumoMTA and the
// returned messages of bounce emails carry) mapped to customers.
func (s *Scenario) EnrichOptions() ingest.EnrichOptions {
	o := ingest.EnrichOptions{Customers: ingest.CustomerMap{BySASLUser: map[string]string{},
		BySenderDomain: map[string]string{}, Header: "X-Customer-Id"}}
	for _, ip := range s.Truth.IPs {
		switch ip.MTA {
		case mtaPostfix.String():
			o.Egress = append(o.Egress, ingest.EgressRule{Host: ip.Host, Instance: ip.Binding, IP: ip.IP, Pool: ip.Pool})
		case mtaExim.String():
			o.Egress = append(o.Egress, ingest.EgressRule{Host: ip.Host, Transport: ip.Binding, IP: ip.IP, Pool: ip.Pool})
		case mtaKumo.String():
			// KumoMTA names the egress source on every record but logs the source address
			// only once a connection is made, and its JSON records carry no host.
			o.Egress = append(o.Egress, ingest.EgressRule{Transport: ip.Binding, IP: ip.IP, Pool: ip.Pool})
		}
	}
	for _, c := range s.Truth.Customers {
		if c.SASLUser != "" {
			o.Customers.BySASLUser[c.SASLUser] = c.Name
		}
		o.Customers.BySenderDomain[c.SenderDomain] = c.Name
	}
	return o
}
