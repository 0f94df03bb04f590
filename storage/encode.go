package storage

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// eventColumns are the columns the writer fills, in the order of encodeEvent.
var eventColumns = []string{
	"event_time", "mta", "mta_host", "mta_instance", "queue_id", "message_id", "direction", "outcome",
	"sender", "sender_domain", "customer", "recipient", "recipient_domain", "sending_ip", "pool",
	"remote_host", "remote_ip", "smtp_code", "enhanced_status", "smtp_phase", "response", "category",
	"bounce_class", "action_party", "provider", "provider_code", "blocklist_providers", "listed_ip",
	"throttle_scope", "rule", "notification", "job_id", "vendor_class", "source_line", "kafka_topic",
	"kafka_partition", "kafka_offset", "record_index",
}

// unparsedColumns are the columns of unparsed_records the writer fills.
var unparsedColumns = []string{"source", "kafka_topic", "kafka_partition", "kafka_offset", "source_line", "error", "raw"}

// eventTime is the stored time of an event: its own, or now when the source gave none.
func eventTime(t time.Time, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t.UTC()
}

// appendUnparsedJSON appends one unparsed record as a JSONEachRow line.
func appendUnparsedJSON(b []byte, u *Unparsed) []byte {
	b = append(b, `{"source":`...)
	b = appendJSONString(b, u.Source)
	b = appendField(b, "kafka_topic", u.Topic)
	b = append(b, `,"kafka_partition":`...)
	b = strconv.AppendInt(b, int64(u.Partition), 10)
	b = append(b, `,"kafka_offset":`...)
	b = strconv.AppendInt(b, u.Offset, 10)
	b = append(b, `,"source_line":`...)
	b = strconv.AppendUint(b, uint64(max(u.Line, 0)), 10)
	b = appendField(b, "error", u.Err)
	b = appendField(b, "raw", u.Raw)
	return append(b, "}\n"...)
}

func appendField(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as in
// encoding/json, so that the engine's JSON reader accepts every line.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendCHTime appends t (UTC) as ClickHouse's DateTime64(3) text: 2026-11-22 08:15:02.123.
func appendCHTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "2006-01-02 15:04:05.000")
}
