// Package projections is Rebound's query side: read models kept up to date from the EVENTS
// stream, in SQLite (embedded, the default: REBOUND_DATA_DIR/projections.db) or PostgreSQL
// (REBOUND_POSTGRES_URL), with the same SQL on both.
//
// # Pieces
//
//   - DB (Open, OpenSQLite, OpenPostgres): the database and its engine. SQL is written with ?
//     placeholders (Rebind turns them into $n on PostgreSQL), INSERT ... ON CONFLICT upserts,
//     row-value comparisons for keyset pagination, TEXT/BIGINT/INTEGER columns and Schema.Blob
//     for bytes. SQLite runs in WAL mode with one writer connection (transactions BEGIN
//     IMMEDIATE) and a pool of read-only connections, so queries never wait for writes.
//   - Projection: a read model — its name, subject filters, tables, versioned migrations and a
//     batched Apply. Subpackages: alerts, retryqueue, connhealth, orders.
//   - Runner: runs projections (Run), rebuilds one (Rebuild), reports where each stands
//     (Status) and exports rebound_projection_* metrics.
//   - Access, Page, Cursor: what every list query takes — tenant isolation, page size, keyset
//     cursor.
//
// # Checkpoints: exactly once across crashes
//
// Each projection reads the store from its own checkpoint (the global position of the last
// event it applied, in table projection_state) with ReadOptions{From: checkpoint+1, Filters,
// Follow: true}. Events are applied in batches (Config.BatchSize, waiting at most
// Config.BatchDelay for a batch to fill); each batch is one transaction that first reads (and on
// PostgreSQL locks) the checkpoint, drops events at or before it, applies the rest and stores
// the new checkpoint. A crash anywhere rolls the whole batch back, and the restart reads from the
// stored checkpoint: no event is skipped or applied twice. Two processes running the same
// projection on one PostgreSQL database serialise on the checkpoint row and never apply an event
// twice either.
//
// # Lag
//
// rebound_projection_lag_events is the store's last position minus the position the projection
// is known to have caught up to: its checkpoint, or — when nothing is in flight and a cheap probe
// finds no matching event after the checkpoint — the store's last position, so a projection
// whose filters skip the newest events shows no lag.
//
// # Rebuild
//
// Rebuild builds a fresh copy of a projection's tables (<table>__rebuild, created by running
// every migration against the copy; index statements are deferred and run once the copy is
// filled, which is much faster than maintaining indexes row by row), applies every event from
// the first one in batches of Config.RebuildBatchSize while writing a progress line (events/s,
// ETA), catches up with what arrived meanwhile, and then, in one transaction that holds the
// checkpoint, applies the last few events, drops the live tables, renames the copies into their
// place and stores the new checkpoint and generation. Queries see the old tables until that
// commit and the new ones after it — never a half-built table — and the live runner, which keeps
// following the store throughout, drops the events the swap already applied. Index names carry
// the generation (Schema.Index), since SQLite cannot rename an index. A lease in
// projection_state keeps two rebuilds of one projection (in any processes) apart; a migration
// marked Rebuild makes Run rebuild the projection in the background.
//
// Projections are pure database writes: replaying history in a rebuild, or re-applying a batch
// after a crash, sends no email and no command. Consumers with side effects are bus handlers,
// never projections.
//
// # Migrations
//
// Migrations are numbered per projection from 1 and recorded in projection_migrations; Run (and
// Rebuild, Status) apply the pending ones at start, each projection's in one transaction
// (serialised across processes by an advisory lock on PostgreSQL and the write lock on SQLite).
// A database at a version this binary does not know is refused (ErrSchemaTooNew).
//
// # Tests
//
// projectiontest runs every read-model test against both engines (SQLite in a temporary file,
// PostgreSQL in a schema of its own) and feeds recorded event histories (testdata/); a PostgreSQL
// test fails when its server is unreachable unless REBOUND_SKIP_POSTGRES=1.
package projections
