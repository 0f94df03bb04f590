package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// FormatKumoMTA is KumoMTA's JSON log record, one object per line, as written to its local
// logs or shipped by a webhook or Kafka log hook.
const FormatKumoMTA Format = "kumomta"

func init() {
	register(formatSpec{format: FormatKumoMTA, detect: detectKumoMTA,
		newFn: func(*State) parser { return kumoParser{} }})
}

// kumoTypes maps KumoMTA's record types to outcomes. Types mapped to "" are known but carry
// no delivery attempt (receptions, internal holds, rebinds, transfers).
var kumoTypes = map[string]Outcome{
	"Delivery":                Delivered,
	"Bounce":                  Bounced,
	"TransientFailure":        Deferred,
	"Expiration":              Expired,
	"AdminBounce":             Bounced,
	"OOB":                     Bounced,
	"Rejection":               Rejected,
	"Feedback":                Complaint,
	"Reception":               "",
	"Delayed":                 "",
	"AdminRebind":             "",
	"DeferredInjectionRebind": "",
	"XferOut":                 "",
	"XferIn":                  "",
}

// kumoProbe holds the keys that tell a KumoMTA record from other JSON records.
type kumoProbe struct {
	Type                 any             `json:"type"`
	Response             json.RawMessage `json:"response"`
	BounceClassification json.RawMessage `json:"bounce_classification"`
	NumAttempts          json.RawMessage `json:"num_attempts"`
}

// detectKumoMTA recognises a JSON object whose "type" is one of KumoMTA's record types, or
// an unknown type on an object that carries KumoMTA's own keys (forward compatibility).
func detectKumoMTA(rec *Record) bool {
	if !rec.JSON || !strings.Contains(rec.Message, `"type"`) {
		return false
	}
	var p kumoProbe
	if json.Unmarshal([]byte(rec.Message), &p) != nil {
		return false
	}
	typ, ok := p.Type.(string)
	if !ok || typ == "" || typ[0] < 'A' || typ[0] > 'Z' {
		return false // KumoMTA's types are CamelCase; SendGrid's "type":"bounce" is not one
	}
	if _, known := kumoTypes[typ]; known {
		return p.Response != nil || p.BounceClassification != nil || p.NumAttempts != nil
	}
	return p.Response != nil && p.BounceClassification != nil
}

// kumoParser reads KumoMTA log records. KumoMTA writes exactly one record per event, so the
// parser keeps no state.
type kumoParser struct{}

// kumoRecord is the part of a KumoMTA log record the parser uses; the rest is ignored.
type kumoRecord struct {
	Type                 string            `json:"type"`
	ID                   string            `json:"id"`
	Sender               string            `json:"sender"`
	Recipient            json.RawMessage   `json:"recipient"` // a string, or an array since 2025.12.02
	Queue                string            `json:"queue"`
	Response             *kumoResponse     `json:"response"`
	PeerAddress          *kumoPeer         `json:"peer_address"`
	Timestamp            json.Number       `json:"timestamp"`
	EventTime            string            `json:"event_time"`
	BounceClassification string            `json:"bounce_classification"`
	EgressPool           string            `json:"egress_pool"`
	EgressSource         string            `json:"egress_source"`
	SourceAddress        *kumoSource       `json:"source_address"`
	Headers              map[string]any    `json:"headers"`
	Meta                 map[string]any    `json:"meta"`
	NodeID               string            `json:"nodeid"`
	FeedbackReport       *kumoFeedbackInfo `json:"feedback_report"`
}

type kumoResponse struct {
	Code         int               `json:"code"`
	EnhancedCode *kumoEnhancedCode `json:"enhanced_code"`
	Content      string            `json:"content"`
	Command      *string           `json:"command"`
}

type kumoEnhancedCode struct {
	Class   int `json:"class"`
	Subject int `json:"subject"`
	Detail  int `json:"detail"`
}

type kumoPeer struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

type kumoSource struct {
	Address string `json:"address"`
}

type kumoFeedbackInfo struct {
	FeedbackType string `json:"feedback_type"`
}

func (kumoParser) flush(*[]Event) {}

func (kumoParser) parse(rec *Record, out *[]Event) error {
	var r kumoRecord
	dec := json.NewDecoder(strings.NewReader(rec.Message))
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("kumomta record: %w", err)
	}
	outcome, known := kumoTypes[r.Type]
	if !known || outcome == "" {
		return nil // receptions, holds, rebinds, transfers and future types
	}
	rcpts, err := kumoRecipients(r.Recipient)
	if err != nil {
		return fmt.Errorf("kumomta %s record: %w", r.Type, err)
	}
	ev := Event{EventTime: kumoTime(r, rec.Time), Line: rec.Line, MTA: string(FormatKumoMTA), MTAHost: rec.Host,
		QueueID: r.ID, Direction: Outbound, Outcome: outcome, Pool: r.EgressPool, Transport: r.EgressSource}
	ev.Sender = cleanAddr(r.Sender)
	ev.SenderDomain = domainOf(ev.Sender)
	if outcome == Rejected {
		ev.Direction = Inbound
	}
	if r.PeerAddress != nil {
		ev.RemoteHost = strings.TrimSuffix(r.PeerAddress.Name, ".")
		if a, err := netip.ParseAddr(strings.Trim(r.PeerAddress.Addr, "[]")); err == nil {
			ev.RemoteIP = a.String()
		}
	}
	ev.SendingIP = kumoSendingIP(r)
	if r.Response != nil && outcome != Complaint {
		ev.Response = kumoResponseText(r.Response)
		ev.SMTPCode = r.Response.Code
		if e := r.Response.EnhancedCode; e != nil && e.Class >= 2 && e.Class <= 5 {
			ev.EnhancedStatus = fmt.Sprintf("%d.%d.%d", e.Class, e.Subject, e.Detail)
		}
		if r.Response.Command != nil {
			ev.SMTPPhase = smtpPhaseOfCommand(*r.Response.Command)
		}
	}
	if outcome != Delivered && r.BounceClassification != "" {
		ev.VendorClass = r.BounceClassification
	}
	if outcome == Complaint && r.FeedbackReport != nil && r.FeedbackReport.FeedbackType != "" {
		ev.VendorClass = r.FeedbackReport.FeedbackType
	}
	ev.Headers = kumoHeaders(r)
	if campaign, tenant, _ := splitKumoQueue(r.Queue); campaign != "" || tenant != "" {
		ev.JobID = campaign
		if tenant != "" {
			if ev.Headers == nil {
				ev.Headers = map[string]string{}
			}
			ev.Headers["tenant"] = tenant
		}
	}
	if id := ev.Headers["message-id"]; id != "" {
		ev.MessageID = strings.Trim(id, "<> ")
	}
	for _, rc := range rcpts {
		e := ev
		e.Recipient = cleanAddr(rc)
		e.RecipientDomain = domainOf(e.Recipient)
		*out = append(*out, e)
	}
	return nil
}

