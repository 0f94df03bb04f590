package storage

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/bouncehouse/bouncehouse/ingest"
)

// Row is one delivery event as stored, with the lineage that makes storing exactly-once:
// the Kafka topic, partition and offset of the record that produced it and its index among
// that record's events. Events that come from files carry an empty Topic.
type Row struct {
	ingest.Event
	Topic       string
	Partition   int32
	Offset      int64
	RecordIndex uint32
}

// Unparsed is an input record that could not be parsed, kept in unparsed_records.
type Unparsed struct {
	Source    string // what was read: an input kind, a file name
	Topic     string
	Partition int32
	Offset    int64
	Line      int // 1-based line in a file, 0 for Kafka records
	Err       string
	Raw       string
}

// Params are the values of a statement's query parameters, written {name:Type} in the SQL
// (ClickHouse's server-side parameters): values never become part of the SQL text. Values
// may be strings, integers, floats, bools, time.Time (sent in UTC) and []string.
type Params map[string]any

// Column is a result column.
type Column struct {
	Name string
	Type string // ClickHouse type, e.g. "LowCardinality(String)", "DateTime64(3, 'UTC')"
}

// Result is the outcome of a query. Values are Go values whatever the engine: string,
// int64, uint64, float64, bool, time.Time (UTC), nil for NULL, []any for arrays and
// tuples, map[string]any for maps.
type Result struct {
	Columns []Column
	Rows    [][]any
}

// Maps returns the rows as maps from column name to value.
func (r *Result) Maps() []map[string]any {
	out := make([]map[string]any, len(r.Rows))
	for i, row := range r.Rows {
		m := make(map[string]any, len(row))
		for j, c := range r.Columns {
			m[c.Name] = row[j]
		}
		out[i] = m
	}
	return out
}

// backend is one engine: the embedded chDB or a server through clickhouse-go.
type backend interface {
	exec(ctx context.Context, sql string, params Params) error
	query(ctx context.Context, sql string, params Params) (*Result, error)
	insertEvents(ctx context.Context, table string, rows []Row, token string, priv privacy) error
	insertUnparsed(ctx context.Context, table string, recs []Unparsed, token string) error
	insertState(ctx context.Context, table, topic string, partition int32, offset int64, state string) error
	close() error
	name() string
}

// Store is the ClickHouse store, embedded or on a server; see Open.
type Store struct {
	b    backend
	cfg  Config
	priv privacy
}

