package storage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/bouncehouse/bouncehouse/storage/internal/chdb"
)

// embedded runs the schema in-process with chDB (libchdb.so), in a data directory.
type embedded struct {
	conn    *chdb.Conn
	mu      sync.Mutex // guards buf
	buf     []byte     // the INSERT statement being built, reused between batches
	batches sync.Pool  // of *nativeBatch: concurrent writers encode while the engine inserts
}

func openEmbedded(cfg Config) (backend, error) {
	c, err := chdb.Open(cfg.LibPath, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open embedded store in %s: %w", cfg.DataDir, err)
	}
	// The schema's times are UTC; so are the times of results.
	if _, err := c.Query("SET session_timezone = 'UTC'", ""); err != nil {
		c.Close()
		return nil, fmt.Errorf("open embedded store: %w", err)
	}
	return &embedded{conn: c}, nil
}

func (e *embedded) name() string { return "embedded" }

func (e *embedded) close() error { return e.conn.Close() }

// withParams prefixes sql with the SET statements that give its query parameters their
// values; the engine runs both in one call, so no other statement comes between.
func withParams(sql string, params Params) (string, error) {
	if len(params) == 0 {
		return sql, nil
	}
	var b strings.Builder
	for name, v := range params {
		if err := checkParamName(name); err != nil {
			return "", err
		}
		text, err := paramText(v)
		if err != nil {
			return "", fmt.Errorf("query parameter %s: %w", name, err)
		}
		b.WriteString("SET param_")
		b.WriteString(name)
		b.WriteString(" = ")
		b.WriteString(quoteSQL(text))
		b.WriteString("; ")
	}
	b.WriteString(sql)
	return b.String(), nil
}

func (e *embedded) exec(ctx context.Context, sql string, params Params) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q, err := withParams(sql, params)
	if err != nil {
		return err
	}
	_, err = e.conn.Query(q, "")
	return err
}

func (e *embedded) query(ctx context.Context, sql string, params Params) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q, err := withParams(sql, params)
	if err != nil {
		return nil, err
	}
	out, err := e.conn.Query(q, "JSONCompactEachRowWithNamesAndTypes")
	if err != nil {
		return nil, err
	}
	return parseCompactEachRow(out)
}

// parseCompactEachRow reads JSONCompactEachRowWithNamesAndTypes: a line of names, a line of
// types, then one JSON array per row.
func parseCompactEachRow(out []byte) (*Result, error) {
	res := &Result{}
	if len(bytes.TrimSpace(out)) == 0 {
		return res, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), len(out)+1)
	var names, types []string
	for n := 0; sc.Scan(); n++ {
		line := sc.Bytes()
		switch n {
		case 0:
			if err := json.Unmarshal(line, &names); err != nil {
				return nil, fmt.Errorf("result column names: %w", err)
			}
		case 1:
			if err := json.Unmarshal(line, &types); err != nil {
				return nil, fmt.Errorf("result column types: %w", err)
			}
			if len(types) != len(names) {
				return nil, errors.New("result: column names and types differ in number")
			}
			for i := range names {
				res.Columns = append(res.Columns, Column{Name: names[i], Type: types[i]})
			}
		default:
			var raw []json.RawMessage
			if err := json.Unmarshal(line, &raw); err != nil {
				return nil, fmt.Errorf("result row %d: %w", n-1, err)
			}
			if len(raw) != len(types) {
				return nil, fmt.Errorf("result row %d: %d values for %d columns", n-1, len(raw), len(types))
			}
			row := make([]any, len(raw))
			for i := range raw {
				v, err := decodeValue(types[i], raw[i])
				if err != nil {
					return nil, fmt.Errorf("result row %d, column %s: %w", n-1, names[i], err)
				}
				row[i] = v
			}
			res.Rows = append(res.Rows, row)
		}
	}
	return res, sc.Err()
}

// insertPrefix is the start of an INSERT with the settings that make retries safe.
func insertPrefix(b []byte, table string, cols []string, token string) []byte {
	b = append(b, "INSERT INTO "...)
	b = append(b, table...)
	b = append(b, " ("...)
	b = append(b, strings.Join(cols, ", ")...)
	b = append(b, ") SETTINGS async_insert = 0"...)
	if token != "" {
		b = append(b, ", insert_deduplication_token = "...)
		b = append(b, quoteSQL(token)...)
	}
	return append(b, " FORMAT JSONEachRow\n"...)
}

// insertEvents encodes the rows as a Native block in Go, spools it to a file (in memory
// where /dev/shm exists) and has the engine read it with file(): the engine then copies
// columns instead of parsing text. (Binary data cannot go inline in the statement: chDB ends
// inline data at the first blank line.) Encoding happens outside the engine's lock, so
// concurrent writers overlap it with the previous insert.
func (e *embedded) insertEvents(ctx context.Context, table string, rows []Row, token string, priv privacy) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	nb, _ := e.batches.Get().(*nativeBatch)
	if nb == nil {
		nb = newNativeBatch()
	}
	defer e.batches.Put(nb)
	if err := nb.encode(rows, priv, time.Now()); err != nil {
		return err
	}
	path := spoolPath()
	if err := os.WriteFile(path, nb.buf.Buf, 0o600); err != nil {
		return fmt.Errorf("spool batch: %w", err)
	}
	defer os.Remove(path)
	if cap(nb.buf.Buf) > maxKeptBuffer {
		nb.buf.Buf = nil
	}
	var sql strings.Builder
	sql.WriteString("INSERT INTO ")
	sql.WriteString(table)
	sql.WriteString(" (")
	sql.WriteString(strings.Join(eventColumns, ", "))
	sql.WriteString(") SETTINGS async_insert = 0")
	if token != "" {
		sql.WriteString(", insert_deduplication_token = ")
		sql.WriteString(quoteSQL(token))
	}
	sql.WriteString(" SELECT * FROM file(")
	sql.WriteString(quoteSQL(path))
	sql.WriteString(", 'Native', ")
	sql.WriteString(quoteSQL(eventStructure))
	sql.WriteString(")")
	_, err := e.conn.Query(sql.String(), "")
	return err
}

func (e *embedded) insertUnparsed(ctx context.Context, table string, recs []Unparsed, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b := insertPrefix(e.buf[:0], table, unparsedColumns, token)
	for i := range recs {
		b = appendUnparsedJSON(b, &recs[i])
	}
	e.buf = b
	return e.run(b)
}

func (e *embedded) insertState(ctx context.Context, table, topic string, partition int32, offset int64, state string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b := insertPrefix(e.buf[:0], table, []string{"kafka_topic", "kafka_partition", "kafka_offset", "state"}, "")
	b = append(b, `{"kafka_topic":`...)
	b = appendJSONString(b, topic)
	b = append(b, `,"kafka_partition":`...)
	b = strconv.AppendInt(b, int64(partition), 10)
	b = append(b, `,"kafka_offset":`...)
	b = strconv.AppendInt(b, offset, 10)
	b = appendField(b, "state", state)
	b = append(b, "}\n"...)
	e.buf = b
	return e.run(b)
}

// run executes a statement built in a byte buffer without copying it: the engine reads the
// statement only during the call.
func (e *embedded) run(stmt []byte) error {
	if len(stmt) == 0 {
		return nil
	}
	_, err := e.conn.Query(unsafe.String(&stmt[0], len(stmt)), "")
	if cap(e.buf) > maxKeptBuffer {
		e.buf = nil // one huge batch should not pin its buffer for good
	}
	return err
}

// maxKeptBuffer is the largest statement buffer kept between batches.
const maxKeptBuffer = 64 << 20
