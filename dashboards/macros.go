package dashboards

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// AllValue is the value of a multi-value variable set to "All", as Grafana passes it.
const AllValue = "$__all"

// Context is what Grafana fills a query's macros and variables from: the time range, the
// interval between points and the variables' values.
type Context struct {
	From, To time.Time
	// Interval is the panel's interval between points; at least a second is used.
	Interval time.Duration
	// Vars holds the values of the dashboard variables: one for a single-value variable or
	// a text box, several for a multi-value one, []string{AllValue} for "All".
	Vars map[string][]string
}

// Expand replaces the macros of the grafana-clickhouse-datasource plugin ($__timeFilter,
// $__timeInterval, $__fromTime, $__conditionalAll and the rest) and Grafana's variables
// ($var, ${var}, ${var:singlequote}, ${var:sqlstring}, ${__from}, ${__to}) the way Grafana
// and the plugin do, so that a query can run outside Grafana: in tests and in
// `bouncehouse alerts check`. It fails on a macro or variable it does not know.
func Expand(sql string, c Context) (string, error) {
	// $__conditionalAll decides on the raw variable before anything else is replaced.
	sql, err := expandConditionalAll(sql, c)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := 0; i < len(sql); {
		j := strings.IndexByte(sql[i:], '$')
		if j < 0 {
			b.WriteString(sql[i:])
			break
		}
		b.WriteString(sql[i : i+j])
		i += j
		out, n, err := expandAt(sql[i:], c)
		if err != nil {
			return "", err
		}
		b.WriteString(out)
		i += n
	}
	return b.String(), nil
}

// expandAt expands the macro or variable at the start of s and says how many bytes it took.
func expandAt(s string, c Context) (string, int, error) {
	if strings.HasPrefix(s, "$__") {
		name := identAt(s[3:])
		n := 3 + len(name)
		var args []string
		if n < len(s) && s[n] == '(' {
			a, m, err := macroArgs(s[n:])
			if err != nil {
				return "", 0, fmt.Errorf("macro $__%s: %w", name, err)
			}
			args, n = a, n+m
		}
		out, err := macro(name, args, c)
		if err != nil {
			return "", 0, err
		}
		return out, n, nil
	}
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", 0, fmt.Errorf("unclosed variable %q", s[:min(len(s), 20)])
		}
		name, format, _ := strings.Cut(s[2:end], ":")
		out, err := variable(name, format, c)
		return out, end + 1, err
	}
	name := identAt(s[1:])
	if name == "" {
		return "$", 1, nil
	}
	out, err := variable(name, "", c)
	return out, 1 + len(name), err
}

func identAt(s string) string {
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return s[:n]
}

// macroArgs reads the parenthesized arguments that open s: it splits them on the commas
// outside nested brackets and quoted strings, and says how long the whole group is.
func macroArgs(s string) ([]string, int, error) {
	var args []string
	depth, start := 0, 1
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == '\\' {
				i++
			} else if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"' || ch == '`':
			quote = ch
		case ch == '(' || ch == '[':
			depth++
		case ch == ',' && depth == 1:
			args = append(args, strings.TrimSpace(s[start:i]))
			start = i + 1
		case ch == ')' || ch == ']':
			depth--
			if depth == 0 {
				if last := strings.TrimSpace(s[start:i]); last != "" || len(args) > 0 {
					args = append(args, last)
				}
				return args, i + 1, nil
			}
		}
	}
	return nil, 0, fmt.Errorf("unbalanced parentheses in %q", s[:min(len(s), 40)])
}

func dateTime(t time.Time) string { return "toDateTime(" + strconv.FormatInt(t.Unix(), 10) + ")" }
func dateTime64(t time.Time) string {
	return "fromUnixTimestamp64Milli(" + strconv.FormatInt(t.UnixMilli(), 10) + ")"
}
func date(t time.Time) string { return "toDate('" + t.UTC().Format("2006-01-02") + "')" }

