package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/bouncehouse/bouncehouse/ingest"
	"github.com/bouncehouse/bouncehouse/storage"
)

// maxRawBytes bounds the raw text kept of an unparsed record.
const maxRawBytes = 64 << 10

// worker consumes one partition for one generation of the group.
type worker struct {
	p         *Pipeline
	gen       *kafka.Generation
	dialer    *kafka.Dialer
	topic     string
	kind      Kind
	partition int
	committed int64 // the group's committed offset at assignment (or FirstOffset)

	proc      *ingest.Processor
	watermark int64 // events of records at or below it are stored already
	evs       []ingest.Event
	rows      []storage.Row
	unparsed  []storage.Unparsed
	lines     []RawLine
	lastRead  int64 // offset of the last record processed, -1 before the first
	lastDone  int64 // offset of the last record committed
	batchAt   time.Time
	stateAt   time.Time
	inflight  *batch // the batch being stored, nil when none
	releasing bool   // the partition is being given up: the last flush saves the state
	// spare slices of the last stored batch, reused for the next one
	spareRows     []storage.Row
	spareUnparsed []storage.Unparsed
	spareLines    []RawLine
	stateOff      int64 // offset the saved state is as of
	labelPart     string
	// the partition's metrics, looked up once: a label lookup per record costs more than
	// parsing some lines
	records, parseErrors, dropped prometheus.Counter
	lag, stateEntries             prometheus.Gauge
	// flushCtx ends when the batch being read is due; one per batch, not per record
	flushCtx    context.Context
	flushCancel context.CancelFunc
	flushDue    time.Time
}

// fetchContext returns the context a fetch runs under: ctx when nothing is pending, else
// one that ends when the pending batch is due, so that a quiet partition still flushes.
func (w *worker) fetchContext(ctx context.Context) context.Context {
	if !w.pending() {
		return ctx
	}
	due := w.batchAt.Add(w.p.cfg.FlushInterval)
	if w.flushCtx == nil || !due.Equal(w.flushDue) {
		w.releaseFetchContext()
		w.flushCtx, w.flushCancel = context.WithDeadline(ctx, due)
		w.flushDue = due
	}
	return w.flushCtx
}

// releaseFetchContext ends the batch's fetch context, if any.
func (w *worker) releaseFetchContext() {
	if w.flushCancel != nil {
		w.flushCancel()
		w.flushCtx, w.flushCancel = nil, nil
	}
}

// run is the partition's loop; it returns when the generation ends (rebalance) or the
// pipeline stops, after storing and committing what it has read.
func (w *worker) run(ctx context.Context) {
	w.labelPart = strconv.Itoa(w.partition)
	m := w.p.metrics
	w.records, w.parseErrors, w.dropped = m.records.WithLabelValues(w.topic), m.parseErrors.WithLabelValues(w.topic), m.dropped.WithLabelValues(w.topic)
	w.lag, w.stateEntries = m.lag.WithLabelValues(w.topic, w.labelPart), m.stateEntries.WithLabelValues(w.topic, w.labelPart)
	defer w.releaseFetchContext()
	log := w.p.log.With("topic", w.topic, "partition", w.partition)
	start, err := w.setup(ctx)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("partition setup failed", "err", err)
		}
		return
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: w.p.cfg.Kafka.Brokers, Dialer: w.dialer, Topic: w.topic,
		Partition: w.partition, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 250 * time.Millisecond, QueueCapacity: 1000,
		ReadBackoffMin: 100 * time.Millisecond, ReadBackoffMax: 2 * time.Second})
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		log.Error("seek", "offset", start, "err", err)
		return
	}
	log.Debug("consuming partition", "from", start, "watermark", w.watermark, "state_entries", w.proc.State().Len())
	for {
		msg, err := r.FetchMessage(w.fetchContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				w.finish(log)
				return
			}
			if errors.Is(err, context.DeadlineExceeded) {
				w.flush(ctx, log)
				continue
			}
			log.Warn("read failed; retrying", "err", err)
			if !sleep(ctx, time.Second) {
				w.finish(log)
				return
			}
			continue
		}
		w.handle(msg)
		if len(w.rows) >= w.p.cfg.BatchSize || w.pending() && time.Since(w.batchAt) >= w.p.cfg.FlushInterval {
			w.flush(ctx, log)
		}
	}
}

