package projections

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"

	"github.com/reboundhq/rebound/events"
)

// Projection is one read model: the tables it owns, how they are created and migrated, and how
// a batch of events changes them.
//
// A projection is a pure function of the events into its tables: Apply writes through tx and does
// nothing else — no email, no command, no call to another service — because a projection is
// replayed from the first event on every rebuild and after a crash re-applies the batch the crash
// interrupted. Consumers with side effects are bus handlers, never projections.
type Projection interface {
	// Name is the projection's persisted identifier (its checkpoint and migrations are stored
	// under it): lower-case letters, digits and _. Never rename one.
	Name() string
	// Filters are the subject filters on EVENTS whose events the projection reads.
	Filters() []string
	// Tables lists the tables the projection owns, by logical name. A rebuild builds a fresh copy
	// of all of them and swaps them in together.
	Tables() []string
	// Migrations are the projection's schema versions, in order from version 1. They run at
	// start against the live tables and, during a rebuild, against the fresh copies.
	Migrations() []Migration
	// Apply applies a batch of events, in order, inside tx. The runtime commits tx together with
	// the projection's checkpoint, so Apply sees each event exactly once across crashes. Records
	// of types the registry does not know arrive with a nil Message; Apply skips them and any
	// event it does not handle. An error rolls the whole batch back; the runtime retries it.
	Apply(ctx context.Context, tx *Tx, recs []events.Record) error
}

// Migration is one schema version of a projection.
type Migration struct {
	// Version numbers the projection's migrations from 1, without gaps.
	Version int
	// Name says what the migration does, for the migrations table and logs.
	Name string
	// Statements returns the migration's DDL for the schema s, which names the tables (the live
	// ones, or a rebuild's fresh copies) and indexes and knows the engine. Statements run in
	// order in one transaction. Index statements (CREATE INDEX, DROP INDEX) must be statements of
	// their own: a rebuild defers them until the copy is filled.
	Statements func(s Schema) []string
	// Rebuild says the migration changes what the tables hold for the events already applied
	// (a new column derived from events, a changed fold): the runtime rebuilds the projection
	// after applying it.
	Rebuild bool
}

// Schema names the tables and indexes of one copy of a projection's tables, for migrations.
type Schema struct {
	db         *DB
	tables     map[string]string
	generation int64
}

// Engine returns the engine the statements run on.
func (s Schema) Engine() Engine { return s.db.engine }

// Table returns the physical name of the projection's table with logical name name. It panics
// for a table the projection does not list in Tables: that is a bug in the migration.
func (s Schema) Table(name string) string {
	t, ok := s.tables[name]
	if !ok {
		panic(fmt.Sprintf("projections: table %q is not one of the projection's tables", name))
	}
	return t
}

// Index returns the physical name of the index with logical name name. Index names carry the
// copy's generation, so a rebuild's fresh indexes never collide with the live ones (SQLite
// cannot rename an index).
func (s Schema) Index(name string) string {
	return fmt.Sprintf("%s_g%d", name, s.generation)
}

// Blob is the column type for bytes: BLOB on SQLite, BYTEA on PostgreSQL.
func (s Schema) Blob() string { return s.db.BlobType() }

// Tx is the write transaction a batch is applied in. It is not safe for concurrent use.
type Tx struct {
	tx         *sql.Tx
	db         *DB
	tables     map[string]string
	rebuilding bool
}

// Table returns the physical name of one of the projection's tables in this transaction: the
// live table, or the rebuild's fresh copy.
func (t *Tx) Table(name string) string {
	p, ok := t.tables[name]
	if !ok {
		panic(fmt.Sprintf("projections: table %q is not one of the projection's tables", name))
	}
	return p
}

// Rebuilding reports whether the batch is part of a rebuild (applied to fresh copies).
// Projections must behave the same either way; it is for logs and metrics.
func (t *Tx) Rebuilding() bool { return t.rebuilding }

// Engine returns the engine of the transaction's database.
func (t *Tx) Engine() Engine { return t.db.engine }

// Exec runs a statement written with ? placeholders.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q := t.db.Rebind(query)
	if s := t.db.prepared(q); s != nil {
		return t.tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

// Query runs a query written with ? placeholders.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := t.db.Rebind(query)
	if s := t.db.prepared(q); s != nil {
		return t.tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

// QueryRow runs a query written with ? placeholders that returns at most one row.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.db.Rebind(query), args...)
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// validate checks what the runtime relies on.
func validate(p Projection) error {
	if !nameRE.MatchString(p.Name()) {
		return fmt.Errorf("projections: projection name %q must be 1-48 characters of a-z 0-9 _, starting with a letter", p.Name())
	}
	for _, f := range p.Filters() {
		if err := events.ValidateFilter(f); err != nil {
			return fmt.Errorf("projections: %s: %w", p.Name(), err)
		}
	}
	if len(p.Tables()) == 0 {
		return fmt.Errorf("projections: %s owns no tables", p.Name())
	}
	for _, t := range p.Tables() {
		if !nameRE.MatchString(t) {
			return fmt.Errorf("projections: %s: table name %q must be 1-48 characters of a-z 0-9 _", p.Name(), t)
		}
	}
	for i, m := range p.Migrations() {
		if m.Version != i+1 {
			return fmt.Errorf("projections: %s: migration %d has version %d; versions run from 1 without gaps", p.Name(), i+1, m.Version)
		}
		if m.Statements == nil {
			return fmt.Errorf("projections: %s: migration %d has no statements", p.Name(), m.Version)
		}
	}
	return nil
}

// liveTables maps a projection's logical table names to the live tables.
func liveTables(p Projection) map[string]string {
	m := make(map[string]string, len(p.Tables()))
	for _, t := range p.Tables() {
		m[t] = t
	}
	return m
}

// shadowSuffix marks a rebuild's fresh copy of a table.
const shadowSuffix = "__rebuild"

// shadowTables maps a projection's logical table names to a rebuild's fresh copies.
func shadowTables(p Projection) map[string]string {
	m := make(map[string]string, len(p.Tables()))
	for _, t := range p.Tables() {
		m[t] = t + shadowSuffix
	}
	return m
}
