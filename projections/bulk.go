package projections

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Upsert describes a multi-row INSERT ... ON CONFLICT ... DO UPDATE, the statement read models
// write rows with. The same text runs on SQLite and PostgreSQL.
type Upsert struct {
	// Table is the physical table (Tx.Table).
	Table string
	// Columns are the columns every row gives values for, key columns first.
	Columns []string
	// Key is how many of the first Columns form the conflict target (the primary key).
	Key int
	// Add lists columns whose value is added to the stored one on conflict (counters) instead of
	// replacing it.
	Add []string
}

// maxRowsPerStatement bounds a multi-row statement; past a few hundred rows a bigger statement
// no longer pays.
const maxRowsPerStatement = 256

// Upsert writes rows given as one flat slice: len(u.Columns) values per row, in column order.
// Rows must have distinct keys (PostgreSQL refuses to update one row twice in a statement).
func (t *Tx) Upsert(ctx context.Context, u Upsert, values []any) error {
	width := len(u.Columns)
	if width == 0 || u.Key <= 0 || u.Key > width || len(values)%width != 0 {
		return fmt.Errorf("projections: upsert into %s: %d values for %d columns, key %d", u.Table, len(values), width, u.Key)
	}
	per := min(maxRowsPerStatement, t.db.maxParams()/width)
	for len(values) > 0 {
		n := min(per, len(values)/width)
		q := t.db.upsertSQL(u, n)
		if _, err := t.Exec(ctx, q, values[:n*width]...); err != nil {
			return fmt.Errorf("projections: upsert into %s: %w", u.Table, err)
		}
		values = values[n*width:]
	}
	return nil
}

var stmtCache sync.Map // string key -> statement text

// upsertSQL returns the statement for n rows, rebound for the engine.
func (db *DB) upsertSQL(u Upsert, n int) string {
	key := fmt.Sprintf("upsert\x00%s\x00%s\x00%d\x00%s\x00%d\x00%s", db.engine, u.Table, u.Key, strings.Join(u.Columns, ","), n, strings.Join(u.Add, ","))
	if q, ok := stmtCache.Load(key); ok {
		return q.(string)
	}
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(u.Table)
	b.WriteString(" (")
	b.WriteString(strings.Join(u.Columns, ", "))
	b.WriteString(") VALUES ")
	row := "(" + Placeholders(len(u.Columns)) + ")"
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(" ON CONFLICT (")
	b.WriteString(strings.Join(u.Columns[:u.Key], ", "))
	b.WriteString(") DO ")
	if len(u.Columns) == u.Key {
		b.WriteString("NOTHING")
	} else {
		b.WriteString("UPDATE SET ")
		for i, c := range u.Columns[u.Key:] {
			if i > 0 {
				b.WriteString(", ")
			}
			if contains(u.Add, c) {
				fmt.Fprintf(&b, "%s = %s.%s + excluded.%s", c, u.Table, c, c)
			} else {
				fmt.Fprintf(&b, "%s = excluded.%s", c, c)
			}
		}
	}
	q := db.Rebind(b.String())
	stmtCache.Store(key, q)
	return q
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

var placeholderCache sync.Map // int -> string

// Placeholders returns n comma-separated ? placeholders, for IN lists and VALUES rows.
func Placeholders(n int) string {
	if q, ok := placeholderCache.Load(n); ok {
		return q.(string)
	}
	q := strings.TrimSuffix(strings.Repeat("?,", n), ",")
	if n <= 1024 {
		placeholderCache.Store(n, q)
	}
	return q
}

// Chunks calls fn with consecutive pieces of keys of at most size elements, for IN lists.
func Chunks[T any](keys []T, size int, fn func([]T) error) error {
	for len(keys) > 0 {
		n := min(size, len(keys))
		if err := fn(keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}
