package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/bouncehouse/bouncehouse/alert"
	"github.com/bouncehouse/bouncehouse/dashboards"
)

// codeError ends the command with a given exit code; err may be nil (nothing to print).
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e codeError) Unwrap() error { return e.err }

// Exit codes of alerts check.
const (
	alertsNothing = 0
	alertsFiring  = 1
	alertsError   = 2
)

func newAlertsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Evaluate the alert rules against the store",
		Long: `alerts evaluates the alert rules that Grafana is provisioned with (dashboards/alerts.yaml:
one definition, two consumers) against the store, for cron jobs, CI and setups without
Grafana. See docs/dashboards.md for the rules and their parameters.`,
	}
	cmd.AddCommand(newAlertsCheckCommand())
	return cmd
}

func newAlertsCheckCommand() *cobra.Command {
	so := &storeOptions{}
	var since time.Duration
	var at, format, webhookFormat string
	var webhooks, sets, only []string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Print the alerts that fire now and post them to webhooks",
		Long: `check runs every alert rule's query for its lookback window ending now (or --at), as
Grafana would, prints the instances that fire, and posts them to each --webhook: a
Slack-compatible {"text": …} payload for Slack-style hooks, the evaluation as JSON
otherwise (--webhook-format forces one). Posts are retried with backoff on network errors,
429 and 5xx. --dry-run prints the payload instead of posting it.

Grafana's pending period ("for") does not apply: check reports what fires at this
evaluation, so run it from cron at the interval you want to be told at.

Exit codes: 0 nothing fires, 1 something fires, 2 error (store unreachable, bad flags,
webhook failed).`,
		Example: `  bouncehouse alerts check
  bouncehouse alerts check --since 1h --format json
  bouncehouse alerts check --clickhouse clickhouse://reader@ch:9000/bouncehouse --webhook https://hooks.slack.com/services/T/B/X
  bouncehouse alerts check --rule bh-ip-listed --set bh-ip-listed.threshold=10 --webhook https://ops.example/hook --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fail := func(err error) error { return codeError{alertsError, err} }
			if format != "text" && format != "json" {
				return fail(usagef("--format %q: want text or json", format))
			}
			if webhookFormat != "" && webhookFormat != alert.FormatSlack && webhookFormat != alert.FormatJSON {
				return fail(usagef("--webhook-format %q: want slack or json", webhookFormat))
			}
			params := map[string]float64{}
			for _, s := range sets {
				k, v, err := dashboards.ParseParam(s)
				if err != nil {
					return fail(usageError{err})
				}
				params[k] = v
			}
			rules, err := dashboards.Rules(params)
			if err != nil {
				return fail(usageError{err})
			}
			if len(only) > 0 {
				for _, uid := range only {
					if !slices.ContainsFunc(rules, func(r dashboards.Rule) bool { return r.UID == uid }) {
						return fail(usagef("--rule %q: no such rule", uid))
					}
				}
				rules = slices.DeleteFunc(rules, func(r dashboards.Rule) bool { return !slices.Contains(only, r.UID) })
			}
			when := time.Now().UTC()
			if at != "" {
				if when, err = time.Parse(time.RFC3339, at); err != nil {
					return fail(usagef("--at %q: want RFC 3339, e.g. 2026-11-16T10:00:00Z", at))
				}
			}
			s, err := so.open(cmd.Context(), nil)
			if err != nil {
				return fail(err)
			}
			defer s.Close()
			insts, err := alert.Evaluate(cmd.Context(), s, rules, alert.Options{Database: s.Database(), At: when, Window: since})
			if err != nil {
				return fail(err)
			}
			rep := alert.Report{Source: "bouncehouse", At: when, Firing: alert.Firing(insts), Evaluated: len(insts), Rules: len(rules)}
			if rep.Firing == nil {
				rep.Firing = []alert.Instance{}
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				b, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return fail(err)
				}
				fmt.Fprintln(out, string(b))
			} else {
				fmt.Fprint(out, rep.Text())
			}
			if len(rep.Firing) > 0 {
				poster := alert.Poster{}
				for _, hook := range webhooks {
					f := webhookFormat
					if f == "" {
						f = alert.FormatFor(hook)
					}
					payload, err := rep.Payload(f)
					if err != nil {
						return fail(err)
					}
					if dryRun {
						fmt.Fprintf(cmd.ErrOrStderr(), "would post to a %s webhook:\n%s\n", f, payload)
						continue
					}
					if err := poster.Post(cmd.Context(), hook, payload); err != nil {
						return fail(err)
					}
				}
				return codeError{code: alertsFiring}
			}
			return nil
		},
	}
	so.register(cmd)
	f := cmd.Flags()
	f.DurationVar(&since, "since", 0, "window to look back over, for every rule (default: each rule's own lookback, 15m or 30m)")
	f.StringVar(&at, "at", "", "evaluate as of this time (RFC 3339) instead of now")
	f.StringVar(&format, "format", "text", "output: text or json")
	f.StringArrayVar(&webhooks, "webhook", nil, "post firing alerts to this URL; repeatable (the URL is never logged)")
	f.StringVar(&webhookFormat, "webhook-format", "", "payload: slack or json (default: slack for Slack-style URLs, json otherwise)")
	f.BoolVar(&dryRun, "dry-run", false, "print the webhook payload instead of posting it")
	f.StringArrayVar(&sets, "set", nil, "alert rule parameter RULE.NAME=VALUE, e.g. bh-customer-auth.threshold=0.05; repeatable")
	f.StringArrayVar(&only, "rule", nil, "evaluate only this rule; repeatable")
	return cmd
}
