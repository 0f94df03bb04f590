package ingest

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
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

// detectKumoMTA recognises a JSON object whose "type" is one of KumoMTA's record types, or
// an unknown type on an object that carries KumoMTA's own keys (forward compatibility).
func detectKumoMTA(rec *Record) bool {
	if !rec.JSON || !strings.Contains(rec.Message, `"type"`) {
		return false
	}
	var is bool
	_ = withJSONObject(rec.Message, func(v *fastjson.Value) error {
		typ := v.GetStringBytes("type")
		if len(typ) == 0 || typ[0] < 'A' || typ[0] > 'Z' {
			return nil // KumoMTA's types are CamelCase; SendGrid's "type":"bounce" is not one
		}
		response, class := v.Exists("response"), v.Exists("bounce_classification")
		if _, known := kumoTypes[string(typ)]; known {
			is = response || class || v.Exists("num_attempts")
		} else {
			is = response && class
		}
		return nil
	})
	return is
}

// kumoParser reads KumoMTA log records. KumoMTA writes exactly one record per event, so the
// parser keeps no state.
type kumoParser struct{}

// kumoRecord is the part of a KumoMTA log record the parser uses; the rest is ignored.
type kumoRecord struct {
	Type                 string
	ID                   string
	Sender               string
	Recipients           []string // "recipient": a string, or an array since 2025.12.02
	Queue                string
	Response             *kumoResponse
	PeerAddress          *kumoPeer
	Timestamp            float64 // unix seconds, 0 when absent
	EventTime            string
	BounceClassification string
	EgressPool           string
	EgressSource         string
	SourceAddress        string
	Headers              map[string]string // string-valued headers, lower-cased names
	Meta                 map[string]string // string-valued meta, lower-cased names
	FeedbackType         string
}

type kumoResponse struct {
	Code         int
	EnhancedCode *kumoEnhancedCode
	Content      string
	Command      *string
}

type kumoEnhancedCode struct {
	Class, Subject, Detail int
}

type kumoPeer struct {
	Name, Addr string
}

// readKumoRecord reads a KumoMTA record. A field of the wrong type is an error, as it is
// for KumoMTA's own schema; unknown fields are ignored.
func readKumoRecord(v *fastjson.Value) (kumoRecord, error) {
	var r kumoRecord
	var err error
	str := func(dst *string, obj *fastjson.Value, key string) {
		if err == nil {
			*dst, err = jsonField(obj, key)
		}
	}
	num := func(dst *int, obj *fastjson.Value, key string) {
		if err == nil {
			*dst, err = jsonInt(obj, key)
		}
	}
	obj := func(key string, in *fastjson.Value) *fastjson.Value {
		if err != nil {
			return nil
		}
		var o *fastjson.Value
		o, err = jsonObject(in, key)
		return o
	}
	str(&r.Type, v, "type")
	str(&r.ID, v, "id")
	str(&r.Sender, v, "sender")
	str(&r.Queue, v, "queue")
	str(&r.EventTime, v, "event_time")
	str(&r.BounceClassification, v, "bounce_classification")
	str(&r.EgressPool, v, "egress_pool")
	str(&r.EgressSource, v, "egress_source")
	if err == nil {
		r.Recipients, err = kumoRecipients(v.Get("recipient"))
	}
	if resp := obj("response", v); resp != nil {
		r.Response = &kumoResponse{}
		num(&r.Response.Code, resp, "code")
		str(&r.Response.Content, resp, "content")
		if c := resp.Get("command"); c != nil && c.Type() != fastjson.TypeNull {
			var cmd string
			str(&cmd, resp, "command")
			r.Response.Command = &cmd
		}
		if e := obj("enhanced_code", resp); e != nil {
			r.Response.EnhancedCode = &kumoEnhancedCode{}
			num(&r.Response.EnhancedCode.Class, e, "class")
			num(&r.Response.EnhancedCode.Subject, e, "subject")
			num(&r.Response.EnhancedCode.Detail, e, "detail")
		}
	}
	if peer := obj("peer_address", v); peer != nil {
		r.PeerAddress = &kumoPeer{}
		str(&r.PeerAddress.Name, peer, "name")
		str(&r.PeerAddress.Addr, peer, "addr")
	}
	if src := obj("source_address", v); src != nil {
		str(&r.SourceAddress, src, "address")
	}
	if fb := obj("feedback_report", v); fb != nil {
		str(&r.FeedbackType, fb, "feedback_type")
	}
	if ts := v.Get("timestamp"); err == nil && ts != nil {
		switch ts.Type() {
		case fastjson.TypeNumber:
			r.Timestamp, _ = ts.Float64()
		case fastjson.TypeString:
			r.Timestamp, _ = strconv.ParseFloat(string(ts.GetStringBytes()), 64)
		case fastjson.TypeNull:
		default:
			err = fmt.Errorf("timestamp: a JSON %s, not a number", ts.Type())
		}
	}
	r.Headers = kumoStrings(obj("headers", v))
	r.Meta = kumoStrings(obj("meta", v))
	return r, err
}

// kumoStrings copies the string members of an object, names lower-cased; nil when none.
func kumoStrings(o *fastjson.Value) map[string]string {
	if o == nil {
		return nil
	}
	var m map[string]string
	o.GetObject().Visit(func(k []byte, x *fastjson.Value) {
		if x.Type() != fastjson.TypeString {
			return
		}
		if m == nil {
			m = map[string]string{}
		}
		m[strings.ToLower(string(k))] = string(x.GetStringBytes())
	})
	return m
}

func (kumoParser) flush(*[]Event) {}

func (kumoParser) parse(rec *Record, out *[]Event) error {
	var r kumoRecord
	err := withJSONObject(rec.Message, func(v *fastjson.Value) error {
		var err error
		r, err = readKumoRecord(v)
		return err
	})
	if err != nil {
		return fmt.Errorf("kumomta record: %w", err)
	}
	outcome, known := kumoTypes[r.Type]
	if !known || outcome == "" {
		return nil // receptions, holds, rebinds, transfers and future types
	}
	rcpts := r.Recipients
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
	if outcome == Complaint && r.FeedbackType != "" {
		ev.VendorClass = r.FeedbackType
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
func kumoRecipients(v *fastjson.Value) ([]string, error) {
	if v == nil || v.Type() == fastjson.TypeNull {
		return []string{""}, nil
	}
	switch v.Type() {
	case fastjson.TypeString:
		return []string{string(v.GetStringBytes())}, nil
	case fastjson.TypeArray:
		items := v.GetArray()
		if len(items) == 0 {
			return []string{""}, nil
		}
		list := make([]string, len(items))
		for i, x := range items {
			b, err := x.StringBytes()
			if err != nil {
				return nil, fmt.Errorf("recipient list: %w", err)
			}
			list[i] = string(b)
		}
		return list, nil
	}
	return nil, fmt.Errorf("recipient: a JSON %s, not a string", v.Type())
}

// kumoTime prefers the RFC 3339 event_time (sub-second) over the unix timestamp, and falls
// back to the framing's time.
func kumoTime(r kumoRecord, fallback time.Time) time.Time {
	if r.EventTime != "" {
		if t, err := time.Parse(time.RFC3339Nano, r.EventTime); err == nil {
			return t
		}
	}
	if f := r.Timestamp; f > 0 {
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
	if r.SourceAddress == "" {
		return ""
	}
	s := r.SourceAddress
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
		h[k] = v
	}
	for k, v := range r.Meta {
		h["meta:"+k] = v
	}
	return h
}
