package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/bouncehouse/bouncehouse/storage"
)

// storeOptions are the flags of every command that touches the store.
type storeOptions struct {
	dataDir   string
	dsn       string
	database  string
	retention int
	privacy   string
}

// defaultDataDir is the embedded engine's data directory when no store is named.
const defaultDataDir = "./bouncehouse-data"

func (o *storeOptions) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data", "", "data directory of the embedded ClickHouse engine (default "+defaultDataDir+" when no --clickhouse is given); wins over --clickhouse")
	f.StringVar(&o.dsn, "clickhouse", "", "ClickHouse server DSN, e.g. clickhouse://user@host:9440/bouncehouse?secure=true (default $BOUNCEHOUSE_CLICKHOUSE_DSN); password from the DSN, $BOUNCEHOUSE_CLICKHOUSE_PASSWORD or $BOUNCEHOUSE_CLICKHOUSE_PASSWORD_FILE")
	f.StringVar(&o.database, "database", storage.DefaultDatabase, "database holding the schema")
	f.IntVar(&o.retention, "retention-days", storage.DefaultRetentionDays, "days events, rollups and unparsed records are kept")
	f.StringVar(&o.privacy, "recipient-privacy", "keep", "what is stored of recipient addresses: keep, hash or domain_only (the domain is always kept)")
}

// config resolves which store the flags name: --data wins, then --clickhouse, then
// $BOUNCEHOUSE_CLICKHOUSE_DSN, then the default data directory.
func (o *storeOptions) config() (storage.Config, error) {
	dsn := o.dsn
	if dsn == "" {
		dsn = os.Getenv("BOUNCEHOUSE_CLICKHOUSE_DSN")
	}
	return storeConfig(o.dataDir, dsn, o.database, o.retention, o.privacy)
}

// storeConfig builds the storage configuration: a data directory wins over a DSN, and with
// neither the embedded engine uses the default data directory.
func storeConfig(dataDir, dsn, database string, retentionDays int, privacy string) (storage.Config, error) {
	priv, err := storage.ParsePrivacy(privacy)
	if err != nil {
		return storage.Config{}, usagef("recipient privacy: %v", err)
	}
	if retentionDays <= 0 {
		return storage.Config{}, usagef("retention of %d days: want a positive number of days", retentionDays)
	}
	cfg := storage.Config{Database: database, RetentionDays: retentionDays, Privacy: priv,
		HashSalt: os.Getenv("BOUNCEHOUSE_RECIPIENT_SALT")}
	switch {
	case dataDir != "":
		cfg.DataDir = dataDir
	case dsn != "":
		cfg.DSN = dsn
	default:
		cfg.DataDir = defaultDataDir
	}
	return cfg, nil
}

// open opens the store the flags name.
func (o *storeOptions) open(ctx context.Context, mod func(*storage.Config)) (*storage.Store, error) {
	cfg, err := o.config()
	if err != nil {
		return nil, err
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := storage.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	return s, nil
}
