package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bouncehouse/bouncehouse/storage"
)

func newMigrateCommand() *cobra.Command {
	so := &storeOptions{}
	var cluster string
	var printOnly bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the ClickHouse schema (idempotent)",
		Long: `migrate creates the database, applies the schema migrations not applied yet (tables,
rollups kept by materialized views, the blocked-IP and misconfigured-customer views) and
records them in schema_migrations. It also brings the retention TTL to --retention-days and
refreshes the reference tables (categories with their remediation, blocklists with their
delisting pages). Running it again changes nothing.

With --cluster NAME it writes the ReplicatedMergeTree + Distributed variant with ON CLUSTER
DDL. --print writes the SQL it would run instead of running it.`,
		Example: `  bouncehouse migrate                              # embedded engine in ./bouncehouse-data
  bouncehouse migrate --clickhouse clickhouse://default@ch:9000/default
  bouncehouse migrate --cluster mail --print > schema.sql`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if printOnly {
				cfg, err := so.config()
				if err != nil {
					return err
				}
				cfg.Cluster = cluster
				sql, err := storage.SchemaSQL(cfg)
				if err != nil {
					return err
				}
				_, err = fmt.Fprint(cmd.OutOrStdout(), sql)
				return err
			}
			s, err := so.open(cmd.Context(), func(c *storage.Config) { c.Cluster = cluster })
			if err != nil {
				return err
			}
			defer s.Close()
			rep, err := s.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "schema %s on the %s engine: ", s.Database(), s.Engine())
			switch {
			case len(rep.Applied) > 0:
				fmt.Fprintf(w, "applied %s", strings.Join(rep.Applied, ", "))
				if len(rep.Skipped) > 0 {
					fmt.Fprintf(w, " (%d already applied)", len(rep.Skipped))
				}
			default:
				fmt.Fprintf(w, "up to date (%d migrations)", len(rep.Skipped))
			}
			fmt.Fprintln(w)
			if rep.Retention != "" {
				fmt.Fprintf(w, "retention changed: %s\n", rep.Retention)
			}
			for _, r := range rep.Replaced {
				fmt.Fprintf(w, "views of %s replaced by their new definition\n", r)
			}
			for _, c := range rep.Changed {
				fmt.Fprintf(w, "warning: migration %s changed since it was applied; it is not re-run\n", c)
			}
			return nil
		},
	}
	so.register(cmd)
	cmd.Flags().StringVar(&cluster, "cluster", "", "ClickHouse cluster name: ReplicatedMergeTree + Distributed tables with ON CLUSTER DDL")
	cmd.Flags().BoolVar(&printOnly, "print", false, "print the schema SQL instead of applying it")
	return cmd
}
