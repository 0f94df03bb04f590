package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The event formats of email service providers, as users feed their webhooks or event
// exports into Kafka: one JSON object or one JSON array of objects per line.
const (
	FormatSES       Format = "ses"       // Amazon SES notifications, bare or in an SNS envelope
	FormatSendGrid  Format = "sendgrid"  // SendGrid event webhook
	FormatMailgun   Format = "mailgun"   // Mailgun events (event-data) and legacy webhooks
	FormatSparkPost Format = "sparkpost" // SparkPost (Momentum) message events
	FormatPostmark  Format = "postmark"  // Postmark bounce, delivery and spam complaint webhooks
)

func init() {
	for f, hints := range espHints {
		register(formatSpec{format: f, detect: func(rec *Record) bool {
			return espContainsAny(rec.Message, hints) && detectESP(rec) == f
		},
			newFn: func(*State) parser { return espParser{format: f} }})
	}
}

// espHints are substrings one of which a provider's records always hold: a cheap test
// before a record is decoded.
var espHints = map[Format][]string{
	FormatSES:       {`"notificationType"`, `"eventType"`, `"Notification"`},
	FormatSendGrid:  {`"sg_`, `"event"`},
	FormatMailgun:   {`"event`},
	FormatSparkPost: {`"msys"`},
	FormatPostmark:  {`"RecordType"`},
}

// espContainsAny reports whether s holds one of subs.
func espContainsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// maxESPEvents bounds the events one JSON array may carry; webhooks batch a few hundred.
const maxESPEvents = 10_000

// espObjects returns the JSON objects of a record: the object itself, or the elements of a
// top-level array. ok is false when the record is not JSON of that shape.
func espObjects(rec *Record) (objs []json.RawMessage, ok bool) {
	msg := strings.TrimSpace(rec.Message)
	if msg == "" {
		return nil, false
	}
	if msg[0] == '{' && rec.JSON {
		return []json.RawMessage{json.RawMessage(msg)}, true
	}
	if msg[0] != '[' {
		if rec.Program == "" {
			return nil, false
		}
		// Frame may take "[{…x.y …  prog: …" apart as a syslog header: undo that.
		line, ok := unframedLine(rec)
		if !ok || !strings.HasPrefix(line, "[") {
			return nil, false
		}
		msg = line
	}
	if err := json.Unmarshal([]byte(msg), &objs); err != nil {
		return nil, false
	}
	return objs, true
}

// espKeys holds the top-level keys that tell the providers apart.
type espKeys struct {
	NotificationType json.RawMessage `json:"notificationType"`
	EventType        json.RawMessage `json:"eventType"`
	Mail             json.RawMessage `json:"mail"`
	SNSType          json.RawMessage `json:"Type"`
	SNSMessage       json.RawMessage `json:"Message"`
	SGEventID        json.RawMessage `json:"sg_event_id"`
	SGMessageID      json.RawMessage `json:"sg_message_id"`
	Event            json.RawMessage `json:"event"`
	Email            json.RawMessage `json:"email"`
	EventData        json.RawMessage `json:"event-data"`
	DeliveryStatus   json.RawMessage `json:"delivery-status"`
	Recipient        json.RawMessage `json:"recipient"`
	Msys             json.RawMessage `json:"msys"`
	RecordType       json.RawMessage `json:"RecordType"`
}

// detectESP names the provider of a JSON record from its keys, or returns FormatUnknown.
// Arrays are judged by their first element.
func detectESP(rec *Record) Format {
	objs, ok := espObjects(rec)
	if !ok || len(objs) == 0 {
		return FormatUnknown
	}
	return espShape(objs[0])
}

