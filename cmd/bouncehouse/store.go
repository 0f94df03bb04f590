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
	priv, err := storage.ParsePrivacy(o.privacy)
	if err != nil {
		return storage.Config{}, usagef("--recipient-privacy: %v", err)
	}
	if o.retention <= 0 {
		return storage.Config{}, usagef("--retention-days %d: want a positive number of days", o.retention)
	}
	cfg := storage.Config{Database: o.database, RetentionDays: o.retention, Privacy: priv,
		HashSalt: os.Getenv("BOUNCEHOUSE_RECIPIENT_SALT")}
	switch {
	case o.dataDir != "":
		cfg.DataDir = o.dataDir
	case o.dsn != "":
		cfg.DSN = o.dsn
	case os.Getenv("BOUNCEHOUSE_CLICKHOUSE_DSN") != "":
		cfg.DSN = os.Getenv("BOUNCEHOUSE_CLICKHOUSE_DSN")
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
