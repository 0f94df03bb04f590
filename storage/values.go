package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// checkParamName accepts the names ClickHouse allows for query parameters.
func checkParamName(n string) error {
	if !isIdent(n) {
		return fmt.Errorf("query parameter name %q: want letters, digits and underscores", n)
	}
	return nil
}

// paramText is the text form of a parameter value, as ClickHouse parses it for the type
// the SQL gives ({name:Type}): the value in the escaped (TabSeparated) text format.
func paramText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return escapeText(x), nil
	case []byte:
		return escapeText(string(x)), nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case int:
		return strconv.Itoa(x), nil
	case int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.000"), nil
	case time.Duration:
		return strconv.FormatInt(int64(x/time.Second), 10), nil
	case []string:
		var b strings.Builder
		b.WriteByte('[')
		for i, s := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quoteSQL(s))
		}
		b.WriteByte(']')
		return b.String(), nil // an array's text form quotes its elements itself
	}
	return "", fmt.Errorf("query parameter of type %T is not supported", v)
}

// escapeText escapes s as a value of ClickHouse's escaped text format (TabSeparated), the
// form in which query parameter values are parsed.
func escapeText(s string) string {
	if !strings.ContainsAny(s, "\\\t\n\r\x00\b\f") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\0`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// quoteSQL returns s as a ClickHouse string literal.
func quoteSQL(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Int reads an integer value of a Result (any numeric type, or its text); 0 otherwise.
func Int(v any) int64 { return asInt(v) }

// Float reads a numeric value of a Result; ok is false for NULL and for what is not a number.
func Float(v any) (f float64, ok bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// String reads a string value of a Result; other values in their text form, NULL as "".
func String(v any) string { return asString(v) }

// asInt reads an integer result value (any numeric type, or its text).
func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case uint64:
		if x > math.MaxInt64 {
			return math.MaxInt64
		}
		return int64(x)
	case float64:
		return int64(x)
	case bool:
		if x {
			return 1
		}
		return 0
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

// asString reads a string result value; other values in their text form.
func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.000")
	}
	return fmt.Sprint(v)
}

// decodeValue turns a value of the JSON output formats into the Go value of Result for the
// ClickHouse type t.
func decodeValue(t string, raw json.RawMessage) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	t = unwrapType(t)
	switch {
	case strings.HasPrefix(t, "Array("):
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		inner := t[len("Array(") : len(t)-1]
		out := make([]any, len(items))
		for i, it := range items {
			v, err := decodeValue(inner, it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case strings.HasPrefix(t, "Tuple("):
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			// Named tuples come as objects.
			var obj map[string]json.RawMessage
			if err2 := json.Unmarshal(raw, &obj); err2 != nil {
				return nil, err
			}
			out := make([]any, 0, len(obj))
			for _, it := range obj {
				var v any
				_ = json.Unmarshal(it, &v)
				out = append(out, v)
			}
			return out, nil
		}
		elems := splitTypeArgs(t[len("Tuple(") : len(t)-1])
		out := make([]any, len(items))
		for i, it := range items {
			et := "String"
			if i < len(elems) {
				et = tupleElemType(elems[i])
			}
			v, err := decodeValue(et, it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case strings.HasPrefix(t, "Map("):
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, err
		}
		args := splitTypeArgs(t[len("Map(") : len(t)-1])
		vt := "String"
		if len(args) == 2 {
			vt = args[1]
		}
		out := make(map[string]any, len(obj))
		for k, it := range obj {
			v, err := decodeValue(vt, it)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	var s string
	quoted := len(raw) > 0 && raw[0] == '"'
	if quoted {
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
	} else {
		s = string(raw)
	}
	switch {
	case strings.HasPrefix(t, "UInt"):
		return strconv.ParseUint(s, 10, 64)
	case strings.HasPrefix(t, "Int"):
		return strconv.ParseInt(s, 10, 64)
	case strings.HasPrefix(t, "Float"), strings.HasPrefix(t, "Decimal"):
		switch s {
		case "nan":
			return math.NaN(), nil
		case "inf", "+inf":
			return math.Inf(1), nil
		case "-inf":
			return math.Inf(-1), nil
		}
		return strconv.ParseFloat(s, 64)
	case t == "Bool":
		return s == "true" || s == "1", nil
	case strings.HasPrefix(t, "DateTime"), strings.HasPrefix(t, "Date"):
		return parseCHTime(s)
	}
	if !quoted {
		var v any
		if err := json.Unmarshal(raw, &v); err == nil {
			return v, nil
		}
	}
	return s, nil
}

// unwrapType removes Nullable, LowCardinality and SimpleAggregateFunction wrappers.
func unwrapType(t string) string {
	for {
		switch {
		case strings.HasPrefix(t, "Nullable("):
			t = t[len("Nullable(") : len(t)-1]
		case strings.HasPrefix(t, "LowCardinality("):
			t = t[len("LowCardinality(") : len(t)-1]
		case strings.HasPrefix(t, "SimpleAggregateFunction("):
			args := splitTypeArgs(t[len("SimpleAggregateFunction(") : len(t)-1])
			if len(args) < 2 {
				return t
			}
			t = args[len(args)-1]
		default:
			return t
		}
	}
}

// splitTypeArgs splits "A, B(C, D), E" at its top-level commas.
func splitTypeArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// tupleElemType drops the name of a named tuple element ("a String" → "String").
func tupleElemType(e string) string {
	if i := strings.IndexByte(e, ' '); i > 0 && !strings.ContainsAny(e[:i], "(") {
		return strings.TrimSpace(e[i+1:])
	}
	return e
}

// parseCHTime parses ClickHouse's text form of Date, DateTime and DateTime64 (in UTC: the
// schema's time columns are UTC and the store's session time zone is UTC).
func parseCHTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time value %q", s)
}

// privacy applies the recipient privacy setting to a row before it is stored.
type privacy struct {
	mode Privacy
	salt string
}

// recipient returns what is stored of a recipient address.
func (p privacy) recipient(addr string) string {
	switch p.mode {
	case PrivacyDomainOnly:
		return ""
	case PrivacyHash:
		if addr == "" {
			return ""
		}
		h := sha256.Sum256([]byte(p.salt + strings.ToLower(addr)))
		return "sha256:" + hex.EncodeToString(h[:16])
	}
	return addr
}
