package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver (pure Go)
)

// Engine names a storage engine.
type Engine string

// The storage engines read models run on.
const (
	// SQLite is the embedded default: one file in REBOUND_DATA_DIR (modernc.org/sqlite, pure Go).
	SQLite Engine = "sqlite"
	// Postgres is PostgreSQL (REBOUND_POSTGRES_URL), through pgx.
	Postgres Engine = "postgres"
)

// SQLiteFile is the name of the SQLite database file inside the data directory.
const SQLiteFile = "projections.db"

// DB is a read-model database on one engine. It is safe for concurrent use; queries run
// concurrently with the projections' writes and never see a half-applied batch.
//
// On SQLite it keeps two pools on the same file: one connection for writes (transactions begin
// IMMEDIATE, so writers queue instead of failing with SQLITE_BUSY) and several read-only
// connections for queries (WAL mode, so readers never wait for the writer). On PostgreSQL one
// pool serves both.
type DB struct {
	engine Engine
	write  *sql.DB
	read   *sql.DB
	where  string // file or URL without credentials, for messages

	rebindMu sync.RWMutex
	rebound  map[string]string

	// stmts caches statements prepared on the SQLite writer connection (pgx caches its own).
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
	missed map[string]bool
}

// Storage says which database Open opens.
type Storage struct {
	// PostgresURL, when set, selects PostgreSQL (REBOUND_POSTGRES_URL).
	PostgresURL string
	// DataDir is where the SQLite file lives when PostgresURL is empty (REBOUND_DATA_DIR,
	// default ./data).
	DataDir string
}

// Open opens the database cfg selects: PostgreSQL when cfg.PostgresURL is set, else the SQLite
// file DataDir/projections.db (created with its folder when missing).
func Open(ctx context.Context, cfg Storage) (*DB, error) {
	if cfg.PostgresURL != "" {
		return OpenPostgres(ctx, cfg.PostgresURL)
	}
	dir := cfg.DataDir
	if dir == "" {
		dir = "data"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("projections: creating the data directory: %w", err)
	}
	return OpenSQLite(ctx, filepath.Join(dir, SQLiteFile))
}

// OpenSQLite opens (creating it when missing) the SQLite database file at path.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("projections: OpenSQLite needs a file path")
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath()
	common := "_pragma=busy_timeout(30000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(0)&_pragma=mmap_size(67108864)"
	// The writer sets WAL first (a persistent property of the file), so readers open it in WAL.
	write, err := sql.Open("sqlite", base+"?"+common+"&_pragma=journal_mode(WAL)&_pragma=cache_size(-32768)&_pragma=wal_autocheckpoint(16384)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("projections: opening %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("projections: opening %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", base+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("projections: opening %s for reading: %w", path, err)
	}
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	read.SetConnMaxIdleTime(0)
	read.SetConnMaxLifetime(0)
	return &DB{engine: SQLite, write: write, read: read, where: path}, nil
}

// OpenPostgres connects to the PostgreSQL database at url (postgres://user@host:port/db?...).
// Extra URL parameters that are not connection settings (search_path=...) are sent as run-time
// parameters.
func OpenPostgres(ctx context.Context, rawURL string) (*DB, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("projections: parsing the PostgreSQL URL: %w", err)
	}
	where := Redact(rawURL)
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("projections: connecting to PostgreSQL at %s: %w", where, err)
	}
	return &DB{engine: Postgres, write: db, read: db, where: where}, nil
}

// Redact returns a database URL without its password, for messages.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Engine returns the database's engine.
func (db *DB) Engine() Engine { return db.engine }

// String names the database for messages: its engine and its file or URL (without password).
func (db *DB) String() string { return string(db.engine) + " " + db.where }

// Close closes every connection.
func (db *DB) Close() error {
	db.stmtMu.Lock()
	for _, s := range db.stmts {
		_ = s.Close()
	}
	db.stmts = nil
	db.stmtMu.Unlock()
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Query runs a read-only query written with ? placeholders.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.read.QueryContext(ctx, db.Rebind(query), args...)
}

// QueryRow runs a read-only query written with ? placeholders that returns at most one row.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.read.QueryRowContext(ctx, db.Rebind(query), args...)
}