// macro expands one of the plugin's macros.
func macro(name string, args []string, c Context) (string, error) {
	want := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("macro $__%s takes %d argument(s), got %d", name, n, len(args))
		}
		return nil
	}
	seconds := int(math.Max(c.Interval.Seconds(), 1))
	switch name {
	case "fromTime":
		return dateTime(c.From), nil
	case "toTime":
		return dateTime(c.To), nil
	case "fromTime_ms":
		return dateTime64(c.From), nil
	case "toTime_ms":
		return dateTime64(c.To), nil
	case "timeFilter":
		if err := want(1); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], dateTime(c.From), args[0], dateTime(c.To)), nil
	case "timeFilter_ms":
		if err := want(1); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], dateTime64(c.From), args[0], dateTime64(c.To)), nil
	case "dateFilter":
		if err := want(1); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], date(c.From), args[0], date(c.To)), nil
	case "dateTimeFilter", "dt":
		if err := want(2); err != nil {
			return "", err
		}
		return fmt.Sprintf("(%s >= %s AND %s <= %s) AND (%s >= %s AND %s <= %s)", args[0], date(c.From), args[0], date(c.To),
			args[1], dateTime(c.From), args[1], dateTime(c.To)), nil
	case "timeInterval":
		if err := want(1); err != nil {
			return "", err
		}
		return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", args[0], seconds), nil
	case "timeInterval_ms":
		if err := want(1); err != nil {
			return "", err
		}
		ms := int(math.Max(float64(c.Interval.Milliseconds()), 1))
		return fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", args[0], ms), nil
	case "interval_s":
		return strconv.Itoa(seconds), nil
	case "from":
		return strconv.FormatInt(c.From.UnixMilli(), 10), nil
	case "to":
		return strconv.FormatInt(c.To.UnixMilli(), 10), nil
	}
	return "", fmt.Errorf("unknown macro $__%s", name)
}

// expandConditionalAll replaces $__conditionalAll(condition, $var) by 1=1 when the
// variable is set to All (or to nothing), and by the condition otherwise.
func expandConditionalAll(sql string, c Context) (string, error) {
	const m = "$__conditionalAll"
	for {
		i := strings.Index(sql, m)
		if i < 0 {
			return sql, nil
		}
		args, n, err := macroArgs(sql[i+len(m):])
		if err != nil {
			return "", fmt.Errorf("macro $__conditionalAll: %w", err)
		}
		if len(args) != 2 {
			return "", fmt.Errorf("macro $__conditionalAll takes 2 arguments, got %d", len(args))
		}
		name := strings.Trim(strings.TrimPrefix(args[1], "$"), "{}")
		vals, ok := c.Vars[name]
		if !ok {
			return "", fmt.Errorf("$__conditionalAll on unknown variable %q", name)
		}
		repl := args[0]
		if len(vals) == 0 || len(vals) == 1 && vals[0] == AllValue {
			repl = "1=1"
		}
		sql = sql[:i] + repl + sql[i+len(m)+n:]
	}
}

// variable interpolates a dashboard variable with one of Grafana's formats.
func variable(name, format string, c Context) (string, error) {
	switch name {
	case "__from":
		return strconv.FormatInt(c.From.UnixMilli(), 10), nil
	case "__to":
		return strconv.FormatInt(c.To.UnixMilli(), 10), nil
	case "__interval_ms":
		return strconv.FormatInt(max(c.Interval.Milliseconds(), 1), 10), nil
	}
	vals, ok := c.Vars[name]
	if !ok {
		return "", fmt.Errorf("unknown variable $%s", name)
	}
	if len(vals) == 1 && vals[0] == AllValue {
		return "", fmt.Errorf("variable $%s is All: use it inside $__conditionalAll", name)
	}
	switch format {
	case "", "raw", "csv":
		return strings.Join(vals, ","), nil
	case "singlequote":
		q := make([]string, len(vals))
		for i, v := range vals {
			q[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
		}
		return strings.Join(q, ","), nil
	case "sqlstring":
		q := make([]string, len(vals))
		for i, v := range vals {
			q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		return strings.Join(q, ","), nil
	}
	return "", fmt.Errorf("variable $%s: unknown format %q", name, format)
}
