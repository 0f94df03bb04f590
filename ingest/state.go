package ingest

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// StateOptions bound the correlation state.
type StateOptions struct {
	// TTL is how long a queue entry lives after it was last seen. It must be at least the
	// MTAs' maximal queue lifetime (Postfix: 5 days by default). Zero means 6 days.
	TTL time.Duration
	// MaxEntries bounds memory: past it the least recently seen entries are evicted
	// (approximately, by sampling). Zero means 2,000,000 (about 300 MB at most).
	MaxEntries int
}

// queueKey identifies a queue entry: queue ids are per MTA instance and are reused.
type queueKey struct {
	Host, Instance, QID string
}

// stateKey is the stored form of a queueKey: host and instance interned into one number.
type stateKey struct {
	Stream uint32
	QID    string
}

// deferredRcpt is a recipient still waiting in a queue, remembered for the expiry fan-out.
type deferredRcpt struct {
	Recipient  string
	RemoteHost string // interned
	Enhanced   string // of the last deferral; interned
}

// queueEntry is what the correlation state knows of one queued message. Strings are kept
// short: one million open entries must fit in a few hundred megabytes.
type queueEntry struct {
	Sender       string
	HasSender    bool // qmgr's from= was seen (the sender may be empty: a bounce)
	MessageID    string
	SASLUser     string
	SendingIP    string // local address of the last outgoing connection, when the log says (Sendmail); interned
	Notification bool   // this queue entry is an NDR/DSN our MTA generated
	Deferred     []deferredRcpt
	Seen         int64 // unix seconds of the last record that touched the entry
}

// State is the correlation state of the log parsers: Postfix queue ids to sender, Message-ID
// and SASL user, the recipients still deferred, and which queue entries are notifications.
// It is keyed by host and instance, bounded in memory, expires entries after a TTL, and can
// be saved and restored so that it survives a restart. It is not safe for concurrent use;
// one consumer owns one State.
type State struct {
	opts    StateOptions
	entries map[stateKey]*queueEntry
	streams map[[2]string]uint32 // host, instance → stream number
	names   [][2]string          // stream number → host, instance
	strs    map[string]string    // interned senders, hosts and codes
	now     int64                // the latest record time seen (unix seconds): log time, not wall time
	ops     int
	aux     map[string]auxState // parser-owned state saved with this one, by parser name
	pending map[string][]byte   // restored aux state of parsers not attached yet
}

// auxState is correlation state a parser keeps itself (OpenSMTPD's inbound sessions,
// Haraka's open outbound items) and that is saved and restored with the State.
type auxState interface {
	saveAux() ([]byte, error)
	restoreAux([]byte) error
}

// attach registers a parser's own state under name, and hands it what an earlier Restore
// read for that name, if anything (a state that does not decode is dropped with a warning:
// it only holds connections in flight).
func (s *State) attach(name string, a auxState) {
	if s.aux == nil {
		s.aux = map[string]auxState{}
	}
	s.aux[name] = a
	if b, ok := s.pending[name]; ok {
		delete(s.pending, name)
		if err := a.restoreAux(b); err != nil {
			slog.Warn("dropped saved parser state", "parser", name, "err", err)
		}
	}
}

// maxInterned bounds the string intern table of a State.
const maxInterned = 200_000

// intern returns a shared copy of s. Values taken from a log line are substrings of it:
// storing them as they are would keep whole lines alive.
func (s *State) intern(v string) string {
	if v == "" {
		return ""
	}
	if x, ok := s.strs[v]; ok {
		return x
	}
	c := strings.Clone(v)
	if len(s.strs) < maxInterned {
		s.strs[c] = c
	}
	return c
}

func (s *State) key(k queueKey) stateKey {
	hk := [2]string{k.Host, k.Instance}
	id, ok := s.streams[hk]
	if !ok {
		hk = [2]string{strings.Clone(k.Host), strings.Clone(k.Instance)}
		id = uint32(len(s.names))
		s.streams[hk] = id
		s.names = append(s.names, hk)
	}
	return stateKey{Stream: id, QID: k.QID}
}

// NewState returns an empty correlation state.
func NewState(opts StateOptions) *State {
	if opts.TTL <= 0 {
		opts.TTL = 6 * 24 * time.Hour
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 2_000_000
	}
	return &State{opts: opts, entries: map[stateKey]*queueEntry{}, streams: map[[2]string]uint32{}, strs: map[string]string{}}
}

// Len returns the number of open queue entries.
func (s *State) Len() int { return len(s.entries) }

