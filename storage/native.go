package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/ch-go/proto"
)

// nativeBatch encodes rows of delivery_events as one block of ClickHouse's Native format:
// columns built in Go, LowCardinality dictionaries included, so the engine copies columns
// instead of parsing text. Inserting it through file() is 4-5 times faster than JSONEachRow
// on the embedded engine (see BENCHMARKS.md). A nativeBatch is reused between batches.
type nativeBatch struct {
	input proto.Input
	buf   proto.Buffer

	eventTime                                                        *proto.ColDateTime64
	lc                                                               map[string]*proto.ColLowCardinality[string]
	str                                                              map[string]*proto.ColStr
	smtpCode                                                         *proto.ColUInt16
	lists                                                            *proto.ColArr[string]
	notification                                                     *proto.ColBool
	sourceLine, recordIndex                                          *proto.ColUInt32
	partition                                                        *proto.ColInt32
	offset                                                           *proto.ColInt64
	mta, mtaHost, mtaInstance, direction, outcome, senderDomain      *proto.ColLowCardinality[string]
	customer, recipientDomain, sendingIP, pool, remoteHost, remoteIP *proto.ColLowCardinality[string]
	enhanced, phase, category, class, party, provider, providerCode  *proto.ColLowCardinality[string]
	listedIP, scope, rule, jobID, vendorClass, topic                 *proto.ColLowCardinality[string]
	queueID, messageID, sender, recipient, response                  *proto.ColStr
}

// eventStructure is the file() structure of a Native block of eventColumns.
var eventStructure string

func init() {
	types := map[string]string{"event_time": "DateTime64(3, 'UTC')", "queue_id": "String", "message_id": "String",
		"sender": "String", "recipient": "String", "response": "String", "smtp_code": "UInt16",
		"blocklist_providers": "Array(LowCardinality(String))", "notification": "Bool", "source_line": "UInt32",
		"kafka_partition": "Int32", "kafka_offset": "Int64", "record_index": "UInt32"}
	parts := make([]string, len(eventColumns))
	for i, c := range eventColumns {
		t, ok := types[c]
		if !ok {
			t = "LowCardinality(String)"
		}
		parts[i] = c + " " + t
	}
	eventStructure = strings.Join(parts, ", ")
}

func newNativeBatch() *nativeBatch {
	n := &nativeBatch{}
	lc := func() *proto.ColLowCardinality[string] { return new(proto.ColStr).LowCardinality() }
	n.eventTime = new(proto.ColDateTime64).WithPrecision(proto.PrecisionMilli).WithLocation(time.UTC)
	n.mta, n.mtaHost, n.mtaInstance, n.direction, n.outcome, n.senderDomain = lc(), lc(), lc(), lc(), lc(), lc()
	n.customer, n.recipientDomain, n.sendingIP, n.pool, n.remoteHost, n.remoteIP = lc(), lc(), lc(), lc(), lc(), lc()
	n.enhanced, n.phase, n.category, n.class, n.party, n.provider, n.providerCode = lc(), lc(), lc(), lc(), lc(), lc(), lc()
	n.listedIP, n.scope, n.rule, n.jobID, n.vendorClass, n.topic = lc(), lc(), lc(), lc(), lc(), lc()
	n.queueID, n.messageID, n.sender, n.recipient, n.response = new(proto.ColStr), new(proto.ColStr), new(proto.ColStr), new(proto.ColStr), new(proto.ColStr)
	n.smtpCode, n.notification = new(proto.ColUInt16), new(proto.ColBool)
	n.lists = proto.NewArray[string](new(proto.ColStr).LowCardinality())
	n.sourceLine, n.recordIndex, n.partition, n.offset = new(proto.ColUInt32), new(proto.ColUInt32), new(proto.ColInt32), new(proto.ColInt64)
	cols := map[string]proto.ColInput{
		"event_time": n.eventTime, "mta": n.mta, "mta_host": n.mtaHost, "mta_instance": n.mtaInstance,
		"queue_id": n.queueID, "message_id": n.messageID, "direction": n.direction, "outcome": n.outcome,
		"sender": n.sender, "sender_domain": n.senderDomain, "customer": n.customer, "recipient": n.recipient,
		"recipient_domain": n.recipientDomain, "sending_ip": n.sendingIP, "pool": n.pool, "remote_host": n.remoteHost,
		"remote_ip": n.remoteIP, "smtp_code": n.smtpCode, "enhanced_status": n.enhanced, "smtp_phase": n.phase,
		"response": n.response, "category": n.category, "bounce_class": n.class, "action_party": n.party,
		"provider": n.provider, "provider_code": n.providerCode, "blocklist_providers": n.lists,
		"listed_ip": n.listedIP, "throttle_scope": n.scope, "rule": n.rule, "notification": n.notification,
		"job_id": n.jobID, "vendor_class": n.vendorClass, "source_line": n.sourceLine, "kafka_topic": n.topic,
		"kafka_partition": n.partition, "kafka_offset": n.offset, "record_index": n.recordIndex,
	}
	for _, c := range eventColumns {
		n.input = append(n.input, proto.InputColumn{Name: c, Data: cols[c]})
	}
	return n
}

