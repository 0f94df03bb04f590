// Package chdb runs the ClickHouse engine in-process: it binds chDB's libchdb.so
// (ClickHouse 26.5, from the npm package @chdb/lib-linux-x64-gnu@26.5.3), which it
// loads at run time with dlopen, so that a binary built with this package links
// only against -ldl and builds and runs on machines without the library; only Open
// needs it. scripts/install-libchdb.sh installs the library; LibraryPath finds it.
//
// chDB allows one storage path per process. Open with the same data directory
// returns handles that share one engine connection, which is closed when the last
// handle is closed; Open with another directory fails while a handle is open. Share
// one handle across a package's tests (TestMain) and isolate tests by database name.
//
// Queries on the shared connection run one at a time (see Conn.Query).
//
// Loading the engine does not take the process's signals from the Go runtime: the
// library is told not to install its own crash handlers, and every signal
// disposition that connecting changes is put back. The engine prints nothing to
// stdout or stderr (its logger level is "fatal").
//
// Things about chDB 26.5 that callers need to know:
//   - Do not put tables in the database "default": there an unknown table name
//     may resolve to a file of that name in the working directory.
//   - "DROP TABLE|DATABASE ... SYNC" never returns once the database has a table
//     (and blocks every later statement); drop without SYNC.
//   - SET changes the shared connection's session for every later statement and
//     every handle; prefer a SETTINGS clause on the statement.
//   - The setting async_insert is 1 by default, yet INSERTs here behave as
//     synchronous ones: they are not delayed (100 rows take ~18 ms with it on or
//     off) and are deduplicated as below either way. Say async_insert = 0 in
//     the statement to not depend on that.
//   - A retried INSERT is dropped when it carries the same
//     insert_deduplication_token and the table (and each materialized view's
//     target table) has SETTINGS non_replicated_deduplication_window = N; with
//     that window, identical INSERTs without a token are dropped too.
package chdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Version is the chDB release that scripts/install-libchdb.sh installs and that
// LibraryPath looks for in the user's cache directory.
const Version = "26.5.3"

// InstallHint is the advice in errors about a missing library.
const InstallHint = "run scripts/install-libchdb.sh (it downloads chDB " + Version +
	" once, about 167 MB, and prints the library's path), or set CHDB_LIB to an existing libchdb.so"

// ErrLibraryNotFound is returned (wrapped) by LibraryPath when libchdb.so is in
// none of the places it looks.
var ErrLibraryNotFound = errors.New("chdb: libchdb.so not found")

// ErrClosed is returned (wrapped) by Conn.Query after Conn.Close.
var ErrClosed = errors.New("chdb: connection closed")

// ErrNoCgo is returned by Open in binaries built without cgo (CGO_ENABLED=0),
// which cannot load the engine.
var ErrNoCgo = errors.New("chdb: this binary was built without cgo and cannot load libchdb.so")

// LibraryPath returns the absolute path of libchdb.so, looking where
// scripts/install-libchdb.sh does, in order: $CHDB_LIB when it names an existing
// file, /usr/local/lib/libchdb.so, and
// ${XDG_CACHE_HOME:-$HOME/.cache}/bouncehouse/chdb-<Version>/libchdb.so.
// It never downloads anything; when nothing is found the error wraps
// ErrLibraryNotFound and says how to install the library.
func LibraryPath() (string, error) {
	var tried []string
	if p := os.Getenv("CHDB_LIB"); p != "" {
		if isFile(p) {
			return filepath.Abs(p)
		}
		tried = append(tried, "CHDB_LIB="+p)
	}
	const system = "/usr/local/lib/libchdb.so"
	if isFile(system) {
		return system, nil
	}
	tried = append(tried, system)
	if cached, err := cachePath(); err == nil {
		if isFile(cached) {
			return filepath.Abs(cached)
		}
		tried = append(tried, cached)
	}
	return "", fmt.Errorf("%w (looked at %s); %s", ErrLibraryNotFound, strings.Join(tried, ", "), InstallHint)
}

