package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bouncehouse/bouncehouse/report"
)

func newReportCommand() *cobra.Command {
	so := &storeOptions{}
	var week, from, to, customer, format, out string
	cmd := &cobra.Command{
		Use:   "report (--week YYYY-Www | --from T --to T) [--customer NAME] [--format html|md|json|csv] [--out FILE]",
		Short: "Write the weekly deliverability report",
		Long: `report reads the store (embedded or server) and writes the deliverability report of a
period: delivery figures with their change on the period before, rates per receiving
provider, failures by category and by who must act, blocklist incidents with their
delisting pages, misconfigured customers with the fix, new responses, list hygiene, and
recommendations derived from all of it.

--week takes an ISO week (Monday 00:00 UTC to the next Monday); --from and --to take RFC 3339
times or dates. --customer writes the report for one customer, as an account manager sends
it. HTML is one self-contained page (inline CSS and SVG, nothing loaded from the network)
that prints well; md suits chat and tickets; json and csv are for other tools. The format
follows --out's extension unless --format says otherwise; without --out the report goes to
standard output (as Markdown by default).`,
		Example: `  bouncehouse report --week 2026-W47 --out week47.html
  bouncehouse report --week 2026-W47 --customer brightcart --format md
  bouncehouse report --from 2026-11-01 --to 2026-12-01 --format csv --out november.csv
  bouncehouse report --week 2026-W47 --clickhouse clickhouse://reader@ch:9000/bouncehouse --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var start, end time.Time
			var err error
			switch {
			case week != "" && (from != "" || to != ""):
				return usagef("give --week or --from/--to, not both")
			case week != "":
				if start, end, err = report.ISOWeek(week); err != nil {
					return usageError{err}
				}
			case from != "" && to != "":
				if start, err = parseWhen(from); err != nil {
					return usagef("--from: %v", err)
				}
				if end, err = parseWhen(to); err != nil {
					return usagef("--to: %v", err)
				}
				if !start.Before(end) {
					return usagef("--from %s is not before --to %s", from, to)
				}
			default:
				return usagef("give --week (e.g. 2026-W47) or both --from and --to")
			}
			if format == "" {
				format = strings.TrimPrefix(filepath.Ext(out), ".")
				if format == "htm" {
					format = "html"
				}
				if format == "markdown" || !slices.Contains(report.Formats, format) {
					format = "md"
				}
			}
			if !slices.Contains(report.Formats, format) {
				return usagef("--format %q: want html, md, json or csv", format)
			}
			s, err := so.open(cmd.Context(), nil)
			if err != nil {
				return err
			}
			defer s.Close()
			r, err := report.Build(cmd.Context(), s, report.Options{From: start, To: end, Customer: customer, Database: s.Database()})
			if err != nil {
				return err
			}
			var b bytes.Buffer
			if err := report.Render(&b, r, format); err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(b.Bytes())
				return err
			}
			if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%s, %s)\n", out, format, r.Period())
			return nil
		},
	}
	so.register(cmd)
	f := cmd.Flags()
	f.StringVar(&week, "week", "", "ISO week, e.g. 2026-W47")
	f.StringVar(&from, "from", "", "start of the period (RFC 3339 or YYYY-MM-DD, UTC)")
	f.StringVar(&to, "to", "", "end of the period, excluded (RFC 3339 or YYYY-MM-DD, UTC)")
	f.StringVar(&customer, "customer", "", "report on one customer only")
	f.StringVar(&format, "format", "", "html, md, json or csv (default: from --out's extension, else md)")
	f.StringVar(&out, "out", "", "file to write (default: standard output)")
	return cmd
}

// parseWhen reads an RFC 3339 time or a date (midnight UTC).
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-11-16T00:00:00Z) or a date (2026-11-16)", s)
	}
	return t, nil
}
