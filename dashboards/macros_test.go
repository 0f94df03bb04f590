package dashboards

import (
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	from := time.Date(2026, 11, 16, 8, 0, 0, 0, time.UTC)
	to := from.Add(2*time.Hour + 500*time.Millisecond)
	c := Context{From: from, To: to, Interval: 30 * time.Second, Vars: map[string][]string{
		"customer": {AllValue}, "ip": {"192.0.2.1", "192.0.2.2"}, "window": {"60"}, "q": {"it's"}, "empty": {""},
	}}
	for _, tc := range []struct{ in, want string }{
		{"WHERE $__timeFilter(event_time)", "WHERE event_time >= toDateTime(1794816000) AND event_time <= toDateTime(1794823200)"},
		{"$__timeFilter_ms(t)", "t >= fromUnixTimestamp64Milli(1794816000000) AND t <= fromUnixTimestamp64Milli(1794823200500)"},
		{"$__dateFilter(d)", "d >= toDate('2026-11-16') AND d <= toDate('2026-11-16')"},
		{"$__fromTime, $__toTime", "toDateTime(1794816000), toDateTime(1794823200)"},
		{"$__fromTime_ms", "fromUnixTimestamp64Milli(1794816000000)"},
		{"$__timeInterval(bucket) AS time", "toStartOfInterval(toDateTime(bucket), INTERVAL 30 second) AS time"},
		{"count() / $__interval_s", "count() / 30"},
		{"$__conditionalAll(customer IN (${customer:singlequote}), $customer)", "1=1"},
		{"$__conditionalAll(sending_ip IN (${ip:singlequote}), $ip)", "sending_ip IN ('192.0.2.1','192.0.2.2')"},
		{"window_min = ${window}", "window_min = 60"},
		{"x = $window", "x = 60"},
		{"(${q:sqlstring} = '' OR q = ${q:sqlstring})", "('it''s' = '' OR q = 'it''s')"},
		{"${empty:sqlstring} = ''", "'' = ''"},
		{"${__from} ${__to}", "1794816000000 1794823200500"},
		{"$__timeFilter(toDateTime(max(a, b)))", "toDateTime(max(a, b)) >= toDateTime(1794816000) AND toDateTime(max(a, b)) <= toDateTime(1794823200)"},
		{"price $ 5", "price $ 5"},
	} {
		got, err := Expand(tc.in, c)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"$__nosuch", "$unknown", "$__timeFilter(a, b)", "$__timeFilter(a", "${customer}", "${ip:json}", "$__conditionalAll(x, $nosuch)"} {
		if got, err := Expand(bad, c); err == nil {
			t.Errorf("%s: expanded to %q, want an error", bad, got)
		}
	}
}

// TestExpandIsTotal feeds Expand every prefix of a complex query: it must return, never
// panic, whatever is cut off.
func TestExpandIsTotal(t *testing.T) {
	q := "SELECT $__timeInterval(x) AS t FROM y WHERE $__conditionalAll(a IN (${a:singlequote}), $a) AND ${b:sqlstring} = 'q(' AND $__timeFilter(x)"
	c := Context{Vars: map[string][]string{"a": {"1"}, "b": {"2"}}}
	for i := range len(q) + 1 {
		_, _ = Expand(q[:i], c)
	}
	if _, err := Expand(q, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q, "$__") {
		t.Fatal("test query has no macro")
	}
}

func FuzzExpand(f *testing.F) {
	f.Add("SELECT $__timeFilter(x) WHERE $__conditionalAll(a IN (${a:singlequote}), $a)")
	f.Add("${b:sqlstring} $__interval_s $__timeInterval_ms(t)")
	f.Fuzz(func(t *testing.T, s string) {
		c := Context{Vars: map[string][]string{"a": {AllValue}, "b": {"x'y"}}}
		_, _ = Expand(s, c)
	})
}