// setup reads the partition's watermark and saved state and returns where to start reading:
// after the saved state's offset when there is one (records up to the watermark are then
// re-read to rebuild correlation, their events dropped), else the committed offset.
func (w *worker) setup(ctx context.Context) (int64, error) {
	w.lastRead, w.lastDone, w.stateOff = -1, -1, -1
	for attempt := 0; ; attempt++ {
		start, err := w.resume(ctx)
		if err == nil {
			return start, nil
		}
		w.p.setStoreErr(err)
		w.p.log.Warn("partition setup: store unavailable; retrying", "topic", w.topic, "partition", w.partition, "err", err)
		if !sleep(ctx, backoff(attempt)) {
			return 0, ctx.Err()
		}
	}
}

// resume reads the watermark and the saved state from the store.
func (w *worker) resume(ctx context.Context) (int64, error) {
	w.proc = w.p.newProcessor()
	wm, err := w.p.store.Watermarks(ctx, w.topic)
	if err != nil {
		return 0, err
	}
	w.watermark = -1
	if v, ok := wm[int32(w.partition)]; ok {
		w.watermark = v
	}
	off, blob, err := w.p.store.LoadState(ctx, w.topic, int32(w.partition))
	switch {
	case err == nil:
		if rerr := w.proc.State().Restore(bytes.NewReader(blob)); rerr != nil {
			w.p.log.Warn("saved state unreadable; starting without it", "topic", w.topic, "partition", w.partition, "err", rerr)
			w.proc = w.p.newProcessor()
			break
		}
		w.stateOff, w.lastDone = off, off
		return off + 1, nil
	case !errors.Is(err, storage.ErrNoState):
		return 0, err
	}
	if w.committed >= 0 {
		w.lastDone = w.committed - 1
		return w.committed, nil
	}
	return kafka.FirstOffset, nil
}

func (w *worker) pending() bool {
	return len(w.rows) > 0 || len(w.unparsed) > 0 || w.lastRead > w.lastDone
}

// handle parses one record into rows (or an unparsed row).
func (w *worker) handle(msg kafka.Message) {
	w.records.Inc()
	if !w.pending() {
		w.batchAt = time.Now()
	}
	w.lastRead = msg.Offset
	if msg.HighWaterMark > 0 {
		w.lag.Set(float64(msg.HighWaterMark - msg.Offset - 1))
	}
	replay := msg.Offset <= w.watermark
	kind := w.kind
	if kind == KindAuto {
		kind = sniffKind(msg.Value)
	}
	fail := func(line int, raw string, err error) {
		w.parseErrors.Inc()
		if replay {
			return
		}
		if len(raw) > maxRawBytes {
			raw = raw[:maxRawBytes]
		}
		w.unparsed = append(w.unparsed, storage.Unparsed{Source: string(kind), Topic: w.topic, Partition: int32(w.partition),
			Offset: msg.Offset, Line: line, Err: err.Error(), Raw: raw})
	}
	index := uint32(0)
	add := func(evs []ingest.Event, text string) {
		for i := range evs {
			ev := &evs[i]
			if ev.MTAHost == "" && len(msg.Key) > 0 {
				ev.MTAHost = string(msg.Key)
			}
			if replay {
				w.dropped.Inc()
				continue
			}
			w.rows = append(w.rows, storage.Row{Event: *ev, Topic: w.topic, Partition: int32(w.partition),
				Offset: msg.Offset, RecordIndex: index})
			index++
			if w.p.sink != nil {
				w.lines = append(w.lines, RawLine{Time: ev.EventTime, Text: text, MTA: ev.MTA, MTAHost: ev.MTAHost,
					Outcome: string(ev.Outcome), Category: ev.Category})
			}
		}
	}
	switch kind {
	case KindBounceEmails:
		evs, err := w.proc.Message(msg.Value, w.evs[:0])
		w.evs = evs
		if err != nil && len(evs) == 0 {
			fail(0, string(msg.Value), err)
			return
		}
		add(evs, "bounce email "+firstMessageID(msg.Value))
	case KindESPEvents:
		rec := ingest.Record{Message: string(bytes.TrimSpace(msg.Value)), JSON: true, Time: msg.Time}
		evs, err := w.proc.Record(&rec, ingest.FormatAuto, w.evs[:0])
		w.evs = evs
		if err != nil {
			fail(0, rec.Message, err)
		}
		add(evs, rec.Message)
	default:
		value := msg.Value
		for n := 1; len(value) > 0; n++ {
			var line []byte
			if i := bytes.IndexByte(value, '\n'); i >= 0 {
				line, value = value[:i], value[i+1:]
			} else {
				line, value = value, nil
			}
			line = bytes.TrimRight(line, "\r")
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			text := string(line)
			evs, err := w.proc.HostLine(string(msg.Key), text, n, ingest.FormatAuto, w.evs[:0])
			w.evs = evs
			if err != nil {
				fail(n, text, err)
			}
			add(evs, text)
		}
	}
}