// advance moves the state's clock to t (log time) and expires old entries now and then.
func (s *State) advance(t time.Time) {
	if !t.IsZero() && t.Unix() > s.now {
		s.now = t.Unix()
	}
	s.ops++
	if s.ops%4096 == 0 {
		s.expire()
	}
}

func (s *State) expire() {
	cutoff := s.now - int64(s.opts.TTL/time.Second)
	for k, e := range s.entries {
		if e.Seen < cutoff {
			delete(s.entries, k)
		}
	}
}

// get returns the entry for k, creating it when create is set.
func (s *State) get(qk queueKey, create bool) *queueEntry {
	k := s.key(qk)
	e := s.entries[k]
	if e == nil && create {
		if len(s.entries) >= s.opts.MaxEntries {
			s.evict()
		}
		e = &queueEntry{}
		k.QID = strings.Clone(k.QID)
		s.entries[k] = e
	}
	if e != nil {
		e.Seen = s.now
	}
	return e
}

// evict drops about 1% of the entries, the oldest of random samples.
func (s *State) evict() {
	s.expire()
	target := len(s.entries) - s.opts.MaxEntries + s.opts.MaxEntries/100 + 1
	for target > 0 && len(s.entries) > 0 {
		var oldestKey stateKey
		oldest := int64(1<<62 - 1)
		n := 0
		for k, e := range s.entries { // map order is random: a sample
			if e.Seen < oldest {
				oldest, oldestKey = e.Seen, k
			}
			if n++; n >= 16 {
				break
			}
		}
		delete(s.entries, oldestKey)
		target--
	}
}

func (s *State) remove(k queueKey) { delete(s.entries, s.key(k)) }

// stateFile is the saved form of a State.
type stateFile struct {
	Version int
	Now     int64
	Keys    []queueKey
	Entries []queueEntry
	Aux     map[string][]byte // parser name → its own saved state
}

// stateVersion is the version Save writes; Restore also reads version 1 (no parser state).
const stateVersion = 2

// Save writes the state to w, for a later Restore.
func (s *State) Save(w io.Writer) error {
	f := stateFile{Version: stateVersion, Now: s.now, Keys: make([]queueKey, 0, len(s.entries)),
		Entries: make([]queueEntry, 0, len(s.entries))}
	for k, e := range s.entries {
		n := s.names[k.Stream]
		f.Keys = append(f.Keys, queueKey{Host: n[0], Instance: n[1], QID: k.QID})
		f.Entries = append(f.Entries, *e)
	}
	if len(s.aux) > 0 {
		f.Aux = make(map[string][]byte, len(s.aux))
		for name, a := range s.aux {
			b, err := a.saveAux()
			if err != nil {
				return fmt.Errorf("save %s state: %w", name, err)
			}
			f.Aux[name] = b
		}
	}
	if err := gob.NewEncoder(w).Encode(&f); err != nil {
		return fmt.Errorf("save correlation state: %w", err)
	}
	return nil
}

// Restore replaces the state with what Save wrote.
func (s *State) Restore(r io.Reader) error {
	var f stateFile
	if err := gob.NewDecoder(r).Decode(&f); err != nil {
		return fmt.Errorf("restore correlation state: %w", err)
	}
	if f.Version != stateVersion && f.Version != 1 {
		return fmt.Errorf("restore correlation state: version %d, want %d", f.Version, stateVersion)
	}
	if len(f.Keys) != len(f.Entries) {
		return fmt.Errorf("restore correlation state: %d keys for %d entries", len(f.Keys), len(f.Entries))
	}
	s.entries = make(map[stateKey]*queueEntry, len(f.Keys))
	s.streams, s.names, s.strs = map[[2]string]uint32{}, nil, map[string]string{}
	s.now = f.Now
	for i, k := range f.Keys {
		e := f.Entries[i]
		e.Sender, e.SendingIP = s.intern(e.Sender), s.intern(e.SendingIP)
		s.entries[s.key(k)] = &e
	}
	s.expire()
	s.pending = nil
	for name, b := range f.Aux {
		a, ok := s.aux[name]
		if !ok {
			if s.pending == nil {
				s.pending = map[string][]byte{}
			}
			s.pending[name] = b
			continue
		}
		if err := a.restoreAux(b); err != nil {
			return fmt.Errorf("restore %s state: %w", name, err)
		}
	}
	return nil
}

// gobBytes encodes v with gob, for an auxState.
func gobBytes(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fromGob decodes what gobBytes wrote into v.
func fromGob(b []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(b)).Decode(v)
}
