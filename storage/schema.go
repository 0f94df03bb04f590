package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/bouncehouse/bouncehouse/classify"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned schema step: migrations/NNNN_name.sql.
type migration struct {
	Version int
	Name    string
	text    string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", n)
		}
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{Version: v, Name: name, text: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations with version %d", out[i].Version)
		}
	}
	return out, nil
}

// layout is what the migration templates are rendered with.
type layout struct {
	DB            string
	Cluster       string
	RetentionDays int
}

func quoteIdent(s string) string { return "`" + s + "`" }

// local is the name data is stored in: x, or x_local on a cluster.
func (l layout) local(name string) string {
	if l.Cluster != "" {
		return name + "_local"
	}
	return name
}

// table is the qualified name data is stored in: db.x, or db.x_local on a cluster.
func (l layout) table(name string) string { return quoteIdent(l.DB) + "." + quoteIdent(l.local(name)) }

// view is the qualified name to read from: db.x (the Distributed table on a cluster).
func (l layout) view(name string) string { return quoteIdent(l.DB) + "." + quoteIdent(name) }

// onCluster is " ON CLUSTER name" on a cluster, else "".
func (l layout) onCluster() string {
	if l.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + quoteIdent(l.Cluster)
}

// engine is engine ("Name" or "Name(args)"), or on a cluster its Replicated variant with a
// per-shard replication path.
func (l layout) engine(engine, table string) string {
	return l.replicated(engine, "/clickhouse/tables/{shard}/"+l.DB+"/"+table)
}

// engineGlobal is like engine with one replication path for all shards: every node holds
// all the rows (reference data, the migration ledger).
func (l layout) engineGlobal(engine, table string) string {
	return l.replicated(engine, "/clickhouse/tables/global/"+l.DB+"/"+table)
}

func (l layout) replicated(engine, path string) string {
	if l.Cluster == "" {
		return engine
	}
	name, args, _ := strings.Cut(engine, "(")
	args = strings.TrimSuffix(args, ")")
	out := "Replicated" + name + "('" + path + "', '{replica}'"
	if args != "" {
		out += ", " + args
	}
	return out + ")"
}

// distributed is, on a cluster, the statement creating the Distributed table db.x over
// db.x_local, sharded by key; else "".
func (l layout) distributed(name, key string) string {
	if l.Cluster == "" {
		return ""
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s AS %s ENGINE = Distributed(%s, %s, %s, %s);",
		l.view(name), l.onCluster(), l.table(name), quoteIdent(l.Cluster), quoteIdent(l.DB), quoteIdent(l.local(name)), key)
}

// funcs are the template functions of the migrations: table, view, onCluster, engine,
// engineGlobal and distributed, as the methods of the same names.
func (l layout) funcs() template.FuncMap {
	return template.FuncMap{"table": l.table, "view": l.view, "onCluster": l.onCluster, "engine": l.engine,
		"engineGlobal": l.engineGlobal, "distributed": l.distributed}
}

// statements renders a migration for the layout and splits it into statements.
func (l layout) statements(m migration) ([]string, error) {
	t, err := template.New(m.Name).Funcs(l.funcs()).Option("missingkey=error").Parse(m.text)
	if err != nil {
		return nil, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, l); err != nil {
		return nil, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
	}
	return splitStatements(b.String()), nil
}