// batch is a cut batch: its rows, what it holds up to, and the state as of then when a
// save is due.
type batch struct {
	rows     []storage.Row
	unparsed []storage.Unparsed
	lines    []RawLine
	lastRead int64  // offset of the last record whose events it holds
	state    []byte // the correlation state as of lastRead, when a save is due; else nil
	done     chan bool
}

// flush cuts the batch and stores it in the background while the partition reads on, so
// that parsing overlaps the insert. At most one batch is in flight: flush first waits for
// the previous one, then commits it. While the store fails, the insert is retried with
// backoff and the next flush waits, so the partition holds at most two batches.
func (w *worker) flush(ctx context.Context, log *slog.Logger) bool {
	if !w.settle(ctx, log) {
		return false
	}
	if len(w.rows) == 0 && len(w.unparsed) == 0 && w.lastRead <= w.lastDone && (!w.releasing || w.lastRead <= w.stateOff) {
		return true
	}
	b := &batch{rows: w.rows, unparsed: w.unparsed, lines: w.lines, lastRead: w.lastRead, done: make(chan bool, 1)}
	if time.Since(w.stateAt) >= w.p.cfg.StateInterval {
		var buf bytes.Buffer
		if err := w.proc.State().Save(&buf); err != nil {
			log.Warn("save state", "err", err)
		} else {
			b.state = buf.Bytes()
			w.stateAt = time.Now()
		}
	}
	w.stateEntries.Set(float64(w.proc.State().Len()))
	w.rows, w.unparsed, w.lines = w.spareRows[:0], w.spareUnparsed[:0], w.spareLines[:0]
	w.batchAt = time.Now()
	w.inflight = b
	go func() { b.done <- w.store(ctx, b, log) }()
	return true
}

// settle waits for the batch in flight; once it is stored it saves its state (when one was
// taken) and commits its offset. It reports false when the batch could not be stored.
func (w *worker) settle(ctx context.Context, log *slog.Logger) bool {
	b := w.inflight
	if b == nil {
		return true
	}
	w.inflight = nil
	if !<-b.done {
		// Not stored: put the rows back in front so that nothing is lost from this run;
		// the next owner re-reads them otherwise.
		w.rows = append(b.rows, w.rows...)
		w.unparsed = append(b.unparsed, w.unparsed...)
		w.lines = append(b.lines, w.lines...)
		return false
	}
	if h := w.p.hooks.afterStore; h != nil {
		h()
		if ctx.Err() != nil && w.p.hooks.crash.Load() {
			return false
		}
	}
	if b.state != nil {
		if err := w.p.store.SaveState(ctx, w.topic, int32(w.partition), b.lastRead, b.state); err != nil {
			log.Warn("save state", "err", err)
		} else {
			w.stateOff = b.lastRead
		}
	}
	w.commit(b.lastRead, log)
	w.spareRows, w.spareUnparsed, w.spareLines = b.rows[:0], b.unparsed[:0], b.lines[:0]
	return true
}