// espShape names the provider of one JSON object.
func espShape(obj json.RawMessage) Format {
	var k espKeys
	if json.Unmarshal(obj, &k) != nil {
		return FormatUnknown
	}
	switch {
	case k.Msys != nil:
		return FormatSparkPost
	case k.RecordType != nil:
		return FormatPostmark
	case k.EventData != nil, k.Event != nil && k.DeliveryStatus != nil:
		return FormatMailgun
	case (k.NotificationType != nil || k.EventType != nil) && k.Mail != nil:
		return FormatSES
	case k.SNSMessage != nil && jsonString(k.SNSType) == "Notification":
		if inner, err := snsInner(k.SNSMessage); err == nil && espShape(inner) == FormatSES {
			return FormatSES
		}
	case k.SGEventID != nil || k.SGMessageID != nil, k.Event != nil && k.Email != nil:
		return FormatSendGrid
	case k.Event != nil && k.Recipient != nil:
		return FormatMailgun // legacy webhook converted to JSON: event, recipient, code, error
	}
	return FormatUnknown
}

// jsonString returns a JSON string's value, or "".
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// snsInner returns the notification an SNS envelope carries in Message: a JSON string
// holding JSON, or (from some relays) the object itself.
func snsInner(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		return raw, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("sns Message: %w", err)
	}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") {
		return nil, errors.New("sns Message is not a JSON object")
	}
	return json.RawMessage(s), nil
}

// espParser reads the events of one provider. It keeps no state: every event names its
// recipient and outcome.
type espParser struct{ format Format }

func (espParser) flush(*[]Event) {}

