package classify

// Category is one value of the delivery-failure taxonomy (taxonomy.md §3.2). The names are a
// contract: ClickHouse stores them, dashboards and reports group by them.
type Category string

// The 33 failure categories and Unclassified, in taxonomy order.
const (
	UserUnknown               Category = "user_unknown"
	MailboxDisabled           Category = "mailbox_disabled"
	MailboxFull               Category = "mailbox_full"
	DomainNotFound            Category = "domain_not_found"
	RelayDenied               Category = "relay_denied"
	SPFFail                   Category = "spf_fail"
	DKIMFail                  Category = "dkim_fail"
	DMARCFail                 Category = "dmarc_fail"
	AuthUnauthenticated       Category = "auth_unauthenticated"
	SenderInvalid             Category = "sender_invalid"
	IPBlocklisted             Category = "ip_blocklisted"
	DomainBlocklisted         Category = "domain_blocklisted"
	ReputationBlock           Category = "reputation_block"
	RateLimited               Category = "rate_limited"
	TooManyConnections        Category = "too_many_connections"
	TooManyMessagesPerSession Category = "too_many_messages_per_session"
	TooManyRecipients         Category = "too_many_recipients"
	RDNSMissing               Category = "rdns_missing"
	HELOInvalid               Category = "helo_invalid"
	TLSRequired               Category = "tls_required"
	ContentSpam               Category = "content_spam"
	Virus                     Category = "virus"
	AttachmentBlocked         Category = "attachment_blocked"
	MessageTooLarge           Category = "message_too_large"
	ContentMalformed          Category = "content_malformed"
	PolicyRejected            Category = "policy_rejected"
	MailLoop                  Category = "mail_loop"
	Greylisted                Category = "greylisted"
	RemoteTempFailure         Category = "remote_temp_failure"
	ConnectionFailed          Category = "connection_failed"
	Timeout                   Category = "timeout"
	DNSFailure                Category = "dns_failure"
	MessageExpired            Category = "message_expired"
	ProtocolError             Category = "protocol_error"
	Unclassified              Category = "unclassified"
)

// Categories lists every category in taxonomy order, Unclassified last.
var Categories = []Category{
	UserUnknown, MailboxDisabled, MailboxFull, DomainNotFound,
	RelayDenied, SPFFail, DKIMFail, DMARCFail, AuthUnauthenticated, SenderInvalid,
	IPBlocklisted, DomainBlocklisted, ReputationBlock, RateLimited, TooManyConnections,
	TooManyMessagesPerSession, TooManyRecipients, RDNSMissing, HELOInvalid, TLSRequired,
	ContentSpam, Virus, AttachmentBlocked, MessageTooLarge, ContentMalformed, PolicyRejected,
	MailLoop,
	Greylisted, RemoteTempFailure, ConnectionFailed, Timeout, DNSFailure, MessageExpired,
	ProtocolError,
	Unclassified,
}

// BounceClass says what to do with the recipient (taxonomy §3.1): suppress (hard), retry
// (soft), or fix the sender and never suppress the recipient (block).
type BounceClass string

// The bounce classes.
const (
	Hard  BounceClass = "hard"
	Soft  BounceClass = "soft"
	Block BounceClass = "block"
)

// ActionParty says who must act on a failure (taxonomy §3.1).
type ActionParty string

// The action parties.
const (
	PartyRecipient       ActionParty = "recipient"
	PartyCustomerList    ActionParty = "customer_list"
	PartyCustomerDomain  ActionParty = "customer_domain"
	PartyCustomerContent ActionParty = "customer_content"
	PartySenderInfra     ActionParty = "sender_infra"
	PartyRecipientInfra  ActionParty = "recipient_infra"
	PartyTransient       ActionParty = "transient"
	PartyUnknown         ActionParty = "unknown"
)

// CategoryInfo is what the rule data says about a category.
type CategoryInfo struct {
	Name          Category
	Group         string      // dashboard group: recipient, sender_config, reputation, content, routing, transient, protocol
	Class         BounceClass // default bounce class
	Party         ActionParty // default action party
	ThrottleScope string      // default throttle scope, for the rate-limit categories
	Summary       string      // one line: what the receiver said
	Remediation   string      // what to do, in English
}

func validClass(c BounceClass) bool { return c == Hard || c == Soft || c == Block }

func validParty(p ActionParty) bool {
	switch p {
	case PartyRecipient, PartyCustomerList, PartyCustomerDomain, PartyCustomerContent,
		PartySenderInfra, PartyRecipientInfra, PartyTransient, PartyUnknown:
		return true
	}
	return false
}