// encode builds the block of rows into n.buf.
func (n *nativeBatch) encode(rows []Row, priv privacy, now time.Time) error {
	n.input.Reset()
	for i := range rows {
		r := &rows[i]
		e := &r.Event
		n.eventTime.Append(eventTime(e.EventTime, now))
		n.mta.Append(e.MTA)
		n.mtaHost.Append(e.MTAHost)
		n.mtaInstance.Append(e.MTAInstance)
		n.queueID.Append(validUTF8(e.QueueID))
		n.messageID.Append(validUTF8(e.MessageID))
		n.direction.Append(string(e.Direction))
		n.outcome.Append(string(e.Outcome))
		n.sender.Append(validUTF8(e.Sender))
		n.senderDomain.Append(e.SenderDomain)
		n.customer.Append(e.Customer)
		n.recipient.Append(validUTF8(priv.recipient(e.Recipient)))
		n.recipientDomain.Append(e.RecipientDomain)
		n.sendingIP.Append(e.SendingIP)
		n.pool.Append(e.Pool)
		n.remoteHost.Append(e.RemoteHost)
		n.remoteIP.Append(e.RemoteIP)
		code := e.SMTPCode
		if code < 0 || code > 65535 {
			code = 0
		}
		n.smtpCode.Append(uint16(code))
		n.enhanced.Append(e.EnhancedStatus)
		n.phase.Append(e.SMTPPhase)
		n.response.Append(validUTF8(e.Response))
		n.category.Append(e.Category)
		n.class.Append(e.BounceClass)
		n.party.Append(e.ActionParty)
		n.provider.Append(e.Provider)
		n.providerCode.Append(e.ProviderCode)
		n.lists.Append(e.BlocklistProviders)
		n.listedIP.Append(e.ListedIP)
		n.scope.Append(e.ThrottleScope)
		n.rule.Append(e.Rule)
		n.notification.Append(e.Notification)
		n.jobID.Append(e.JobID)
		n.vendorClass.Append(e.VendorClass)
		n.sourceLine.Append(uint32(max(e.Line, 0)))
		n.topic.Append(r.Topic)
		n.partition.Append(r.Partition)
		n.offset.Append(r.Offset)
		n.recordIndex.Append(r.RecordIndex)
	}
	n.buf.Reset()
	if err := (proto.Block{Columns: len(n.input), Rows: len(rows)}).EncodeRawBlock(&n.buf, 0, n.input); err != nil {
		return fmt.Errorf("encode native block: %w", err)
	}
	return nil
}

// validUTF8 replaces invalid UTF-8 with U+FFFD, as the JSON writers do, so that stored
// text reads back the same through every client.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\ufffd")
}

// spoolDir is where Native blocks wait for the engine to read them: memory-backed /dev/shm
// when there is one.
func spoolDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

var spoolSeq atomic.Int64

// spoolPath returns a fresh file name for one block.
func spoolPath() string {
	return filepath.Join(spoolDir(), fmt.Sprintf("bouncehouse-%d-%d.native", os.Getpid(), spoolSeq.Add(1)))
}