// cachePath is where scripts/install-libchdb.sh puts the library:
// ${XDG_CACHE_HOME:-$HOME/.cache}/bouncehouse/chdb-<Version>/libchdb.so.
func cachePath() (string, error) {
	dir := os.Getenv("XDG_CACHE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("chdb: cache directory: %w", err)
		}
		dir = filepath.Join(home, ".cache")
	}
	return filepath.Join(dir, "bouncehouse", "chdb-"+Version, "libchdb.so"), nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// EngineError is the engine's own report of a failed statement, as returned
// (wrapped) by Conn.Query; use errors.As to get at it.
type EngineError struct {
	// Code is ClickHouse's error code, e.g. 62; 0 when the message has none.
	Code int
	// Name is ClickHouse's error name, e.g. "SYNTAX_ERROR"; "" when the message has none.
	Name string
	// Message is the engine's message, verbatim.
	Message string
}

// Error returns the engine's message.
func (e *EngineError) Error() string { return e.Message }

var (
	errorCode = regexp.MustCompile(`^Code: (\d+)\.`)
	errorName = regexp.MustCompile(`\(([A-Z][A-Z0-9_]*)\)\s*$`)
)

// newEngineError parses "Code: 62. DB::Exception: ... (SYNTAX_ERROR)".
func newEngineError(msg string) *EngineError {
	msg = strings.TrimSpace(msg)
	e := &EngineError{Message: msg}
	if m := errorCode.FindStringSubmatch(msg); m != nil {
		e.Code, _ = strconv.Atoi(m[1])
	}
	if m := errorName.FindStringSubmatch(msg); m != nil {
		e.Name = m[1]
	}
	return e
}

// Conn is a handle on the process's engine connection, from Open. Its methods
// are safe for concurrent use.
type Conn struct {
	dataDir string
	closed  atomic.Bool
}

// engine is the process-wide state: chDB allows one storage path per process.
var engine struct {
	// life guards the fields below: Open and Close hold it exclusively, queries
	// hold it shared, so a connection is never closed under a running query.
	life    sync.RWMutex
	libPath string // the library loaded, "" until one is
	handle  cConn  // the engine connection, nil when none is open
	dataDir string // the storage path of handle
	refs    int    // open Conns sharing handle
	// restoredSignals is the mask of signal dispositions put back after connecting.
	restoredSignals uint64

	// query serializes statements on the connection; see Conn.Query.
	query sync.Mutex
}