// Open opens the store the configuration names: the embedded engine when DataDir is set,
// else the server at DSN. It does not create the schema; Migrate does.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	var b backend
	var err error
	if cfg.DataDir != "" {
		b, err = openEmbedded(cfg)
	} else {
		b, err = openServer(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	return &Store{b: b, cfg: cfg, priv: privacy{mode: cfg.Privacy, salt: cfg.HashSalt}}, nil
}

// Engine names the engine behind the store: "embedded" or "server".
func (s *Store) Engine() string { return s.b.name() }

// Database is the database that holds the schema.
func (s *Store) Database() string { return s.cfg.Database }

// Close releases the store.
func (s *Store) Close() error { return s.b.close() }

func (s *Store) layout() layout {
	return layout{DB: s.cfg.Database, Cluster: s.cfg.Cluster, RetentionDays: s.cfg.RetentionDays}
}

// maxBatchRows bounds one insert: ClickHouse writes up to max_insert_block_size rows
// (1,048,576) as one part, atomically; a larger batch could be stored in part.
const maxBatchRows = 1_000_000

// InsertEvents stores one batch of rows atomically. token identifies the batch: a retry of
// the same batch must carry the same token, and the engine then drops it, in the table and in
// every rollup. BatchToken computes one from the rows' lineage.
func (s *Store) InsertEvents(ctx context.Context, rows []Row, token string) error {
	if len(rows) == 0 {
		return nil
	}
	if len(rows) > maxBatchRows {
		return fmt.Errorf("insert events: batch of %d rows exceeds %d; split it", len(rows), maxBatchRows)
	}
	if err := s.b.insertEvents(ctx, s.layout().view("delivery_events"), rows, token, s.priv); err != nil {
		return fmt.Errorf("insert %d events: %w", len(rows), err)
	}
	return nil
}

// InsertUnparsed stores records that could not be parsed; token as for InsertEvents.
func (s *Store) InsertUnparsed(ctx context.Context, recs []Unparsed, token string) error {
	if len(recs) == 0 {
		return nil
	}
	if err := s.b.insertUnparsed(ctx, s.layout().view("unparsed_records"), recs, token); err != nil {
		return fmt.Errorf("insert %d unparsed records: %w", len(recs), err)
	}
	return nil
}

// BatchToken returns a deduplication token for a batch: its rows' topics, partitions and
// offset ranges and its size. The same records always give the same token.
func BatchToken(kind string, rows []Row) string {
	type span struct {
		min, max int64
		n        int
	}
	spans := map[string]*span{}
	var keys []string
	for i := range rows {
		k := fmt.Sprintf("%s/%d", rows[i].Topic, rows[i].Partition)
		sp := spans[k]
		if sp == nil {
			sp = &span{min: rows[i].Offset, max: rows[i].Offset}
			spans[k] = sp
			keys = append(keys, k)
		}
		sp.min, sp.max, sp.n = min(sp.min, rows[i].Offset), max(sp.max, rows[i].Offset), sp.n+1
	}
	var b strings.Builder
	b.WriteString(kind)
	for _, k := range keys {
		sp := spans[k]
		fmt.Fprintf(&b, ";%s:%d-%d:%d", k, sp.min, sp.max, sp.n)
	}
	return b.String()
}

// Watermarks returns, per partition of topic, the highest offset whose events or unparsed
// record are stored. A consumer taking a partition over drops the events of records at or
// below it.
func (s *Store) Watermarks(ctx context.Context, topic string) (map[int32]int64, error) {
	res, err := s.b.query(ctx, "SELECT kafka_partition, max(max_offset) FROM "+s.layout().view("ingest_offsets")+
		" WHERE kafka_topic = {topic:String} GROUP BY kafka_partition", Params{"topic": topic})
	if err != nil {
		return nil, fmt.Errorf("read watermarks of %s: %w", topic, err)
	}
	out := make(map[int32]int64, len(res.Rows))
	for _, r := range res.Rows {
		out[int32(asInt(r[0]))] = asInt(r[1])
	}
	return out, nil
}

// SaveState stores the correlation state of one partition's parser as of offset (the last
// record it has seen). The state is stored base64-encoded: query results travel as text.
func (s *Store) SaveState(ctx context.Context, topic string, partition int32, offset int64, state []byte) error {
	// The state goes as insert data, not as a parameter: states of many megabytes exceed
	// the limit on the size of a statement's text.
	err := s.b.insertState(ctx, s.layout().view("consumer_state"), topic, partition, offset,
		base64.StdEncoding.EncodeToString(state))
	if err != nil {
		return fmt.Errorf("save state of %s/%d: %w", topic, partition, err)
	}
	return nil
}

// ErrNoState is returned by LoadState when no state was saved for the partition.
var ErrNoState = errors.New("no saved state")

// LoadState returns the latest saved state of a partition and the offset it is as of.
func (s *Store) LoadState(ctx context.Context, topic string, partition int32) (int64, []byte, error) {
	res, err := s.b.query(ctx, "SELECT kafka_offset, state FROM "+s.layout().view("consumer_state")+
		" WHERE kafka_topic = {t:String} AND kafka_partition = {p:Int32} ORDER BY kafka_offset DESC LIMIT 1",
		Params{"t": topic, "p": partition})
	if err != nil {
		return 0, nil, fmt.Errorf("load state of %s/%d: %w", topic, partition, err)
	}
	if len(res.Rows) == 0 {
		return 0, nil, fmt.Errorf("load state of %s/%d: %w", topic, partition, ErrNoState)
	}
	state, err := base64.StdEncoding.DecodeString(asString(res.Rows[0][1]))
	if err != nil {
		return 0, nil, fmt.Errorf("load state of %s/%d: %w", topic, partition, err)
	}
	return asInt(res.Rows[0][0]), state, nil
}

// Query runs one statement and returns its result. SQL comes from the caller (the query
// command, dashboards, reports); values go in params, never into the SQL text.
func (s *Store) Query(ctx context.Context, sql string, params Params) (*Result, error) {
	res, err := s.b.query(ctx, sql, params)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return res, nil
}

// Exec runs one statement that returns nothing.
func (s *Store) Exec(ctx context.Context, sql string, params Params) error {
	if err := s.b.exec(ctx, sql, params); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	return nil
}
