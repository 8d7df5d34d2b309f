package projections

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/reboundhq/rebound/events"
)

// ErrUnknownProjection means no projection of that name is registered with the runner.
var ErrUnknownProjection = errors.New("projections: unknown projection")

// ErrRebuildRunning means another rebuild of the projection holds its lease (in this process or
// another one).
var ErrRebuildRunning = errors.New("projections: a rebuild of this projection is already running")

// rebuildLease is how long a rebuild's claim on a projection lasts without renewal; a crashed
// rebuild blocks others for at most this long.
const rebuildLease = 30 * time.Second

// Rebuild builds a fresh copy of the projection's tables from the first event and swaps it in
// atomically, while the live tables keep serving queries and (when Run runs) keep following the
// store. It writes a progress line (events/s, ETA) to progress every ProgressInterval (nil for
// none).
//
// Steps: create the copy (tables named <table>__rebuild, every migration run against them,
// index statements deferred); apply every event up to the store's last position in batches of
// RebuildBatchSize; create the indexes; catch up with what arrived meanwhile; then, in one
// transaction that holds the projection's checkpoint, apply the last few events, drop the live
// tables, rename the copies into their place and store the new checkpoint and generation.
// Queries see the old tables up to that commit and the new ones after it, never a partial copy.
// Live batches that then carry events at or before the new checkpoint drop them, so nothing is
// lost or applied twice. Projections run no side effects, so replaying history triggers none.
func (r *Runner) Rebuild(ctx context.Context, name string, progress io.Writer) error {
	pr, ok := r.byName[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownProjection, name)
	}
	if !pr.rebuilding.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: %s (in this process)", ErrRebuildRunning, name)
	}
	defer pr.rebuilding.Store(false)
	if err := r.Migrate(ctx); err != nil {
		return err
	}
	owner, err := r.claim(ctx, name, "")
	if err != nil {
		return err
	}
	// Background work (lease renewal, progress lines) stops before the lease is released.
	defer r.release(context.WithoutCancel(ctx), name, owner)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	leaseErr := make(chan error, 1)
	wg.Go(func() { leaseErr <- r.renew(ctx, name, owner) })

	b := &rebuild{r: r, pr: pr, owner: owner, shadow: shadowTables(pr.p), progress: progress,
		prog: Progress{Projection: name, Phase: "preparing", Started: time.Now()}}
	r.metrics.rebuilding.WithLabelValues(name).Set(1)
	defer r.metrics.rebuilding.WithLabelValues(name).Set(0)
	defer func() {
		pr.mu.Lock()
		pr.progress = nil
		pr.mu.Unlock()
	}()
	wg.Go(func() { b.report(ctx) })
	r.log.Info("rebuild started", slog.String("projection", name))
	if err := b.run(ctx); err != nil {
		select {
		case lerr := <-leaseErr:
			if lerr != nil {
				err = errors.Join(err, lerr)
			}
		default:
		}
		return fmt.Errorf("projections: rebuilding %s: %w", name, err)
	}
	p := b.snapshot()
	b.printf("%s\n", p.String())
	r.log.Info("rebuild swapped in", slog.String("projection", name), slog.Uint64("events", p.Events),
		slog.Uint64("position", p.Position), slog.Duration("took", p.Elapsed()))
	return nil
}

// rebuild is one Rebuild in progress.
type rebuild struct {
	r        *Runner
	pr       *proj
	owner    string
	shadow   map[string]string
	progress io.Writer

	mu   sync.Mutex
	prog Progress
	out  sync.Mutex
}

