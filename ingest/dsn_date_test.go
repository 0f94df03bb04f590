package ingest

import (
	"net/mail"
	"strings"
	"testing"
	"time"
)

// TestDSNParseDate covers the date shapes bounces carry, named zones with their RFC 5322
// offsets included.
func TestDSNParseDate(t *testing.T) {
	cases := []struct {
		in   string
		want string // RFC 3339 in UTC; "" = not a date
	}{
		{"Thu, 29 Apr 2015 23:34:45 +0900 (JST)", "2015-04-29T14:34:45Z"},
		{"Thu,  2 Jul 2020 06:04:42 -0400 (EDT)", "2020-07-02T10:04:42Z"},
		{"2 Jul 2020 06:04:42 -0400", "2020-07-02T10:04:42Z"},
		{"Wed, 11 Nov 2026 14:02:11 +0100", "2026-11-11T13:02:11Z"},
		{"Thu, 29 Apr 2019 23:34:45 -0800 (PST)", "2019-04-30T07:34:45Z"},
		{"Sat, 6 Dec 2014 13:42:30 +0000 (UTC)", "2014-12-06T13:42:30Z"},
		{"Fri, 21 Oct 2016 06:58:02 GMT", "2016-10-21T06:58:02Z"},
		{"Fri, 21 Oct 2016 06:58:02 EDT", "2016-10-21T10:58:02Z"},
		{"Fri, 21 Oct 16 06:58 +0000", "2016-10-21T06:58:00Z"},
		{"Fri, 21 oct 1999 06:58:02 +0000", "1999-10-21T06:58:02Z"},
		{"1 Oct 00  0:00 +0000", "2000-10-01T00:00:00Z"},
		{"1 Oct 99 0:00 +0000", "1999-10-01T00:00:00Z"},
		{"Mon, 16 Nov 2026 10:00:00 +0000 (UTC) (UTC)", "2026-11-16T10:00:00Z"},
		{"Tue, 31 Feb 2026 10:00:00 +0000", ""},
		{"yesterday", ""},
		{"", ""},
		{"Mon, 16 Nov 2026 25:00:00 +0000", ""},
	}
	for _, c := range cases {
		got, ok := dsnParseDate(c.in)
		switch {
		case c.want == "" && ok:
			t.Errorf("dsnParseDate(%q) = %v, want no date", c.in, got)
		case c.want != "" && (!ok || got.Format(time.RFC3339) != c.want):
			t.Errorf("dsnParseDate(%q) = %v, %v; want %s", c.in, got.Format(time.RFC3339), ok, c.want)
		}
	}
}

// FuzzFastDate checks the hand-written date parser against net/mail: whenever both accept a
// date with a numeric zone, they agree on the instant.
func FuzzFastDate(f *testing.F) {
	for _, s := range []string{"Thu, 29 Apr 2015 23:34:45 +0900 (JST)", "2 Jul 2020 06:04 -0400", "Fri, 21 Oct 16 06:58:02 +0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := fastDate(s)
		if !ok || strings.ContainsAny(s, "\r\n") {
			return
		}
		want, err := mail.ParseDate(s)
		if err != nil || !strings.ContainsAny(s, "+-") {
			return
		}
		if !got.Equal(want) {
			t.Errorf("fastDate(%q) = %v, net/mail says %v", s, got, want)
		}
	})
}
