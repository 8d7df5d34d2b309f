package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The runtime's own tables. Persisted identifiers: never rename.
const (
	// stateTable holds one row per projection: its checkpoint (the global position of the last
	// event applied), the generation of its tables and whether a migration asked for a rebuild.
	stateTable = "projection_state"
	// migrationsTable records every migration applied, per projection.
	migrationsTable = "projection_migrations"
	// runtimeName is the name the runtime's own schema versions are recorded under; it cannot
	// clash with a projection's name (those start with a letter).
	runtimeName = "_runtime"
)

// runtimeMigrations are the runtime's own schema versions.
var runtimeMigrations = []Migration{{
	Version: 1,
	Name:    "projection state",
	Statements: func(Schema) []string {
		return []string{`CREATE TABLE IF NOT EXISTS ` + stateTable + ` (
			name TEXT NOT NULL PRIMARY KEY,
			position BIGINT NOT NULL,
			generation BIGINT NOT NULL,
			rebuild_pending INTEGER NOT NULL,
			rebuild_owner TEXT NOT NULL DEFAULT '',
			rebuild_lease BIGINT NOT NULL DEFAULT 0,
			updated_at BIGINT NOT NULL
		)`}
	},
}}

// ErrSchemaTooNew means the database holds a schema version of a projection that this binary
// does not know: a newer release migrated it. Run that release, or rebuild into a fresh database.
var ErrSchemaTooNew = errors.New("projections: the database schema is newer than this binary")

// migrationLockKey is the PostgreSQL advisory lock that serialises migrations across processes.
const migrationLockKey = 7_261_004_331_915_002

// migrate applies the runtime's and every projection's pending migrations, each projection in
// one transaction, and returns the projections a migration asked to rebuild.
func (db *DB) migrate(ctx context.Context, ps []Projection) error {
	if err := db.inWrite(ctx, func(tx *sql.Tx) error {
		if db.engine == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockKey)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+migrationsTable+` (
			projection TEXT NOT NULL,
			version INTEGER NOT NULL,
			name TEXT NOT NULL,
			applied_at BIGINT NOT NULL,
			PRIMARY KEY (projection, version)
		)`); err != nil {
			return err
		}
		_, err := db.applyMigrations(ctx, tx, runtimeName, runtimeMigrations, Schema{db: db})
		return err
	}); err != nil {
		return fmt.Errorf("projections: migrating the runtime tables on %s: %w", db, err)
	}
	for _, p := range ps {
		if err := db.inWrite(ctx, func(tx *sql.Tx) error {
			if db.engine == Postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockKey)); err != nil {
					return err
				}
			}
			st, found, err := db.readState(ctx, tx, p.Name(), false)
			if err != nil {
				return err
			}
			if !found {
				if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO `+stateTable+` (name, position, generation, rebuild_pending, updated_at) VALUES (?, 0, 0, 0, ?)`),
					p.Name(), time.Now().UnixNano()); err != nil {
					return err
				}
			}
			rebuild, err := db.applyMigrations(ctx, tx, p.Name(), p.Migrations(), Schema{db: db, tables: liveTables(p), generation: st.Generation})
			if err != nil {
				return err
			}
			if rebuild && st.Position > 0 {
				_, err = tx.ExecContext(ctx, db.Rebind(`UPDATE `+stateTable+` SET rebuild_pending = 1 WHERE name = ?`), p.Name())
			}
			return err
		}); err != nil {
			return fmt.Errorf("projections: migrating %s on %s: %w", p.Name(), db, err)
		}
	}
	return nil
}

// applyMigrations runs the migrations after the projection's recorded version; it reports
// whether one of them asks for a rebuild.
func (db *DB) applyMigrations(ctx context.Context, tx *sql.Tx, name string, ms []Migration, s Schema) (bool, error) {
	var current sql.NullInt64
	if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT MAX(version) FROM `+migrationsTable+` WHERE projection = ?`), name).Scan(&current); err != nil {
		return false, err
	}
	if int(current.Int64) > len(ms) {
		return false, fmt.Errorf("%w: %s is at schema version %d, this binary knows versions up to %d", ErrSchemaTooNew, name, current.Int64, len(ms))
	}
	rebuild := false
	for _, m := range ms[current.Int64:] {
		for _, stmt := range m.Statements(s) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return false, fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO `+migrationsTable+` (projection, version, name, applied_at) VALUES (?, ?, ?, ?)`),
			name, m.Version, m.Name, time.Now().UnixNano()); err != nil {
			return false, err
		}
		rebuild = rebuild || m.Rebuild
	}
	return rebuild, nil
}

// isIndexStatement reports whether a migration statement creates or drops an index, which a
// rebuild defers until its copy is filled (building an index over sorted data at the end is
// much faster than keeping it up to date row by row).
func isIndexStatement(stmt string) bool {
	s := strings.ToUpper(strings.Join(strings.Fields(stmt), " "))
	return strings.HasPrefix(s, "CREATE INDEX") || strings.HasPrefix(s, "CREATE UNIQUE INDEX") || strings.HasPrefix(s, "DROP INDEX")
}

// state is a projection's row in the state table.
type state struct {
	Position       uint64
	Generation     int64
	RebuildPending bool
	UpdatedAt      time.Time
}

// readState reads a projection's state inside tx; lock takes the row lock on PostgreSQL (on
// SQLite the write transaction already excludes every other writer).
func (db *DB) readState(ctx context.Context, tx *sql.Tx, name string, lock bool) (state, bool, error) {
	q := `SELECT position, generation, rebuild_pending, updated_at FROM ` + stateTable + ` WHERE name = ?`
	if lock && db.engine == Postgres {
		q += ` FOR UPDATE`
	}
	var (
		pos, gen, pending, at int64
	)
	err := tx.QueryRowContext(ctx, db.Rebind(q), name).Scan(&pos, &gen, &pending, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return state{}, false, nil
	}
	if err != nil {
		return state{}, false, fmt.Errorf("reading the state of %s: %w", name, err)
	}
	return state{Position: uint64(pos), Generation: gen, RebuildPending: pending != 0, UpdatedAt: time.Unix(0, at).UTC()}, true, nil
}

// states reads every projection's state outside a transaction.
func (db *DB) states(ctx context.Context) (map[string]state, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, position, generation, rebuild_pending, updated_at FROM `+stateTable)
	if err != nil {
		return nil, fmt.Errorf("projections: reading projection states: %w", err)
	}
	defer rows.Close()
	out := make(map[string]state)
	for rows.Next() {
		var (
			name                  string
			pos, gen, pending, at int64
		)
		if err := rows.Scan(&name, &pos, &gen, &pending, &at); err != nil {
			return nil, fmt.Errorf("projections: reading projection states: %w", err)
		}
		out[name] = state{Position: uint64(pos), Generation: gen, RebuildPending: pending != 0, UpdatedAt: time.Unix(0, at).UTC()}
	}
	return out, rows.Err()
}

// inWrite runs fn in a write transaction and commits it.
func (db *DB) inWrite(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	db.prepareMissed(ctx)
	return nil
}
