package main

import (
	"fmt"

	"github.com/bouncehouse/bouncehouse/dashboards"
	"github.com/spf13/cobra"
)

func newGrafanaCommand() *cobra.Command {
	o := dashboards.DefaultOptions()
	var out string
	var sets []string
	cmd := &cobra.Command{
		Use:   "grafana --out DIR",
		Short: "Write the Grafana provisioning: data sources, dashboards, alert rules",
		Long: `grafana writes what a Grafana 11/12 with the grafana-clickhouse-datasource plugin loads
from its provisioning directory: the ClickHouse and Loki data sources, the five bouncehouse
dashboards (NOC overview, blocked IPs, misconfigured customers, receiving providers, event
explorer) with their file provider, and the alert rules with a webhook contact point, a
notification policy and notification templates.

Point Grafana's provisioning directory (paths.provisioning, /etc/grafana/provisioning in the
official image) at DIR. Grafana reads the ClickHouse password from
$BOUNCEHOUSE_GRAFANA_CLICKHOUSE_PASSWORD and the webhook address from
$BOUNCEHOUSE_ALERT_WEBHOOK_URL. The repository's dashboards/provisioning is this command's
output with the defaults. Alert thresholds are changed with --set RULE.NAME=VALUE; the
rules and their parameters are listed in docs/dashboards.md.`,
		Example: `  bouncehouse grafana --out /etc/grafana/provisioning
  bouncehouse grafana --out prov --clickhouse-host ch.internal --clickhouse-port 9440 --loki-url ""
  bouncehouse grafana --out prov --set bh-customer-auth.threshold=0.05 --set bh-ingestion-stalled.threshold=30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out DIR is required")
			}
			if o.ClickHouseProtocol != "native" && o.ClickHouseProtocol != "http" {
				return usagef("--clickhouse-protocol %q: want native or http", o.ClickHouseProtocol)
			}
			o.Params = map[string]float64{}
			for _, s := range sets {
				k, v, err := dashboards.ParseParam(s)
				if err != nil {
					return usageError{err}
				}
				o.Params[k] = v
			}
			if _, err := dashboards.Rules(o.Params); err != nil {
				return usageError{err}
			}
			written, err := dashboards.Write(out, o)
			for _, p := range written {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write the provisioning tree to (created as needed)")
	f.StringVar(&o.Database, "database", o.Database, "database holding the bouncehouse schema")
	f.StringVar(&o.ClickHouseHost, "clickhouse-host", o.ClickHouseHost, "ClickHouse server host, as Grafana reaches it")
	f.IntVar(&o.ClickHousePort, "clickhouse-port", o.ClickHousePort, "ClickHouse server port (native 9000/9440, HTTP 8123/8443)")
	f.StringVar(&o.ClickHouseProtocol, "clickhouse-protocol", o.ClickHouseProtocol, "native or http")
	f.StringVar(&o.ClickHouseUser, "clickhouse-user", o.ClickHouseUser, "ClickHouse user of Grafana (give it readonly=1)")
	f.StringVar(&o.LokiURL, "loki-url", o.LokiURL, `Loki address for the raw-line links; "" leaves Loki out`)
	f.StringVar(&o.DashboardsPath, "dashboards-path", o.DashboardsPath, "where Grafana will find the dashboard JSON files (the provider's path)")
	f.StringArrayVar(&sets, "set", nil, "alert rule parameter RULE.NAME=VALUE, e.g. bh-customer-auth.threshold=0.05; repeatable")
	return cmd
}
