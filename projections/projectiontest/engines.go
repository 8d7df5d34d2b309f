// Package projectiontest runs read-model tests against both storage engines and feeds them
// recorded event histories.
//
// Every test that touches a database runs once per engine (ForEachEngine): SQLite in a
// t.TempDir() file, and PostgreSQL in a schema of its own (created for the test, dropped after
// it) on the server at REBOUND_POSTGRES_URL (default DefaultPostgresURL). A PostgreSQL test that
// cannot reach its server fails, naming the URL and how to fix it; REBOUND_SKIP_POSTGRES=1 skips
// PostgreSQL tests instead, and each says loudly that it was skipped by request.
package projectiontest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/reboundhq/rebound/projections"
)

// DefaultPostgresURL is the server tests use when REBOUND_POSTGRES_URL is not set (CI runs
// PostgreSQL there).
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the server PostgreSQL tests use.
func PostgresURL() string {
	if u := os.Getenv("REBOUND_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// SkipPostgres reports whether PostgreSQL tests are skipped by request (REBOUND_SKIP_POSTGRES=1).
func SkipPostgres() bool { return os.Getenv("REBOUND_SKIP_POSTGRES") == "1" }

// Database is one test's empty database on one engine. Open it as often as the test needs: each
// handle is another process's view of the same data.
type Database struct {
	Engine  projections.Engine
	storage projections.Storage
}

// Open opens a handle on the database, closed when the test ends.
func (d Database) Open(t testing.TB) *projections.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := projections.Open(ctx, d.storage)
	if err != nil {
		t.Fatalf("opening the %s test database: %v", d.Engine, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Storage returns what projections.Open needs to open the database.
func (d Database) Storage() projections.Storage { return d.storage }

// ForEachEngine runs fn as a parallel subtest per engine ("sqlite", "postgres"), each with a
// fresh database.
func ForEachEngine(t *testing.T, fn func(t *testing.T, d Database)) {
	t.Helper()
	for _, e := range []projections.Engine{projections.SQLite, projections.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			fn(t, NewDatabase(t, e))
		})
	}
}

// NewDatabase returns a fresh database on engine e for the test.
func NewDatabase(t testing.TB, e projections.Engine) Database {
	t.Helper()
	switch e {
	case projections.SQLite:
		return NewSQLite(t)
	case projections.Postgres:
		return NewPostgres(t)
	}
	t.Fatalf("unknown engine %q", e)
	return Database{}
}

// NewSQLite returns a fresh SQLite database in a temporary folder.
func NewSQLite(t testing.TB) Database {
	return Database{Engine: projections.SQLite, storage: projections.Storage{DataDir: filepath.Join(t.TempDir(), "data")}}
}

// NewPostgres returns a fresh schema on the test server, dropped when the test ends. It fails the
// test when the server cannot be reached, unless REBOUND_SKIP_POSTGRES=1, which skips it.
func NewPostgres(t testing.TB) Database {
	t.Helper()
	if SkipPostgres() {
		t.Skip("SKIPPED BY REQUEST: REBOUND_SKIP_POSTGRES=1 — this test did not run against PostgreSQL")
	}
	raw := PostgresURL()
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		t.Fatalf("REBOUND_POSTGRES_URL %q is not a PostgreSQL URL: %v", projections.Redact(raw), err)
	}
	admin := stdlib.OpenDB(*cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		t.Fatalf("PostgreSQL at %s is unreachable: %v\n"+
			"Start PostgreSQL there (trust auth, database from the URL), or point REBOUND_POSTGRES_URL at one, "+
			"or set REBOUND_SKIP_POSTGRES=1 to skip the PostgreSQL tests.", projections.Redact(raw), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "rebound_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("creating the test schema on %s: %v", projections.Redact(raw), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("dropping the test schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("REBOUND_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return Database{Engine: projections.Postgres, storage: projections.Storage{PostgresURL: u.String()}}
}

// Dump returns every row of a table as text, sorted, for comparing whole tables.
func Dump(t testing.TB, db *projections.DB, table string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT * FROM `+table)
	if err != nil && strings.Contains(err.Error(), "cached plan must not change result type") {
		// A migration changed the table's columns since this connection last ran the query;
		// PostgreSQL refuses the cached statement once, and pgx prepares it again.
		rows, err = db.Query(context.Background(), `SELECT * FROM `+table)
	}
	if err != nil {
		t.Fatalf("dumping %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("dumping %s: %v", table, err)
		}
		line := ""
		for i, v := range vals {
			switch x := v.(type) {
			case []byte:
				v = hex.EncodeToString(x)
			case int32:
				v = int64(x)
			}
			line += fmt.Sprintf("%s=%v ", cols[i], v)
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("dumping %s: %v", table, err)
	}
	sortStrings(out)
	return out
}
