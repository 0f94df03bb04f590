package storage

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Privacy says what is stored of a recipient address; its domain is always kept.
type Privacy string

// The recipient privacy settings.
const (
	PrivacyKeep       Privacy = "keep"        // the address as logged
	PrivacyHash       Privacy = "hash"        // a SHA-256 of the lower-cased address: countable, not readable
	PrivacyDomainOnly Privacy = "domain_only" // nothing but recipient_domain
)

// ParsePrivacy validates a privacy setting; "" means keep.
func ParsePrivacy(s string) (Privacy, error) {
	switch p := Privacy(strings.TrimSpace(s)); p {
	case "":
		return PrivacyKeep, nil
	case PrivacyKeep, PrivacyHash, PrivacyDomainOnly:
		return p, nil
	}
	return "", fmt.Errorf("recipient privacy %q: want keep, hash or domain_only", s)
}

// Config says which store to open and how the schema is laid out.
type Config struct {
	// DataDir is the embedded engine's data directory. It wins over DSN when both are set.
	DataDir string
	// DSN is a ClickHouse server address for clickhouse-go/v2, e.g.
	// clickhouse://user:password@host:9440/bouncehouse?secure=true&compress=lz4.
	// The password may instead come from BOUNCEHOUSE_CLICKHOUSE_PASSWORD or the file named by
	// BOUNCEHOUSE_CLICKHOUSE_PASSWORD_FILE.
	DSN string
	// Database holds every table and view; default "bouncehouse". Tests use one per test.
	Database string
	// Cluster, when set, makes Migrate write the ReplicatedMergeTree + Distributed variant
	// with ON CLUSTER DDL.
	Cluster string
	// RetentionDays is how long events, rollups and unparsed records are kept; default 180.
	// Migrate applies a changed value to existing tables.
	RetentionDays int
	// Privacy says what is stored of recipient addresses; default keep.
	Privacy Privacy
	// HashSalt is mixed into recipient hashes (PrivacyHash) so that they cannot be looked
	// up in a table of known addresses.
	HashSalt string
	// LibPath is the embedded engine's libchdb.so; "" finds it (CHDB_LIB, /usr/local/lib,
	// the user cache where scripts/install-libchdb.sh puts it).
	LibPath string
	// QueryTimeout bounds each statement on a server; default 5 minutes.
	QueryTimeout time.Duration
}

// DefaultDatabase is the database of the schema contract.
const DefaultDatabase = "bouncehouse"

// DefaultRetentionDays is the retention of events when none is configured.
const DefaultRetentionDays = 180

func (c Config) withDefaults() Config {
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.RetentionDays <= 0 {
		c.RetentionDays = DefaultRetentionDays
	}
	if c.Privacy == "" {
		c.Privacy = PrivacyKeep
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 5 * time.Minute
	}
	return c
}

func (c Config) validate() error {
	if !isIdent(c.Database) {
		return fmt.Errorf("database name %q: want letters, digits and underscores", c.Database)
	}
	if c.Cluster != "" && !isIdent(c.Cluster) {
		return fmt.Errorf("cluster name %q: want letters, digits and underscores", c.Cluster)
	}
	if _, err := ParsePrivacy(string(c.Privacy)); err != nil {
		return err
	}
	if c.DataDir == "" && c.DSN == "" {
		return fmt.Errorf("no store configured: give a data directory for the embedded engine or a ClickHouse DSN")
	}
	return nil
}

// isIdent reports whether s is a plain SQL identifier.
func isIdent(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// passwordFromEnv returns the ClickHouse password from BOUNCEHOUSE_CLICKHOUSE_PASSWORD or the
// file named by BOUNCEHOUSE_CLICKHOUSE_PASSWORD_FILE (a mounted secret), or "".
func passwordFromEnv() (string, error) {
	if p := os.Getenv("BOUNCEHOUSE_CLICKHOUSE_PASSWORD"); p != "" {
		return p, nil
	}
	if f := os.Getenv("BOUNCEHOUSE_CLICKHOUSE_PASSWORD_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("read ClickHouse password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}
