package scenario

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// kumoWriter writes KumoMTA log records, one JSON object per event: Delivery,
// TransientFailure, Bounce and Expiration.
type kumoWriter struct{}

type kumoEnhanced struct {
	Class   int `json:"class"`
	Subject int `json:"subject"`
	Detail  int `json:"detail"`
}

type kumoResponse struct {
	Code         int           `json:"code"`
	EnhancedCode *kumoEnhanced `json:"enhanced_code"`
	Content      string        `json:"content"`
	Command      *string       `json:"command"`
}

type kumoPeer struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

type kumoSource struct {
	Address  string  `json:"address"`
	Protocol *string `json:"protocol"`
	Server   *string `json:"server"`
}

type kumoRecord struct {
	Type                 string            `json:"type"`
	ID                   string            `json:"id"`
	Sender               string            `json:"sender"`
	Recipient            string            `json:"recipient"`
	Queue                string            `json:"queue"`
	Site                 string            `json:"site"`
	Size                 int               `json:"size"`
	Response             kumoResponse      `json:"response"`
	PeerAddress          *kumoPeer         `json:"peer_address"`
	Timestamp            int64             `json:"timestamp"`
	EventTime            string            `json:"event_time"`
	Created              int64             `json:"created"`
	CreatedTime          string            `json:"created_time"`
	NumAttempts          int               `json:"num_attempts"`
	BounceClassification string            `json:"bounce_classification"`
	EgressPool           string            `json:"egress_pool"`
	EgressSource         string            `json:"egress_source"`
	SourceAddress        *kumoSource       `json:"source_address"`
	Meta                 map[string]string `json:"meta"`
	Headers              map[string]string `json:"headers"`
	DeliveryProtocol     string            `json:"delivery_protocol"`
	NodeID               string            `json:"nodeid"`
}

const kumoNode = "3f6c2a1e-8d4b-4c1a-9e2f-5b7d0c4a9e11"

// kumoFileName is the log file of the KumoMTA host.
const kumoFileName = hostKumo + ".kumomta.jsonl"

func kumoClass(x *reply) string {
	switch x.cat {
	case "":
		return "Uncategorized"
	case catUserUnknown:
		return "InvalidRecipient"
	case catMailboxFull:
		return "QuotaIssues"
	case catIPListed:
		return "SpamBlock"
	case catSPF:
		return "AuthenticationFailed"
	case catExpired:
		return "MessageExpired"
	case catTimeout:
		return "NoAnswerFromHost"
	}
	return "Uncategorized"
}

func kumoCommand(m *message, r *rcpt, p phase) *string {
	var s string
	switch p {
	case phConnect:
		return nil
	case phMail:
		s = "MAIL FROM:<" + m.sender + ">\r\n"
	case phRcpt:
		s = "RCPT TO:<" + r.addr + ">\r\n"
	default:
		s = "."
	}
	return &s
}

func enhancedOf(enh string) *kumoEnhanced {
	p := strings.Split(enh, ".")
	if len(p) != 3 {
		return nil
	}
	n := [3]int{}
	for i, s := range p {
		for _, c := range s {
			n[i] = n[i]*10 + int(c-'0')
		}
	}
	return &kumoEnhanced{Class: n[0], Subject: n[1], Detail: n[2]}
}

func (kumoWriter) record(g *generator, m *message, r *rcpt, t time.Time, typ string, attempt int, x *reply) {
	rec := kumoRecord{Type: typ, ID: m.qid, Sender: m.sender, Recipient: r.addr,
		Queue: m.job + ":" + m.c.name + "@" + r.domain, Size: m.size,
		Timestamp: t.Unix(), EventTime: t.UTC().Format("2006-01-02T15:04:05.000Z"),
		Created: m.arrival.Unix(), CreatedTime: m.arrival.UTC().Format("2006-01-02T15:04:05.000Z"),
		NumAttempts: attempt, BounceClassification: kumoClass(x), EgressPool: m.eg.pool, EgressSource: m.eg.source,
		Meta: map[string]string{"customer": m.c.name}, Headers: map[string]string{"Message-ID": "<" + m.msgID + ">", "X-Customer-Id": m.c.name},
		NodeID: kumoNode}
	mxs := r.rcv.mxFor(r.domain)
	names := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		if !slices.Contains(names, mx.name) {
			names = append(names, mx.name)
		}
	}
	rec.Site = m.eg.source + "->" + strings.Join(names, "|")
	switch {
	case typ == "Expiration":
		rec.Response = kumoResponse{Code: 551, EnhancedCode: enhancedOf("5.4.7"),
			Content: "Next delivery time would be after the expiry time " + m.arrival.Add(m.lifetime).UTC().Format(time.RFC3339)}
	case x.local:
		rec.Response = kumoResponse{Code: 400, Content: x.flat()}
	default:
		rec.Response = kumoResponse{Code: x.code, EnhancedCode: enhancedOf(x.enh), Content: x.content(), Command: kumoCommand(m, r, x.phase)}
		rec.PeerAddress = &kumoPeer{Name: r.mx.name, Addr: r.mx.ip}
		rec.SourceAddress = &kumoSource{Address: m.eg.ip + ":" + itoa(32768+g.intn(28000))}
		rec.DeliveryProtocol = "ESMTP"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(rec) // plain strings and numbers: cannot fail
	g.emit(KindLog, hostKumo, t.UTC().Truncate(time.Millisecond), bytes.TrimRight(buf.Bytes(), "\n"))
}

func (kumoWriter) arrive(g *generator, m *message) {
	m.qid = g.uniqueID(hostKumo, func() string { return g.hex(32) })
}

func (w kumoWriter) attempt(g *generator, m *message, k int, _ time.Time, times []time.Time, rcpts []*rcpt, res []reply) {
	for i, r := range rcpts {
		x := &res[i]
		typ := "Bounce"
		switch outcomeOf(mtaKumo, x) {
		case outDelivered:
			typ = "Delivery"
		case outDeferred:
			typ = "TransientFailure"
		}
		w.record(g, m, r, times[i], typ, k, x)
	}
}

func (kumoWriter) waiting(*generator, *message, time.Time, []*rcpt) {}

func (w kumoWriter) expire(g *generator, m *message, t time.Time, rcpts []*rcpt) {
	for _, r := range rcpts {
		w.record(g, m, r, t, "Expiration", 0, &reply{cat: catExpired})
	}
}

func (kumoWriter) finish(*generator, *message, time.Time) {}