// store inserts a batch until it is stored or ctx ends.
func (w *worker) store(ctx context.Context, b *batch, log *slog.Logger) bool {
	m := w.p.metrics
	for attempt := 0; ; attempt++ {
		start := time.Now()
		var err error
		if f := w.p.hooks.storeFault; f != nil {
			err = f()
		}
		if err == nil {
			err = w.p.store.InsertEvents(ctx, b.rows, storage.BatchToken("events", b.rows))
		}
		if err == nil {
			err = w.p.store.InsertUnparsed(ctx, b.unparsed, unparsedToken(b.unparsed))
		}
		if err == nil {
			w.p.setStoreErr(nil)
			if len(b.rows) > 0 {
				m.batchSize.Observe(float64(len(b.rows)))
				m.insertTime.Observe(time.Since(start).Seconds())
			}
			countEvents(m.events, w.topic, b.rows)
			m.lastStored.WithLabelValues(w.topic).SetToCurrentTime()
			if w.p.sink != nil {
				for _, l := range b.lines {
					w.p.sink.Push(l)
				}
			}
			return true
		}
		m.insertErrors.Inc()
		w.p.setStoreErr(err)
		log.Warn("store failed; retrying the batch", "events", len(b.rows), "attempt", attempt+1, "err", err)
		if !sleep(ctx, backoff(attempt)) {
			return false
		}
	}
}

func (w *worker) commit(offset int64, log *slog.Logger) {
	if offset <= w.lastDone {
		return
	}
	if err := w.gen.CommitOffsets(map[string]map[int]int64{w.topic: {w.partition: offset + 1}}); err != nil {
		// The generation ended (rebalance): the next owner re-reads from the last commit and
		// drops what is stored by watermark.
		log.Warn("commit offsets", "offset", offset+1, "err", err)
		return
	}
	w.lastDone = offset
	w.p.metrics.commits.WithLabelValues(w.topic).Inc()
}

// finish stores what is in flight and what is left, saves the state and commits when the
// partition is given up (rebalance or shutdown), with a deadline of its own.
func (w *worker) finish(log *slog.Logger) {
	if w.p.hooks.crash.Load() {
		if w.inflight != nil {
			<-w.inflight.done // a killed process's insert may or may not have landed
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.settle(ctx, log)
	w.stateAt, w.releasing = time.Time{}, true // save the state with the last batch
	if !w.flush(ctx, log) || !w.settle(ctx, log) {
		log.Warn("partition given up with its batch unstored; the next owner re-reads it", "events", len(w.rows))
		return
	}
	log.Debug("partition released", "offset", w.lastRead+1)
}

// unparsedToken is the deduplication token of a batch of unparsed records.
func unparsedToken(us []storage.Unparsed) string {
	if len(us) == 0 {
		return ""
	}
	return fmt.Sprintf("unparsed;%s/%d:%d-%d:%d", us[0].Topic, us[0].Partition, us[0].Offset, us[len(us)-1].Offset, len(us))
}

// sniffKind decides what a record of an auto topic holds: an RFC 5322 message starts with
// a header field and has a blank line ending its header; anything else is log lines (or
// ESP JSON, which the log framing recognises).
func sniffKind(v []byte) Kind {
	if ingest.StartsWithHeaderField(v) && (bytes.Contains(v, []byte("\n\n")) || bytes.Contains(v, []byte("\r\n\r\n"))) {
		return KindBounceEmails
	}
	return KindMTALogs
}

// firstMessageID returns the Message-ID of a raw message for the Loki line, or "".
func firstMessageID(v []byte) string {
	head := v
	if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
		head = head[:i]
	}
	for _, line := range bytes.Split(head, []byte("\n")) {
		if len(line) > 11 && bytes.EqualFold(line[:11], []byte("message-id:")) {
			return string(bytes.TrimSpace(line[11:]))
		}
	}
	return ""
}

// backoff is the wait before retry attempt n: 100 ms doubling to 10 s.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n, 7)
	return min(d, 10*time.Second)
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// countEvents adds a stored batch to the events counter, one label lookup per outcome and
// category rather than one per event.
func countEvents(c *prometheus.CounterVec, topic string, rows []storage.Row) {
	type key struct{ outcome, category string }
	n := map[key]int{}
	for i := range rows {
		n[key{string(rows[i].Outcome), rows[i].Category}]++
	}
	for k, v := range n {
		c.WithLabelValues(topic, k.outcome, k.category).Add(float64(v))
	}
}