func (p espParser) parse(rec *Record, out *[]Event) error {
	objs, ok := espObjects(rec)
	if !ok {
		return fmt.Errorf("%s: not a JSON object or array", p.format)
	}
	if len(objs) > maxESPEvents {
		return fmt.Errorf("%s: array of %d events exceeds the limit of %d", p.format, len(objs), maxESPEvents)
	}
	var errs []error
	for i, obj := range objs {
		f := p.format
		if len(objs) > 1 { // a batch may mix providers only by mistake; judge each element
			if g := espShape(obj); g != FormatUnknown {
				f = g
			}
		}
		base := Event{EventTime: rec.Time, Line: rec.Line, MTA: string(f), MTAHost: framedHost(rec), Direction: Outbound}
		var err error
		switch f {
		case FormatSES:
			err = parseSES(obj, base, out)
		case FormatSendGrid:
			err = parseSendGrid(obj, base, out)
		case FormatMailgun:
			err = parseMailgun(obj, base, out)
		case FormatSparkPost:
			err = parseSparkPost(obj, base, out)
		case FormatPostmark:
			err = parsePostmark(obj, base, out)
		}
		if err != nil {
			if len(objs) > 1 {
				err = fmt.Errorf("element %d: %w", i, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// setRecipient fills the recipient and its domain.
func (ev *Event) setRecipient(addr string) {
	ev.Recipient = cleanAddr(addr)
	ev.RecipientDomain = domainOf(ev.Recipient)
}

// setSender fills the sender and its domain.
func (ev *Event) setSender(addr string) {
	ev.Sender = cleanAddr(addr)
	ev.SenderDomain = domainOf(ev.Sender)
}

// jsonScalar decodes a JSON string, number or boolean as text; null and absence give "".
type jsonScalar string

// UnmarshalJSON implements json.Unmarshaler.
func (f *jsonScalar) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0, bytes.Equal(b, []byte("null")):
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = jsonScalar(s)
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("want a scalar, got %.20s", b)
	default:
		*f = jsonScalar(b)
	}
	return nil
}

// espTime reads unix seconds (with fraction, as number or string) and RFC 3339.
func espTime(s jsonScalar, fallback time.Time) time.Time {
	v := strings.TrimSpace(string(s))
	if v == "" {
		return fallback
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f > 1e8 && f < 1e11 {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	}
	return fallback
}

// canonicalIP returns the canonical form of an IP address, or "".
func canonicalIP(s string) string {
	if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
		return a.String()
	}
	return ""
}

// ---- Amazon SES ----

type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Mail             struct {
		Timestamp jsonScalar `json:"timestamp"`
		MessageID string     `json:"messageId"`
		Source    string     `json:"source"`
		Headers   []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string         `json:"bounceType"`
		BounceSubType     string         `json:"bounceSubType"`
		BouncedRecipients []sesRecipient `json:"bouncedRecipients"`
		Timestamp         jsonScalar     `json:"timestamp"`
		ReportingMTA      string         `json:"reportingMTA"`
		RemoteMtaIP       string         `json:"remoteMtaIp"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients  []sesRecipient `json:"complainedRecipients"`
		Timestamp             jsonScalar     `json:"timestamp"`
		ComplaintFeedbackType string         `json:"complaintFeedbackType"`
	} `json:"complaint"`
	Delivery *struct {
		Recipients   []string   `json:"recipients"`
		Timestamp    jsonScalar `json:"timestamp"`
		SMTPResponse string     `json:"smtpResponse"`
		ReportingMTA string     `json:"reportingMTA"`
		RemoteMtaIP  string     `json:"remoteMtaIp"`
	} `json:"delivery"`
	DeliveryDelay *struct {
		DelayType         string         `json:"delayType"`
		DelayedRecipients []sesRecipient `json:"delayedRecipients"`
		Timestamp         jsonScalar     `json:"timestamp"`
		ReportingMTA      string         `json:"reportingMTA"`
	} `json:"deliveryDelay"`
}

type sesRecipient struct {
	EmailAddress   string `json:"emailAddress"`
	Status         string `json:"status"`
	Action         string `json:"action"`
	DiagnosticCode string `json:"diagnosticCode"`
}

// parseSES reads an SES notification (notificationType) or event (eventType), unwrapping
// an SNS envelope. Bounces and delays fan out per recipient; mail.sourceIp is the
// submitter's address, not a sending IP, and is not used.
func parseSES(obj json.RawMessage, ev Event, out *[]Event) error {
	var env struct {
		Type    string          `json:"Type"`
		Message json.RawMessage `json:"Message"`
	}
	if json.Unmarshal(obj, &env) == nil && env.Message != nil && env.Type == "Notification" {
		inner, err := snsInner(env.Message)
		if err != nil {
			return fmt.Errorf("ses: %w", err)
		}
		obj = inner
	}
	var n sesNotification
	if err := json.Unmarshal(obj, &n); err != nil {
		return fmt.Errorf("ses notification: %w", err)
	}
	ev.MessageID = n.Mail.MessageID
	ev.setSender(n.Mail.Source)
	ev.EventTime = espTime(n.Mail.Timestamp, ev.EventTime)
	for _, h := range n.Mail.Headers {
		if ev.Headers == nil {
			ev.Headers = map[string]string{}
		}
		ev.Headers[strings.ToLower(h.Name)] = h.Value
	}
	kind := n.NotificationType
	if kind == "" {
		kind = n.EventType
	}
	switch kind {
	case "Bounce":
		b := n.Bounce
		if b == nil {
			return errors.New("ses bounce without a bounce object")
		}
		ev.Outcome = Bounced
		if b.BounceType == "Transient" {
			ev.Outcome = Deferred
		}
		ev.VendorClass = strings.Trim(b.BounceType+"/"+b.BounceSubType, "/")
		ev.EventTime = espTime(b.Timestamp, ev.EventTime)
		ev.RemoteIP = canonicalIP(b.RemoteMtaIP)
		sesRecipients(ev, b.BouncedRecipients, out)
	case "DeliveryDelay":
		d := n.DeliveryDelay
		if d == nil {
			return errors.New("ses delivery delay without a deliveryDelay object")
		}
		ev.Outcome = Deferred
		ev.VendorClass = d.DelayType
		ev.EventTime = espTime(d.Timestamp, ev.EventTime)
		sesRecipients(ev, d.DelayedRecipients, out)
	case "Complaint":
		c := n.Complaint
		if c == nil {
			return errors.New("ses complaint without a complaint object")
		}
		ev.Outcome = Complaint
		ev.VendorClass = c.ComplaintFeedbackType
		ev.EventTime = espTime(c.Timestamp, ev.EventTime)
		sesRecipients(ev, c.ComplainedRecipients, out)
	case "Delivery":
		d := n.Delivery
		if d == nil {
			return errors.New("ses delivery without a delivery object")
		}
		ev.Outcome = Delivered
		ev.EventTime = espTime(d.Timestamp, ev.EventTime)
		ev.Response = d.SMTPResponse
		ev.RemoteIP = canonicalIP(d.RemoteMtaIP)
		ev.MTAHost = stripDiagnosticType(d.ReportingMTA)
		for _, r := range d.Recipients {
			e := ev
			e.setRecipient(r)
			*out = append(*out, e)
		}
	}
	return nil // Send, Reject, Open, Click, Rendering Failure…: no delivery outcome
}

// sesRecipients appends one event per listed recipient.
func sesRecipients(ev Event, rcpts []sesRecipient, out *[]Event) {
	for _, r := range rcpts {
		e := ev
		e.setRecipient(r.EmailAddress)
		if startsWithEnhanced(r.Status + " ") {
			e.EnhancedStatus = r.Status
		}
		e.Response = stripDiagnosticType(r.DiagnosticCode)
		*out = append(*out, e)
	}
}

// ---- SendGrid ----

type sendGridEvent struct {
	Event               string     `json:"event"`
	Email               string     `json:"email"`
	Timestamp           jsonScalar `json:"timestamp"`
	Type                string     `json:"type"`
	Status              jsonScalar `json:"status"`
	Reason              string     `json:"reason"`
	Response            string     `json:"response"`
	IP                  string     `json:"ip"`
	SMTPID              string     `json:"smtp-id"`
	SGMessageID         string     `json:"sg_message_id"`
	BounceClass         string     `json:"bounce_classification"`
	MarketingCampaignID jsonScalar `json:"marketing_campaign_id"`
}

// parseSendGrid reads one SendGrid event: bounce (type bounce or blocked), deferred,
// dropped (SendGrid's own suppression), delivered and spamreport.
func parseSendGrid(obj json.RawMessage, ev Event, out *[]Event) error {
	var e sendGridEvent
	if err := json.Unmarshal(obj, &e); err != nil {
		return fmt.Errorf("sendgrid event: %w", err)
	}
	switch e.Event {
	case "bounce", "blocked":
		ev.Outcome = Bounced
		ev.Response = e.Reason
		ev.VendorClass = e.Type
		if e.BounceClass != "" {
			ev.VendorClass = e.BounceClass
		}
	case "deferred":
		ev.Outcome = Deferred
		ev.Response = e.Response
	case "dropped":
		ev.Outcome = Bounced
		ev.Response = e.Reason
		ev.VendorClass = "dropped"
	case "delivered":
		ev.Outcome = Delivered
		ev.Response = e.Response
	case "spamreport":
		ev.Outcome = Complaint
	default:
		return nil // processed, open, click, unsubscribe, group events
	}
	ev.EventTime = espTime(e.Timestamp, ev.EventTime)
	ev.setRecipient(e.Email)
	if s := string(e.Status); startsWithEnhanced(s + " ") {
		ev.EnhancedStatus = s
	}
	ev.SendingIP = canonicalIP(e.IP)
	ev.MessageID = strings.Trim(e.SMTPID, "<> ")
	ev.QueueID = e.SGMessageID
	ev.JobID = string(e.MarketingCampaignID)
	*out = append(*out, ev)
	return nil
}

// ---- Mailgun ----

type mailgunEvent struct {
	Event     string     `json:"event"`
	Severity  string     `json:"severity"`
	Reason    string     `json:"reason"`
	Recipient string     `json:"recipient"`
	Timestamp jsonScalar `json:"timestamp"`
	ID        string     `json:"id"`
	Envelope  struct {
		Sender    string `json:"sender"`
		SendingIP string `json:"sending-ip"`
	} `json:"envelope"`
	Message struct {
		Headers map[string]jsonScalar `json:"headers"`
	} `json:"message"`
	DeliveryStatus struct {
		Code        jsonScalar `json:"code"`
		Message     string     `json:"message"`
		Description string     `json:"description"`
		MXHost      string     `json:"mx-host"`
	} `json:"delivery-status"`
	// Legacy webhooks (form fields converted to JSON).
	Code  jsonScalar `json:"code"`
	Error string     `json:"error"`
	Desc  string     `json:"description"`
}

// parseMailgun reads a Mailgun event ("event-data" or the bare event-data object): failed
// with severity permanent or temporary, delivered, complained; and the legacy bounced and
// dropped webhooks.
func parseMailgun(obj json.RawMessage, ev Event, out *[]Event) error {
	var wrap struct {
		EventData json.RawMessage `json:"event-data"`
	}
	if json.Unmarshal(obj, &wrap) == nil && len(wrap.EventData) > 0 && wrap.EventData[0] == '{' {
		obj = wrap.EventData
	}
	var e mailgunEvent
	if err := json.Unmarshal(obj, &e); err != nil {
		return fmt.Errorf("mailgun event: %w", err)
	}
	code, text := string(e.DeliveryStatus.Code), e.DeliveryStatus.Message
	if text == "" {
		text = e.DeliveryStatus.Description
	}
	switch e.Event {
	case "failed":
		ev.Outcome = Bounced
		if e.Severity == "temporary" {
			ev.Outcome = Deferred
		}
	case "bounced", "dropped": // legacy
		ev.Outcome = Bounced
		code, text = string(e.Code), e.Error
		if text == "" {
			text = e.Desc
		}
	case "delivered":
		ev.Outcome = Delivered
	case "complained":
		ev.Outcome = Complaint
	default:
		return nil // accepted, opened, clicked, unsubscribed, stored, rejected (API refusal)
	}
	ev.VendorClass = e.Reason
	ev.EventTime = espTime(e.Timestamp, ev.EventTime)
	ev.setRecipient(e.Recipient)
	ev.setSender(e.Envelope.Sender)
	ev.SendingIP = canonicalIP(e.Envelope.SendingIP)
	ev.RemoteHost = strings.TrimSuffix(e.DeliveryStatus.MXHost, ".")
	ev.QueueID = e.ID
	if id := string(e.Message.Headers["message-id"]); id != "" {
		ev.MessageID = strings.Trim(id, "<> ")
	}
	ev.Response = mailgunResponse(code, text)
	if startsWithEnhanced(code + " ") {
		ev.EnhancedStatus = code
	}
	*out = append(*out, ev)
	return nil
}

// mailgunResponse joins Mailgun's separate code and message ("550" + "5.1.1 The email
// account…") into one reply. The message may span lines; code may be an enhanced status
// ("5.1.1") or a Mailgun-internal number (498, 605).
func mailgunResponse(code, text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if strings.HasPrefix(text, "smtp;") {
		text = stripDiagnosticType(text)
	}
	if len(code) == 3 && allDigits(code) && leadingCode(text) == 0 && text != "" {
		return code + " " + text
	}
	if text == "" && len(code) == 3 && allDigits(code) {
		return code
	}
	return text
}

// ---- SparkPost ----

type sparkPostEvent struct {
	Type          string     `json:"type"`
	BounceClass   jsonScalar `json:"bounce_class"`
	ErrorCode     jsonScalar `json:"error_code"`
	RawReason     string     `json:"raw_reason"`
	Reason        string     `json:"reason"`
	RcptTo        string     `json:"rcpt_to"`
	RawRcptTo     string     `json:"raw_rcpt_to"`
	MsgFrom       string     `json:"msg_from"`
	FriendlyFrom  string     `json:"friendly_from"`
	SendingIP     string     `json:"sending_ip"`
	IPPool        string     `json:"ip_pool"`
	MessageID     string     `json:"message_id"`
	CampaignID    string     `json:"campaign_id"`
	Timestamp     jsonScalar `json:"timestamp"`
	RoutingDomain string     `json:"routing_domain"`
}

// parseSparkPost reads a SparkPost event ({"msys":{"message_event":{…}}}): bounce, delay,
// out_of_band, policy_rejection, generation_failure/rejection, delivery, spam_complaint.
// bounce_class 60 (auto-reply) is not a failure.
func parseSparkPost(obj json.RawMessage, ev Event, out *[]Event) error {
	var w struct {
		Msys map[string]json.RawMessage `json:"msys"`
	}
	if err := json.Unmarshal(obj, &w); err != nil {
		return fmt.Errorf("sparkpost event: %w", err)
	}
	raw, ok := w.Msys["message_event"]
	if !ok {
		return nil // track_event, unsubscribe_event, relay_event, ab_test_event…
	}
	var e sparkPostEvent
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("sparkpost message_event: %w", err)
	}
	switch e.Type {
	case "bounce", "out_of_band":
		ev.Outcome = Bounced
	case "delay":
		ev.Outcome = Deferred
	case "policy_rejection", "generation_failure", "generation_rejection":
		ev.Outcome = Bounced
	case "delivery":
		ev.Outcome = Delivered
	case "spam_complaint":
		ev.Outcome = Complaint
	default:
		return nil // injection, sms_status, amp events…
	}
	if e.BounceClass == "60" && ev.Outcome == Bounced {
		ev.Outcome = AutoReply
	}
	ev.VendorClass = string(e.BounceClass)
	ev.EventTime = espTime(e.Timestamp, ev.EventTime)
	rcpt := e.RawRcptTo
	if rcpt == "" {
		rcpt = e.RcptTo
	}
	ev.setRecipient(rcpt)
	ev.setSender(e.MsgFrom)
	ev.SendingIP = canonicalIP(e.SendingIP)
	ev.Pool = e.IPPool
	ev.QueueID = e.MessageID
	ev.JobID = e.CampaignID
	ev.Response = e.RawReason
	if ev.Response == "" {
		ev.Response = e.Reason
	}
	if c := string(e.ErrorCode); len(c) == 3 && allDigits(c) && leadingCode(ev.Response) == 0 {
		ev.SMTPCode, _ = strconv.Atoi(c)
	}
	*out = append(*out, ev)
	return nil
}

// ---- Postmark ----

type postmarkRecord struct {
	RecordType  string     `json:"RecordType"`
	Type        string     `json:"Type"`
	Details     string     `json:"Details"`
	Description string     `json:"Description"`
	Email       string     `json:"Email"`
	Recipient   string     `json:"Recipient"`
	From        string     `json:"From"`
	MessageID   string     `json:"MessageID"`
	BouncedAt   jsonScalar `json:"BouncedAt"`
	DeliveredAt jsonScalar `json:"DeliveredAt"`
	ReceivedAt  jsonScalar `json:"ReceivedAt"`
	Tag         string     `json:"Tag"`
}

// parsePostmark reads a Postmark webhook record: Bounce (HardBounce, SoftBounce,
// Transient… in Type), Delivery and SpamComplaint. Unsubscribe and subscribe "bounces" are
// list events, not delivery outcomes.
func parsePostmark(obj json.RawMessage, ev Event, out *[]Event) error {
	var r postmarkRecord
	if err := json.Unmarshal(obj, &r); err != nil {
		return fmt.Errorf("postmark record: %w", err)
	}
	rcpt := r.Email
	switch r.RecordType {
	case "Bounce":
		switch r.Type {
		case "Unsubscribe", "Subscribe", "ManuallyDeactivated", "InboundError", "OpenRelayTest", "Unknown":
			return nil
		case "SoftBounce", "Transient", "DnsError":
			ev.Outcome = Deferred
		case "AutoResponder":
			ev.Outcome = AutoReply
		case "SpamComplaint":
			ev.Outcome = Complaint
		default: // HardBounce, BadEmailAddress, SpamNotification, Blocked, ChallengeVerification…
			ev.Outcome = Bounced
		}
		ev.EventTime = espTime(r.BouncedAt, ev.EventTime)
	case "Delivery":
		ev.Outcome = Delivered
		rcpt = r.Recipient
		ev.EventTime = espTime(r.DeliveredAt, ev.EventTime)
	case "SpamComplaint":
		ev.Outcome = Complaint
		ev.EventTime = espTime(r.BouncedAt, ev.EventTime)
	default:
		return nil // Open, Click, SubscriptionChange, Inbound
	}
	ev.VendorClass = r.Type
	ev.setRecipient(rcpt)
	ev.setSender(r.From)
	ev.MessageID = r.MessageID
	ev.Response = stripDiagnosticType(r.Details)
	if ev.Response == "" && ev.Outcome != Delivered {
		ev.Response = r.Description
	}
	*out = append(*out, ev)
	return nil
}