// Open loads the engine from libPath (LibraryPath's result; "" means call
// LibraryPath) and connects it to dataDir, which it creates if needed. The library
// is loaded once per process, and a later Open with a different libPath fails.
//
// chDB allows one storage path per process: while a Conn is open, Open with the
// same dataDir returns another handle on the same connection (closing one handle
// leaves the others working; the connection closes with the last), and Open with a
// different dataDir returns an error. After the last handle is closed, Open may
// connect again, to any directory.
func Open(libPath, dataDir string) (*Conn, error) {
	if libPath == "" {
		p, err := LibraryPath()
		if err != nil {
			return nil, fmt.Errorf("chdb open: %w", err)
		}
		libPath = p
	}
	lib, err := filepath.Abs(libPath)
	if err != nil {
		return nil, fmt.Errorf("chdb open: library path %q: %w", libPath, err)
	}
	if dataDir == "" {
		return nil, errors.New("chdb open: empty data directory")
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("chdb open: data directory %q: %w", dataDir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chdb open: %w", err)
	}

	engine.life.Lock()
	defer engine.life.Unlock()
	if engine.libPath == "" {
		if !isFile(lib) {
			return nil, fmt.Errorf("chdb open: %s is not a file; %s", lib, InstallHint)
		}
		if err := cLoad(lib); err != nil {
			return nil, fmt.Errorf("chdb open: load %s: %w", lib, err)
		}
		engine.libPath = lib
	} else if engine.libPath != lib {
		return nil, fmt.Errorf("chdb open: the engine is already loaded from %s, cannot load %s too", engine.libPath, lib)
	}
	if engine.handle != nil {
		if engine.dataDir != dir {
			return nil, fmt.Errorf("chdb open %s: the engine is connected to %s; chDB allows one data directory per process", dir, engine.dataDir)
		}
		engine.refs++
		return &Conn{dataDir: dir}, nil
	}
	h, restored, err := cConnect([]string{"clickhouse", "--path=" + dir})
	if err != nil {
		return nil, fmt.Errorf("chdb open %s: %w", dir, err)
	}
	engine.handle, engine.dataDir, engine.refs = h, dir, 1
	engine.restoredSignals |= restored
	return &Conn{dataDir: dir}, nil
}

// DataDir returns the absolute path of the connection's data directory ("" for
// a nil Conn).
func (c *Conn) DataDir() string {
	if c == nil {
		return ""
	}
	return c.dataDir
}

// Query runs one SQL statement and returns its output in format (a ClickHouse
// output format such as "JSONEachRow", "JSON", "TabSeparated" or "CSV"; "" means
// "TabSeparated"), copied into Go memory. Statements that return nothing (DDL,
// INSERT) return an empty slice. An INSERT may carry its data in the statement,
// e.g. "INSERT INTO t FORMAT JSONEachRow\n{...}\n{...}"; bodies of tens of MB are
// fine, and the statement is passed to the engine without a copy.
//
// When the engine rejects the statement, the error wraps an *EngineError with
// the engine's message. After Close the error wraps ErrClosed.
//
// Query is safe for concurrent use. Statements run one at a time: chDB runs one
// statement at a time on a connection anyway (a SELECT 1 sent during another
// goroutine's SELECT sleep(1) returns after it), and Query also holds a mutex
// around the call so that this does not depend on chDB. A statement that never
// returns blocks the connection for good; there is no way to cancel one.
func (c *Conn) Query(sql, format string) ([]byte, error) {
	if c == nil {
		return nil, fmt.Errorf("chdb query: %w", ErrClosed)
	}
	if strings.TrimSpace(sql) == "" {
		return nil, errors.New("chdb query: empty statement")
	}
	if format == "" {
		format = "TabSeparated"
	}
	engine.life.RLock()
	defer engine.life.RUnlock()
	if c.closed.Load() || engine.handle == nil {
		return nil, fmt.Errorf("chdb query: %w", ErrClosed)
	}
	engine.query.Lock()
	defer engine.query.Unlock()
	out, msg, err := cQuery(engine.handle, sql, format)
	if err != nil {
		return nil, fmt.Errorf("chdb query %s: %w", abbreviate(sql), err)
	}
	if msg != "" {
		return nil, fmt.Errorf("chdb query %s: %w", abbreviate(sql), newEngineError(msg))
	}
	return out, nil
}

// Close releases the handle. The engine connection closes when the last handle
// on it is closed. Closing a closed handle does nothing.
func (c *Conn) Close() error {
	if c == nil {
		return nil
	}
	engine.life.Lock()
	defer engine.life.Unlock()
	if c.closed.Swap(true) {
		return nil
	}
	engine.refs--
	if engine.refs > 0 || engine.handle == nil {
		return nil
	}
	cClose(engine.handle)
	engine.handle, engine.dataDir = nil, ""
	return nil
}

// abbreviate shortens a statement for error messages: its first line, up to 100
// bytes, so that an INSERT's data never ends up in a log.
func abbreviate(sql string) string {
	s := strings.TrimSpace(sql)
	cut := false
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s, cut = s[:i], true
	}
	if len(s) > 100 {
		i := 100
		for i > 0 && s[i]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			i--
		}
		s, cut = s[:i], true
	}
	if cut {
		s += " …"
	}
	return strconv.Quote(s)
}