// splitStatements cuts SQL at the semicolons that end a line, dropping comment lines. The
// migrations keep semicolons out of strings and comments.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			s := strings.TrimSpace(cur.String())
			out = append(out, strings.TrimSuffix(s, ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// onlyViews reports whether every statement creates or replaces a plain view: such a
// migration holds no data, and Migrate re-runs it when its text changes.
func onlyViews(stmts []string) bool {
	for _, st := range stmts {
		if !strings.HasPrefix(strings.TrimSpace(st), "CREATE OR REPLACE VIEW ") {
			return false
		}
	}
	return len(stmts) > 0
}

// checksum identifies a migration's text, to notice one edited after it was applied.
func (m migration) checksum() string {
	h := sha256.Sum256([]byte(m.text))
	return hex.EncodeToString(h[:8])
}

// MigrateReport says what Migrate did.
type MigrateReport struct {
	Applied   []string // migrations applied now, "0001_events"
	Skipped   []string // migrations applied before
	Changed   []string // applied migrations whose text changed since (not re-run)
	Replaced  []string // applied migrations of views only whose text changed: re-run
	Retention string   // "" or what changed: "180 → 90 days"
}

// Migrate creates the database and applies the migrations not applied yet, in order; every
// statement is idempotent, so a migration cut short re-runs cleanly. It records each one in
// schema_migrations, brings the retention TTL of existing tables to the configured value,
// and refreshes the reference tables from the classifier's rule data. Running it again
// changes nothing.
func (s *Store) Migrate(ctx context.Context) (MigrateReport, error) {
	var rep MigrateReport
	l := s.layout()
	onCluster, engineGlobal := l.onCluster(), l.engineGlobal
	if err := s.b.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(l.DB)+onCluster, nil); err != nil {
		return rep, fmt.Errorf("migrate: create database: %w", err)
	}
	ledger := l.view("schema_migrations")
	if err := s.b.exec(ctx, "CREATE TABLE IF NOT EXISTS "+ledger+onCluster+
		" (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))"+
		" ENGINE = "+engineGlobal("ReplacingMergeTree", "schema_migrations")+" ORDER BY version", nil); err != nil {
		return rep, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	res, err := s.b.query(ctx, "SELECT version, checksum FROM "+ledger+" FINAL", nil)
	if err != nil {
		return rep, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	applied := map[int]string{}
	for _, r := range res.Rows {
		applied[int(asInt(r[0]))] = asString(r[1])
	}
	ms, err := migrations()
	if err != nil {
		return rep, err
	}
	for _, m := range ms {
		id := fmt.Sprintf("%04d_%s", m.Version, m.Name)
		stmts, err := l.statements(m)
		if err != nil {
			return rep, err
		}
		if sum, ok := applied[m.Version]; ok {
			switch {
			case sum == m.checksum():
				rep.Skipped = append(rep.Skipped, id)
				continue
			case !onlyViews(stmts):
				rep.Skipped = append(rep.Skipped, id)
				rep.Changed = append(rep.Changed, id)
				continue
			}
			// A migration of views only holds no data: its new text replaces the views.
			rep.Replaced = append(rep.Replaced, id)
		} else {
			rep.Applied = append(rep.Applied, id)
		}
		for i, st := range stmts {
			if err := s.b.exec(ctx, st, nil); err != nil {
				return rep, fmt.Errorf("migrate %s, statement %d: %w", id, i+1, err)
			}
		}
		if err := s.b.exec(ctx, "INSERT INTO "+ledger+" (version, name, checksum) VALUES ({v:UInt32}, {n:String}, {c:String})",
			Params{"v": m.Version, "n": m.Name, "c": m.checksum()}); err != nil {
			return rep, fmt.Errorf("migrate %s: record it: %w", id, err)
		}
	}
	if rep.Retention, err = s.applyRetention(ctx, l); err != nil {
		return rep, err
	}
	if err := s.refreshReference(ctx, l); err != nil {
		return rep, err
	}
	return rep, nil
}

// retentionTables are the tables with a retention TTL and the expression it is computed from.
var retentionTables = []struct{ table, expr string }{
	{"delivery_events", "toDateTime(event_time)"},
	{"unparsed_records", "toDateTime(ingest_time)"},
	{"rollup_ip_provider_5m", "bucket"},
	{"rollup_ip_blocklist_5m", "bucket"},
	{"rollup_customer_1h", "bucket"},
	{"rollup_provider_5m", "bucket"},
}

var ttlDays = regexp.MustCompile(`TTL .*toIntervalDay\((\d+)\)`)

// applyRetention brings the TTL of every table that has one to the configured retention.
func (s *Store) applyRetention(ctx context.Context, l layout) (string, error) {
	table, onCluster := l.table, l.onCluster()
	change := ""
	for _, t := range retentionTables {
		res, err := s.b.query(ctx, "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
			Params{"db": l.DB, "t": l.local(t.table)})
		if err != nil {
			return "", fmt.Errorf("migrate: read TTL of %s: %w", t.table, err)
		}
		if len(res.Rows) == 0 {
			continue
		}
		m := ttlDays.FindStringSubmatch(asString(res.Rows[0][0]))
		if m != nil && m[1] == strconv.Itoa(l.RetentionDays) {
			continue
		}
		if m != nil && change == "" {
			change = fmt.Sprintf("%s → %d days", m[1], l.RetentionDays)
		}
		if err := s.b.exec(ctx, fmt.Sprintf("ALTER TABLE %s%s MODIFY TTL %s + INTERVAL %d DAY DELETE",
			table(t.table), onCluster, t.expr, l.RetentionDays), nil); err != nil {
			return "", fmt.Errorf("migrate: set TTL of %s: %w", t.table, err)
		}
	}
	return change, nil
}

// customerIssues maps the categories a customer must fix on their side to the issue label
// of the misconfigured-customers view and dashboard.
var customerIssues = map[classify.Category]string{
	classify.SPFFail:             "spf",
	classify.DKIMFail:            "dkim",
	classify.DMARCFail:           "dmarc",
	classify.AuthUnauthenticated: "auth",
	classify.RelayDenied:         "relay",
	classify.SenderInvalid:       "sender",
	classify.RDNSMissing:         "rdns",
	classify.MailLoop:            "loop",
}

// refreshReference rewrites the categories and blocklists tables from the rule data.
func (s *Store) refreshReference(ctx context.Context, l layout) error {
	c, err := classify.Default()
	if err != nil {
		return fmt.Errorf("migrate: load rule data: %w", err)
	}
	table, onCluster := l.table, l.onCluster()
	var rows []string
	for _, ci := range c.CategoryInfos() {
		rows = append(rows, "("+strings.Join([]string{quoteSQL(string(ci.Name)), quoteSQL(ci.Group),
			quoteSQL(string(ci.Class)), quoteSQL(string(ci.Party)), quoteSQL(customerIssues[ci.Name]),
			quoteSQL(ci.Summary), quoteSQL(ci.Remediation)}, ", ")+")")
	}
	if err := s.replaceRows(ctx, table("categories"), onCluster,
		"(name, category_group, bounce_class, action_party, customer_issue, summary, remediation)", rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, b := range c.Blocklists() {
		rows = append(rows, "("+strings.Join([]string{quoteSQL(b.ID), quoteSQL(b.Family), quoteSQL(b.Object),
			quoteSQL(b.Delist)}, ", ")+")")
	}
	return s.replaceRows(ctx, table("blocklists"), onCluster, "(id, family, object, delist_url)", rows)
}

// replaceRows empties a reference table and fills it with rows of SQL literals built by
// quoteSQL from the embedded rule data (no user input).
func (s *Store) replaceRows(ctx context.Context, table, onCluster, cols string, rows []string) error {
	if err := s.b.exec(ctx, "TRUNCATE TABLE "+table+onCluster, nil); err != nil {
		return fmt.Errorf("migrate: empty %s: %w", table, err)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := s.b.exec(ctx, "INSERT INTO "+table+" "+cols+" VALUES "+strings.Join(rows, ", "), nil); err != nil {
		return fmt.Errorf("migrate: fill %s: %w", table, err)
	}
	return nil
}

// SchemaSQL returns the statements of every migration for the configuration (its database,
// cluster and retention), for review or for applying by other means.
func SchemaSQL(cfg Config) (string, error) {
	cfg = cfg.withDefaults()
	if !isIdent(cfg.Database) || cfg.Cluster != "" && !isIdent(cfg.Cluster) {
		return "", fmt.Errorf("schema: database %q or cluster %q is not a plain identifier", cfg.Database, cfg.Cluster)
	}
	l := layout{DB: cfg.Database, Cluster: cfg.Cluster, RetentionDays: cfg.RetentionDays}
	ms, err := migrations()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE DATABASE IF NOT EXISTS %s%s;\n\n", quoteIdent(l.DB), l.onCluster())
	for _, m := range ms {
		st, err := l.statements(m)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "-- %04d_%s\n", m.Version, m.Name)
		for _, s := range st {
			b.WriteString(s)
			b.WriteString(";\n\n")
		}
	}
	return b.String(), nil
}