func (b *rebuild) run(ctx context.Context) error {
	db, p := b.r.db, b.pr.p
	var gen int64
	var deferred []string
	// 1. A fresh, empty copy.
	if err := db.inWrite(ctx, func(tx *sql.Tx) error {
		st, _, err := db.readState(ctx, tx, p.Name(), false)
		if err != nil {
			return err
		}
		gen = st.Generation + 1
		for _, t := range p.Tables() {
			if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+b.shadow[t]); err != nil {
				return err
			}
		}
		s := Schema{db: db, tables: b.shadow, generation: gen}
		for _, m := range p.Migrations() {
			for _, stmt := range m.Statements(s) {
				if isIndexStatement(stmt) {
					deferred = append(deferred, stmt)
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %d (%s) on the copy: %w", m.Version, m.Name, err)
				}
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("creating the copy: %w", err)
	}

	// 2. Every event up to the store's last position.
	target, err := b.r.store.LastPosition(ctx)
	if err != nil {
		return err
	}
	b.update(func(p *Progress) { p.Phase, p.Target = "copying", target })
	pos, err := b.applyRange(ctx, 1, nil)
	if err != nil {
		return err
	}
	pos = max(pos, target)

	// 3. Indexes over the filled copy.
	b.update(func(p *Progress) { p.Phase = "indexing" })
	if len(deferred) > 0 {
		if err := db.inWrite(ctx, func(tx *sql.Tx) error {
			for _, stmt := range deferred {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("creating the copy's indexes: %w", err)
		}
	}

	// 4. Catch up with what was stored meanwhile, so the swap's own share stays small.
	b.update(func(p *Progress) { p.Phase = "catching up" })
	for range 3 {
		last, err := b.r.store.LastPosition(ctx)
		if err != nil {
			return err
		}
		if last <= pos+uint64(b.r.cfg.RebuildBatchSize) {
			break
		}
		b.update(func(p *Progress) { p.Target = last })
		applied, err := b.applyRange(ctx, pos+1, nil)
		if err != nil {
			return err
		}
		pos = max(pos, applied, last)
	}

	// 5. The swap, holding the checkpoint: nothing else moves it meanwhile.
	b.update(func(p *Progress) { p.Phase = "swapping" })
	b.pr.applyMu.Lock()
	defer b.pr.applyMu.Unlock()
	var final uint64
	if err := db.inWrite(ctx, func(tx *sql.Tx) error {
		st, _, err := db.readState(ctx, tx, p.Name(), true)
		if err != nil {
			return err
		}
		if st.Generation != gen-1 {
			return fmt.Errorf("another rebuild swapped in generation %d meanwhile", st.Generation)
		}
		var lease string
		if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT rebuild_owner FROM `+stateTable+` WHERE name = ?`), p.Name()).Scan(&lease); err != nil {
			return err
		}
		if lease != b.owner {
			return fmt.Errorf("%w: the rebuild lease was lost (held by %q)", ErrRebuildRunning, lease)
		}
		last, err := b.r.store.LastPosition(ctx)
		if err != nil {
			return err
		}
		applied, err := b.applyRange(ctx, pos+1, tx)
		if err != nil {
			return err
		}
		final = max(pos, applied, last, st.Position)
		for _, t := range p.Tables() {
			if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `ALTER TABLE `+b.shadow[t]+` RENAME TO `+t); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, db.Rebind(`UPDATE `+stateTable+` SET position = ?, generation = ?, rebuild_pending = 0, updated_at = ? WHERE name = ?`),
			int64(final), gen, time.Now().UnixNano(), p.Name())
		return err
	}); err != nil {
		return fmt.Errorf("swapping the copy in: %w", err)
	}
	b.pr.setCheckpoint(final)
	b.r.metrics.checkpoint.WithLabelValues(p.Name()).Set(float64(final))
	b.update(func(p *Progress) { p.Phase, p.Position = "done", final })
	return nil
}

// applyRange applies every matching event from position from up to the store's last position
// at the call to the copy, in batches: each in a transaction of its own, or all in tx when it is
// not nil. It returns the position of the last event applied (0 when none).
func (b *rebuild) applyRange(ctx context.Context, from uint64, tx *sql.Tx) (uint64, error) {
	size := b.r.cfg.RebuildBatchSize
	ctx, cancel := context.WithCancel(ctx)
	recs, readErr := b.r.read(ctx, nil, events.ReadOptions{From: from, Filters: b.pr.filters}, size)
	defer func() {
		cancel()
		_ = readErr()
	}()
	var last uint64
	batch := make([]events.Record, 0, size)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		apply := func(tx *sql.Tx) error {
			return b.pr.p.Apply(ctx, &Tx{tx: tx, db: b.r.db, tables: b.shadow, rebuilding: true}, batch)
		}
		var err error
		if tx != nil {
			err = apply(tx)
		} else {
			err = b.r.db.inWrite(ctx, apply)
		}
		if err != nil {
			return fmt.Errorf("applying events %d-%d to the copy: %w", batch[0].Position, batch[len(batch)-1].Position, err)
		}
		last = batch[len(batch)-1].Position
		n := len(batch)
		b.update(func(p *Progress) { p.Events += uint64(n); p.Position = max(p.Position, last) })
		b.r.metrics.rebuilt.WithLabelValues(b.pr.p.Name()).Add(float64(n))
		batch = batch[:0]
		return nil
	}
	for rec := range recs {
		batch = append(batch, rec)
		if len(batch) >= size {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := readErr(); err != nil {
		return 0, err
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return last, nil
}

func (b *rebuild) update(fn func(*Progress)) {
	b.mu.Lock()
	fn(&b.prog)
	p := b.prog
	b.mu.Unlock()
	b.pr.mu.Lock()
	b.pr.progress = &p
	b.pr.mu.Unlock()
}

func (b *rebuild) snapshot() Progress {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.prog
}

// report writes a progress line every ProgressInterval until ctx ends.
func (b *rebuild) report(ctx context.Context) {
	if b.progress == nil {
		return
	}
	t := time.NewTicker(b.r.cfg.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p := b.snapshot()
			if p.Phase != "done" {
				b.printf("%s\n", p.String())
			}
		}
	}
}

func (b *rebuild) printf(format string, args ...any) {
	if b.progress == nil {
		return
	}
	b.out.Lock()
	defer b.out.Unlock()
	_, _ = fmt.Fprintf(b.progress, format, args...)
}

// claim takes the projection's rebuild lease for a new owner id (or renews it for owner).
func (r *Runner) claim(ctx context.Context, name, owner string) (string, error) {
	if owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		owner = hex.EncodeToString(b[:])
	}
	now := time.Now()
	var n int64
	err := r.db.inWrite(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, r.db.Rebind(`UPDATE `+stateTable+` SET rebuild_owner = ?, rebuild_lease = ? WHERE name = ? AND (rebuild_owner = ? OR rebuild_owner = '' OR rebuild_lease < ?)`),
			owner, now.Add(rebuildLease).UnixNano(), name, owner, now.UnixNano())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("projections: claiming the rebuild of %s: %w", name, err)
	}
	if n == 0 {
		return "", fmt.Errorf("%w: %s (in another process)", ErrRebuildRunning, name)
	}
	return owner, nil
}

// renew keeps the lease until ctx ends.
func (r *Runner) renew(ctx context.Context, name, owner string) error {
	t := time.NewTicker(rebuildLease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := r.claim(ctx, name, owner); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}

// release gives the lease back.
func (r *Runner) release(ctx context.Context, name, owner string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.db.inWrite(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, r.db.Rebind(`UPDATE `+stateTable+` SET rebuild_owner = '', rebuild_lease = 0 WHERE name = ? AND rebuild_owner = ?`), name, owner)
		return err
	}); err != nil {
		r.log.Warn("releasing the rebuild lease", slog.String("projection", name), slog.Any("error", err))
	}
}

// Progress is how far a rebuild got.
type Progress struct {
	// Projection is the projection being rebuilt.
	Projection string
	// Phase is preparing, copying, indexing, catching up, swapping or done.
	Phase string
	// Started is when the rebuild started.
	Started time.Time
	// Events counts the events applied to the copy.
	Events uint64
	// Position is the store position the copy has reached.
	Position uint64
	// Target is the store's last position when copying started (or when catching up started).
	Target uint64
}

// Elapsed is the time since the rebuild started.
func (p Progress) Elapsed() time.Duration { return time.Since(p.Started) }

// Rate is the events applied per second so far.
func (p Progress) Rate() float64 {
	s := p.Elapsed().Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.Events) / s
}

// ETA estimates the time left until the copy reaches Target, from the rate at which it moved
// through store positions so far; 0 when unknown.
func (p Progress) ETA() time.Duration {
	s := p.Elapsed().Seconds()
	if p.Position == 0 || s <= 0 || p.Position >= p.Target {
		return 0
	}
	perSec := float64(p.Position) / s
	return time.Duration(float64(p.Target-p.Position) / perSec * float64(time.Second)).Round(time.Second)
}

// String is the progress line: "rebuild alerts: copying 523412/1000000 (52.3%) 412000 events,
// 85321 events/s, ETA 6s".
func (p Progress) String() string {
	pct := 100.0
	if p.Target > 0 {
		pct = min(100, 100*float64(p.Position)/float64(p.Target))
	}
	if p.Phase == "done" {
		return fmt.Sprintf("rebuild %s: done: %d events in %s (%.0f events/s), swapped in at position %d",
			p.Projection, p.Events, p.Elapsed().Round(time.Millisecond), p.Rate(), p.Position)
	}
	eta := "unknown"
	if d := p.ETA(); d > 0 || p.Position >= p.Target {
		eta = d.String()
	}
	return fmt.Sprintf("rebuild %s: %s %d/%d (%.1f%%) %d events, %.0f events/s, ETA %s",
		p.Projection, p.Phase, p.Position, p.Target, pct, p.Events, p.Rate(), eta)
}
