package storage

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// server is a ClickHouse server reached with clickhouse-go/v2 over the native protocol.
type server struct {
	conn    driver.Conn
	timeout time.Duration
}

// serverOptions turns the configuration into clickhouse-go options: the DSN, LZ4
// compression unless the DSN says otherwise, and the password from the environment or a file
// when the DSN has none.
func serverOptions(cfg Config) (*clickhouse.Options, error) {
	opts, err := clickhouse.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("ClickHouse DSN: %w", err)
	}
	if opts.Compression == nil || opts.Compression.Method == clickhouse.CompressionNone {
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	}
	if opts.Auth.Password == "" {
		p, err := passwordFromEnv()
		if err != nil {
			return nil, err
		}
		opts.Auth.Password = p
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.Settings == nil {
		opts.Settings = clickhouse.Settings{}
	}
	if _, ok := opts.Settings["session_timezone"]; !ok {
		opts.Settings["session_timezone"] = "UTC"
	}
	return opts, nil
}

func openServer(ctx context.Context, cfg Config) (backend, error) {
	opts, err := serverOptions(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open ClickHouse %v: %w", opts.Addr, err)
	}
	pctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to ClickHouse %v: %w", opts.Addr, err)
	}
	return &server{conn: conn, timeout: cfg.QueryTimeout}, nil
}

func (s *server) name() string { return "server" }

func (s *server) close() error { return s.conn.Close() }

// queryContext attaches the parameters and the statement timeout.
func (s *server) queryContext(ctx context.Context, params Params, settings clickhouse.Settings) (context.Context, context.CancelFunc, error) {
	var opts []clickhouse.QueryOption
	if len(params) > 0 {
		p := make(clickhouse.Parameters, len(params))
		for name, v := range params {
			if err := checkParamName(name); err != nil {
				return nil, nil, err
			}
			text, err := paramText(v)
			if err != nil {
				return nil, nil, fmt.Errorf("query parameter %s: %w", name, err)
			}
			p[name] = text
		}
		opts = append(opts, clickhouse.WithParameters(p))
	}
	if len(settings) > 0 {
		opts = append(opts, clickhouse.WithSettings(settings))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	return clickhouse.Context(ctx, opts...), cancel, nil
}

func (s *server) exec(ctx context.Context, sql string, params Params) error {
	qctx, cancel, err := s.queryContext(ctx, params, nil)
	if err != nil {
		return err
	}
	defer cancel()
	return s.conn.Exec(qctx, sql)
}

func (s *server) query(ctx context.Context, sql string, params Params) (*Result, error) {
	qctx, cancel, err := s.queryContext(ctx, params, nil)
	if err != nil {
		return nil, err
	}
	defer cancel()
	rows, err := s.conn.Query(qctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	res := &Result{Columns: make([]Column, len(types))}
	for i, ct := range types {
		res.Columns[i] = Column{Name: ct.Name(), Type: ct.DatabaseTypeName()}
	}
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read row %d: %w", len(res.Rows)+1, err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = normalize(reflect.ValueOf(d).Elem())
		}
		res.Rows = append(res.Rows, row)
	}
	return res, rows.Err()
}

// normalize turns a scanned clickhouse-go value into the Go value of Result.
func normalize(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return normalize(v.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.Bool:
		return v.Bool()
	case reflect.String:
		return v.String()
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return string(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = normalize(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			out[fmt.Sprint(normalize(it.Key()))] = normalize(it.Value())
		}
		return out
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			return t.UTC()
		}
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	return v.Interface()
}

// insertSettings make a batch safe to retry.
func insertSettings(token string) clickhouse.Settings {
	st := clickhouse.Settings{"async_insert": 0}
	if token != "" {
		st["insert_deduplication_token"] = token
	}
	return st
}

func (s *server) insertEvents(ctx context.Context, table string, rows []Row, token string, priv privacy) error {
	qctx, cancel, err := s.queryContext(ctx, nil, insertSettings(token))
	if err != nil {
		return err
	}
	defer cancel()
	batch, err := s.conn.PrepareBatch(qctx, "INSERT INTO "+table+" ("+strings.Join(eventColumns, ", ")+")")
	if err != nil {
		return err
	}
	defer batch.Abort()
	now := time.Now()
	for i := range rows {
		if err := batch.Append(eventValues(&rows[i], priv, now)...); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return batch.Send()
}

// eventValues are a row's values in the order of eventColumns, in the Go types the
// columns take.
func eventValues(r *Row, priv privacy, now time.Time) []any {
	e := &r.Event
	code := e.SMTPCode
	if code < 0 || code > 65535 {
		code = 0
	}
	lists := e.BlocklistProviders
	if lists == nil {
		lists = []string{}
	}
	return []any{
		eventTime(e.EventTime, now), e.MTA, e.MTAHost, e.MTAInstance, e.QueueID, e.MessageID,
		string(e.Direction), string(e.Outcome), e.Sender, e.SenderDomain, e.Customer,
		priv.recipient(e.Recipient), e.RecipientDomain, e.SendingIP, e.Pool, e.RemoteHost, e.RemoteIP,
		uint16(code), e.EnhancedStatus, e.SMTPPhase, e.Response, e.Category, e.BounceClass,
		e.ActionParty, e.Provider, e.ProviderCode, lists, e.ListedIP, e.ThrottleScope, e.Rule,
		e.Notification, e.JobID, e.VendorClass, uint32(max(e.Line, 0)), r.Topic, r.Partition,
		r.Offset, r.RecordIndex,
	}
}

func (s *server) insertUnparsed(ctx context.Context, table string, recs []Unparsed, token string) error {
	qctx, cancel, err := s.queryContext(ctx, nil, insertSettings(token))
	if err != nil {
		return err
	}
	defer cancel()
	batch, err := s.conn.PrepareBatch(qctx, "INSERT INTO "+table+" ("+strings.Join(unparsedColumns, ", ")+")")
	if err != nil {
		return err
	}
	defer batch.Abort()
	for i := range recs {
		u := &recs[i]
		if err := batch.Append(u.Source, u.Topic, u.Partition, u.Offset, uint32(max(u.Line, 0)), u.Err, u.Raw); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return batch.Send()
}

func (s *server) insertState(ctx context.Context, table, topic string, partition int32, offset int64, state string) error {
	qctx, cancel, err := s.queryContext(ctx, nil, insertSettings(""))
	if err != nil {
		return err
	}
	defer cancel()
	batch, err := s.conn.PrepareBatch(qctx, "INSERT INTO "+table+" (kafka_topic, kafka_partition, kafka_offset, state)")
	if err != nil {
		return err
	}
	defer batch.Abort()
	if err := batch.Append(topic, partition, offset, state); err != nil {
		return err
	}
	return batch.Send()
}
