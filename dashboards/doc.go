// Package dashboards holds bouncehouse's Grafana provisioning: the data sources, the five
// dashboards (NOC overview, blocked IPs, misconfigured customers, receiving providers,
// event explorer) and the alert rules with their contact point, policy and notification
// templates.
//
// Dashboards are written as specs (spec/*.yaml: panels with their SQL) and alert rules as
// alerts.yaml; Files renders both into what Grafana 11/12 and the
// grafana-clickhouse-datasource plugin load. The same alert rules are evaluated by
// `bouncehouse alerts check`. Expand fills in the plugin's macros and Grafana's variables,
// so that every query can be run against the store outside Grafana.
package dashboards
