package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bouncehouse/bouncehouse/storage"
)

func newQueryCommand() *cobra.Command {
	so := &storeOptions{}
	var format string
	var params []string
	cmd := &cobra.Command{
		Use:   "query SQL",
		Short: "Run SQL against the store (embedded data directory or ClickHouse server)",
		Long: `query runs one SQL statement against the configured store and prints the result: an
aligned table (default), CSV with a header line, or JSON Lines (one object per row, keyed
by column name). Values go in query parameters, never into the SQL text: write {name:Type}
in the SQL and give --param name=value.

The schema: delivery_events (one row per recipient per attempt), unparsed_records, the
rollups rollup_ip_provider_5m, rollup_ip_blocklist_5m, rollup_customer_1h and
rollup_provider_5m, and the views blocked_ips_now, misconfigured_customers_now and their
parameterized forms blocked_ips(t_end, window_min) and misconfigured_customers(t_end,
window_min). Tables are in the database bouncehouse unless --database says otherwise.`,
		Example: `  bouncehouse query "SELECT * FROM bouncehouse.blocked_ips_now"
  bouncehouse query --format csv "SELECT category, count() FROM bouncehouse.delivery_events GROUP BY category"
  bouncehouse query --param ip=203.0.113.10 --format json \
    "SELECT event_time, provider, response FROM bouncehouse.delivery_events WHERE sending_ip = {ip:String} ORDER BY event_time DESC LIMIT 20"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "csv" && format != "json" {
				return usagef("--format %q: want table, csv or json", format)
			}
			p := storage.Params{}
			for _, kv := range params {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usagef("--param %q: want name=value", kv)
				}
				p[k] = v
			}
			s, err := so.open(cmd.Context(), nil)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.Query(cmd.Context(), args[0], p)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			switch format {
			case "table":
				err = writeTable(w, res)
			case "csv":
				err = writeCSV(w, res)
			default:
				err = writeJSONLines(w, res)
			}
			if err != nil {
				return fmt.Errorf("write result: %w", err)
			}
			return w.Flush()
		},
	}
	so.register(cmd)
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, csv or json (JSON Lines)")
	cmd.Flags().StringArrayVar(&params, "param", nil, "query parameter name=value for {name:Type} in the SQL; repeatable")
	return cmd
}

// cellText is a value as text for the table and CSV outputs.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		if x.Nanosecond() == 0 {
			return x.UTC().Format("2006-01-02 15:04:05")
		}
		return x.UTC().Format("2006-01-02 15:04:05.000")
	case []any, map[string]any:
		b, _ := json.Marshal(jsonValue(x))
		return string(b)
	}
	return fmt.Sprint(v)
}

// jsonValue prepares a value for JSON: times in RFC 3339.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = jsonValue(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	}
	return v
}

func writeTable(w io.Writer, res *storage.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	names := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		names[i] = c.Name
	}
	fmt.Fprintln(tw, strings.Join(names, "\t"))
	for _, r := range res.Rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(cellText(v))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "(%d rows)\n", len(res.Rows))
	return err
}

func writeCSV(w io.Writer, res *storage.Result) error {
	cw := csv.NewWriter(w)
	names := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		names[i] = c.Name
	}
	if err := cw.Write(names); err != nil {
		return err
	}
	for _, r := range res.Rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = cellText(v)
		}
		if err := cw.Write(cells); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeJSONLines(w io.Writer, res *storage.Result) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range res.Rows {
		obj := make(map[string]any, len(r))
		for i, v := range r {
			obj[res.Columns[i].Name] = jsonValue(v)
		}
		if err := enc.Encode(obj); err != nil {
			return err
		}
	}
	return nil
}
