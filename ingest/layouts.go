package ingest

import "strings"

// maxLayouts bounds the hosts whose CSV column layout a parser remembers.
const maxLayouts = 10_000

// columnLayouts remembers, per logging host, the column layout a CSV log announced in its
// header line (PowerMTA's "type,timeLogged,…", Exchange's "#Fields:"). Lines of several hosts
// interleave in one Kafka partition, and the header comes once per file, so the layout is
// kept per host and saved with the State: after a restart the rows that follow still parse.
type columnLayouts struct {
	byHost map[string]map[string]int // host → lower-cased column name → index
}

// set records host's layout from its column names; the first of duplicate names wins.
func (l *columnLayouts) set(host string, names []string) {
	if l.byHost == nil {
		l.byHost = map[string]map[string]int{}
	}
	if _, ok := l.byHost[host]; !ok && len(l.byHost) >= maxLayouts {
		clear(l.byHost) // a header line comes with every new file: the layouts come back
	}
	cols := make(map[string]int, len(names))
	for i, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if _, dup := cols[n]; !dup && n != "" {
			cols[n] = i
		}
	}
	l.byHost[strings.Clone(host)] = cols
}

// get returns host's layout, or nil when no header line of that host was seen.
func (l *columnLayouts) get(host string) map[string]int { return l.byHost[host] }

// saveAux returns the layouts, for State.Save.
func (l *columnLayouts) saveAux() ([]byte, error) { return gobBytes(l.byHost) }

// restoreAux replaces the layouts with what saveAux wrote.
func (l *columnLayouts) restoreAux(b []byte) error {
	var m map[string]map[string]int
	if err := fromGob(b, &m); err != nil {
		return err
	}
	l.byHost = m
	return nil
}