// kumoRecipients reads "recipient" as a string or an array of strings. A record without a
// recipient still yields one event (internal failures are logged that way).
func kumoRecipients(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return []string{""}, nil
	}
	if raw[0] == '[' {
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("recipient list: %w", err)
		}
		if len(list) == 0 {
			return []string{""}, nil
		}
		return list, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	return []string{one}, nil
}

// kumoTime prefers the RFC 3339 event_time (sub-second) over the unix timestamp, and falls
// back to the framing's time.
func kumoTime(r kumoRecord, fallback time.Time) time.Time {
	if r.EventTime != "" {
		if t, err := time.Parse(time.RFC3339Nano, r.EventTime); err == nil {
			return t
		}
	}
	if f, err := r.Timestamp.Float64(); err == nil && f > 0 {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	}
	return fallback
}

// kumoResponseText rebuilds the receiver's reply as "code enhanced content": KumoMTA logs
// the content with the codes stripped off. Content that already starts with its code
// (some injected or internal responses) is kept as it is.
func kumoResponseText(r *kumoResponse) string {
	content := strings.TrimSpace(r.Content)
	if r.Code == 0 || leadingCode(content) == r.Code {
		return content
	}
	var b strings.Builder
	b.WriteString(strconv.Itoa(r.Code))
	if e := r.EnhancedCode; e != nil && e.Class >= 2 && e.Class <= 5 && !startsWithEnhanced(content) {
		fmt.Fprintf(&b, " %d.%d.%d", e.Class, e.Subject, e.Detail)
	}
	if content != "" {
		b.WriteByte(' ')
		b.WriteString(content)
	}
	return b.String()
}

// startsWithEnhanced reports whether s starts with an enhanced status code ("5.1.1 ").
func startsWithEnhanced(s string) bool {
	if len(s) < 5 || s[0] < '2' || s[0] > '5' || s[1] != '.' {
		return false
	}
	sub, rest, ok := strings.Cut(s[2:], ".")
	if !ok || !allDigits(sub) || len(sub) > 3 {
		return false
	}
	detail, _, _ := strings.Cut(rest, " ")
	return allDigits(detail) && len(detail) <= 3
}

// smtpPhaseOfCommand names the SMTP phase of the command a reply answered: "." and "DATA"
// are data, "RCPT TO:<…>" is rcpt, and so on; unknown commands give "".
func smtpPhaseOfCommand(cmd string) string {
	cmd = strings.ToUpper(strings.TrimSpace(cmd))
	switch {
	case cmd == ".", strings.HasPrefix(cmd, "DATA"), strings.HasPrefix(cmd, "BDAT"):
		return "data"
	case strings.HasPrefix(cmd, "RCPT"):
		return "rcpt"
	case strings.HasPrefix(cmd, "MAIL"):
		return "mail"
	case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"), strings.HasPrefix(cmd, "LHLO"),
		strings.HasPrefix(cmd, "STARTTLS"):
		return "helo"
	}
	return ""
}

// kumoSendingIP returns the local source IP: egress_source when it is itself an address,
// else source_address.address ("ip:port", a bare IP, or "[v6]:port").
func kumoSendingIP(r kumoRecord) string {
	if a, err := netip.ParseAddr(r.EgressSource); err == nil {
		return a.String()
	}
	if r.SourceAddress == nil || r.SourceAddress.Address == "" {
		return ""
	}
	s := r.SourceAddress.Address
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.String()
	}
	return ""
}

// splitKumoQueue splits a scheduled queue name "campaign:tenant@domain" (campaign and
// tenant optional) into its parts.
func splitKumoQueue(q string) (campaign, tenant, domain string) {
	at := strings.LastIndexByte(q, '@')
	if at < 0 {
		return "", "", q
	}
	left, domain := q[:at], q[at+1:]
	if c, t, ok := strings.Cut(left, ":"); ok {
		return c, t, domain
	}
	return "", left, domain
}

// kumoHeaders returns the record's captured headers (names lower-cased) and string meta
// values ("meta:" prefixed), or nil.
func kumoHeaders(r kumoRecord) map[string]string {
	if len(r.Headers) == 0 && len(r.Meta) == 0 {
		return nil
	}
	h := make(map[string]string, len(r.Headers)+len(r.Meta))
	for k, v := range r.Headers {
		if s, ok := v.(string); ok {
			h[strings.ToLower(k)] = s
		}
	}
	for k, v := range r.Meta {
		if s, ok := v.(string); ok {
			h["meta:"+strings.ToLower(k)] = s
		}
	}
	return h
}