// ReadTx runs fn in one read-only transaction: every query in it sees the same snapshot.
func (db *DB) ReadTx(ctx context.Context, fn func(q Querier) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: db.engine == Postgres})
	if err != nil {
		return fmt.Errorf("projections: beginning a read transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(&readTx{tx: tx, db: db}); err != nil {
		return err
	}
	return tx.Commit()
}

// Querier runs queries written with ? placeholders.
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
}

type readTx struct {
	tx *sql.Tx
	db *DB
}

func (r *readTx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return r.tx.QueryContext(ctx, r.db.Rebind(query), args...)
}

func (r *readTx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return r.tx.QueryRowContext(ctx, r.db.Rebind(query), args...)
}

// beginWrite starts a write transaction.
func (db *DB) beginWrite(ctx context.Context) (*sql.Tx, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("projections: beginning a write transaction on %s: %w", db, err)
	}
	return tx, nil
}

// Rebind turns the ? placeholders of a query into the engine's ($1, $2, ... on PostgreSQL).
// Queries must not contain a literal question mark.
func (db *DB) Rebind(query string) string {
	if db.engine != Postgres {
		return query
	}
	db.rebindMu.RLock()
	q, ok := db.rebound[query]
	db.rebindMu.RUnlock()
	if ok {
		return q
	}
	q = rebindDollar(query)
	db.rebindMu.Lock()
	if db.rebound == nil || len(db.rebound) > 4096 {
		db.rebound = make(map[string]string)
	}
	db.rebound[query] = q
	db.rebindMu.Unlock()
	return q
}

func rebindDollar(query string) string {
	n := strings.Count(query, "?")
	if n == 0 {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 4*n)
	i := 0
	for _, c := range []byte(query) {
		if c == '?' {
			i++
			b.WriteByte('$')
			b.WriteString(itoa(i))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func itoa(i int) string {
	var buf [20]byte
	p := len(buf)
	for {
		p--
		buf[p] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			break
		}
	}
	return string(buf[p:])
}

// maxParams is how many bind parameters one statement may carry.
func (db *DB) maxParams() int {
	if db.engine == Postgres {
		return 65535
	}
	return 32766
}

// BlobType is the column type for bytes on the engine.
func (db *DB) BlobType() string {
	if db.engine == Postgres {
		return "BYTEA"
	}
	return "BLOB"
}

// maxCachedStatements bounds the SQLite statement cache.
const maxCachedStatements = 4096

// prepared returns the statement for query prepared on the SQLite writer connection, or nil when
// it is not prepared yet (or never will be: PostgreSQL, whose driver caches statements itself, or
// a full cache). Statements cannot be prepared on the pool while a transaction holds its only
// connection, so a miss is recorded and prepareMissed prepares it after the transaction. SQLite
// re-prepares a statement by itself when the schema changed under it (a rebuild's swap).
func (db *DB) prepared(query string) *sql.Stmt {
	if db.engine != SQLite {
		return nil
	}
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if s, ok := db.stmts[query]; ok {
		return s
	}
	if len(db.stmts)+len(db.missed) < maxCachedStatements {
		if db.missed == nil {
			db.missed = make(map[string]bool)
		}
		db.missed[query] = true
	}
	return nil
}

// prepareMissed prepares the statements transactions missed; call it with no transaction open
// on the writer. It waits for the writer connection without holding the cache's lock, which
// transactions take.
func (db *DB) prepareMissed(ctx context.Context) {
	if db.engine != SQLite {
		return
	}
	db.stmtMu.Lock()
	var todo []string
	for q := range db.missed {
		todo = append(todo, q)
		delete(db.missed, q)
	}
	db.stmtMu.Unlock()
	for _, q := range todo {
		s, err := db.write.PrepareContext(ctx, q)
		if err != nil {
			continue // it runs unprepared; the error, if real, shows there
		}
		db.stmtMu.Lock()
		if db.stmts == nil {
			db.stmts = make(map[string]*sql.Stmt)
		}
		if _, dup := db.stmts[q]; dup {
			_ = s.Close()
		} else {
			db.stmts[q] = s
		}
		db.stmtMu.Unlock()
	}
}
