package ingest

import (
	"fmt"
	"strings"

	"github.com/valyala/fastjson"
)

// JSON records (shipper envelopes, KumoMTA, ESP webhooks) are read with fastjson: one
// pass over the bytes, no reflection, no map of interfaces per record, and parsers reused
// from a pool. Values borrow the parser's memory, so every string that outlives the parse
// is copied out before the parser goes back to the pool.
var jsonParsers fastjson.ParserPool

// withJSONObject parses s as one JSON object and calls fn with it; the value is valid only
// during the call.
func withJSONObject(s string, fn func(v *fastjson.Value) error) error {
	p := jsonParsers.Get()
	defer jsonParsers.Put(p)
	v, err := p.Parse(s)
	if err != nil {
		return err
	}
	if v.Type() != fastjson.TypeObject {
		return fmt.Errorf("a JSON %s, not an object", v.Type())
	}
	return fn(v)
}

// jsonField returns the string at key: "" when absent or null, an error when the value
// is of another type.
func jsonField(v *fastjson.Value, key string) (string, error) {
	x := v.Get(key)
	if x == nil || x.Type() == fastjson.TypeNull {
		return "", nil
	}
	b, err := x.StringBytes()
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return string(b), nil
}

// jsonInt returns the integer at key: 0 when absent or null, an error when the value is
// not an integer.
func jsonInt(v *fastjson.Value, key string) (int, error) {
	x := v.Get(key)
	if x == nil || x.Type() == fastjson.TypeNull {
		return 0, nil
	}
	n, err := x.Int()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return n, nil
}

// jsonObject returns the object at key, nil when absent or null, an error when the value
// is of another type.
func jsonObject(v *fastjson.Value, key string) (*fastjson.Value, error) {
	x := v.Get(key)
	if x == nil || x.Type() == fastjson.TypeNull {
		return nil, nil
	}
	if x.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("%s: a JSON %s, not an object", key, x.Type())
	}
	return x, nil
}

// jsonLookup returns the first of paths that names a scalar in obj, as text: strings as
// they are, numbers as written, booleans as true or false. A path is a key (which may
// itself contain dots) or a dotted path through nested objects.
func jsonLookup(obj *fastjson.Value, paths []string) (string, bool) {
	for _, p := range paths {
		x := obj.Get(p)
		if x == nil && strings.IndexByte(p, '.') >= 0 {
			x = obj
			for rest := p; x != nil && rest != ""; {
				var part string
				part, rest, _ = strings.Cut(rest, ".")
				if x.Type() != fastjson.TypeObject {
					x = nil
					break
				}
				x = x.Get(part)
			}
		}
		if x == nil {
			continue
		}
		switch x.Type() {
		case fastjson.TypeString:
			return string(x.GetStringBytes()), true
		case fastjson.TypeNumber:
			return string(x.MarshalTo(nil)), true
		case fastjson.TypeTrue:
			return "true", true
		case fastjson.TypeFalse:
			return "false", true
		}
	}
	return "", false
}
