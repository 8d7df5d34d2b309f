package projections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reboundhq/rebound/events"
)

// Config configures a Runner. The zero value is usable: every field has a default.
type Config struct {
	// BatchSize is the most events one live batch applies in one transaction; default 500.
	BatchSize int
	// BatchDelay is how long a live batch waits for more events after its first one when none
	// are ready, trading latency for bigger batches under a trickle; default 5ms. Zero applies
	// whatever is ready at once (set NoBatchDelay).
	BatchDelay time.Duration
	// NoBatchDelay applies batches without waiting for more events.
	NoBatchDelay bool
	// RebuildBatchSize is the most events one rebuild transaction applies; default 10000 (bigger
	// batches write a row changed by several events once, and commit less often).
	RebuildBatchSize int
	// LagInterval is how often lag is measured; default 2s.
	LagInterval time.Duration
	// ProgressInterval is how often a rebuild writes a progress line; default 1s.
	ProgressInterval time.Duration
	// RetryBackoff is the wait after a failed batch or read before trying again, doubling up to
	// RetryBackoffMax; defaults 250ms and 30s.
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	// Logger receives one line per failure, rebuild and start; default discards.
	Logger *slog.Logger
	// Registerer, when set, receives the runtime's metrics (rebound_projection_*).
	Registerer prometheus.Registerer
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.BatchSize < 0 || c.RebuildBatchSize < 0 {
		errs = append(errs, errors.New("batch sizes must not be negative"))
	}
	if c.BatchDelay < 0 || c.LagInterval < 0 || c.ProgressInterval < 0 || c.RetryBackoff < 0 || c.RetryBackoffMax < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if c.RetryBackoffMax > 0 && c.RetryBackoff > c.RetryBackoffMax {
		errs = append(errs, errors.New("RetryBackoff must not exceed RetryBackoffMax"))
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.BatchDelay == 0 && !c.NoBatchDelay {
		c.BatchDelay = 5 * time.Millisecond
	}
	if c.NoBatchDelay {
		c.BatchDelay = 0
	}
	if c.RebuildBatchSize == 0 {
		c.RebuildBatchSize = 10000
	}
	if c.LagInterval == 0 {
		c.LagInterval = 2 * time.Second
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = time.Second
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 250 * time.Millisecond
	}
	if c.RetryBackoffMax == 0 {
		c.RetryBackoffMax = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Runner keeps projections up to date from an event store: each follows the store from its own
// checkpoint. It also rebuilds them (Rebuild) and reports where they stand (Status). Methods are
// safe for concurrent use; Run runs once.
type Runner struct {
	db      *DB
	store   events.Store
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	order   []*proj
	byName  map[string]*proj

	migrateMu sync.Mutex
	migrated  bool
	started   atomic.Bool
}

// proj is one projection's runtime state.
type proj struct {
	p       Projection
	filters []string
	// applyMu serialises this process's transactions that move the projection's checkpoint
	// (live batches and a rebuild's swap), so they do not queue on the database.
	applyMu sync.Mutex
	// pending counts events read from the store and not yet committed.
	pending    atomic.Int64
	rebuilding atomic.Bool

	mu            sync.Mutex
	checkpoint    uint64 // committed, as this process last saw it
	caughtUp      uint64 // a store position every matching event at or before which is applied
	lag           uint64
	lastPosition  uint64
	lastAppliedAt time.Time
	lastErr       error
	lastErrAt     time.Time
	running       bool
	progress      *Progress
}

// NewRunner returns a runner of ps over db, reading store. Register the event types the
// projections read in the store's registry.
func NewRunner(db *DB, store events.Store, cfg Config, ps ...Projection) (*Runner, error) {
	if db == nil || store == nil {
		return nil, errors.New("projections: NewRunner needs a database and an event store")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("projections: invalid config: %w", err)
	}
	cfg.setDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("projections: registering metrics: %w", err)
	}
	r := &Runner{db: db, store: store, cfg: cfg, log: cfg.Logger, metrics: m, byName: make(map[string]*proj)}
	for _, p := range ps {
		if err := validate(p); err != nil {
			return nil, err
		}
		if _, dup := r.byName[p.Name()]; dup {
			return nil, fmt.Errorf("projections: two projections are named %s", p.Name())
		}
		pr := &proj{p: p, filters: p.Filters()}
		r.order = append(r.order, pr)
		r.byName[p.Name()] = pr
	}
	return r, nil
}

// DB returns the database the runner writes to.
func (r *Runner) DB() *DB { return r.db }

// Migrate applies every pending schema migration (the runtime's and each projection's). Run and
// Rebuild call it; it is safe to call again.
func (r *Runner) Migrate(ctx context.Context) error {
	r.migrateMu.Lock()
	defer r.migrateMu.Unlock()
	if r.migrated {
		return nil
	}
	ps := make([]Projection, len(r.order))
	for i, pr := range r.order {
		ps[i] = pr.p
	}
	if err := r.db.migrate(ctx, ps); err != nil {
		return err
	}
	r.migrated = true
	return nil
}

// Run migrates the schema, then keeps every projection up to date until ctx ends, and returns
// nil then. A failed batch or read is logged, counted and retried with backoff; it never stops
// the other projections. A projection a migration asked to rebuild is rebuilt in the background
// while its old tables keep serving queries.
func (r *Runner) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("projections: Runner.Run called twice")
	}
	if err := r.Migrate(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	states, err := r.db.states(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	var wg sync.WaitGroup
	for _, pr := range r.order {
		pr.mu.Lock()
		pr.running = true
		pr.checkpoint = states[pr.p.Name()].Position
		pr.mu.Unlock()
		r.metrics.checkpoint.WithLabelValues(pr.p.Name()).Set(float64(states[pr.p.Name()].Position))
		wg.Go(func() { r.live(ctx, pr) })
		if states[pr.p.Name()].RebuildPending {
			wg.Go(func() { r.rebuildPending(ctx, pr) })
		}
	}
	wg.Go(func() { r.measureLag(ctx) })
	r.log.Info("projections running", slog.Int("projections", len(r.order)), slog.String("database", r.db.String()))
	wg.Wait()
	for _, pr := range r.order {
		pr.mu.Lock()
		pr.running = false
		pr.mu.Unlock()
	}
	return nil
}

// live follows the store for one projection until ctx ends, starting over from the checkpoint
// after every failure.
func (r *Runner) live(ctx context.Context, pr *proj) {
	backoff := r.cfg.RetryBackoff
	for {
		progressed, err := r.follow(ctx, pr)
		if ctx.Err() != nil {
			return
		}
		if progressed {
			backoff = r.cfg.RetryBackoff
		}
		r.failed(pr, "following the event store", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.cfg.RetryBackoffMax)
	}
}

// failed records a failure for Status, the error counter and the log.
func (r *Runner) failed(pr *proj, what string, err error) {
	if err == nil {
		err = errors.New("stopped without an error")
	}
	pr.mu.Lock()
	pr.lastErr, pr.lastErrAt = err, time.Now()
	pr.mu.Unlock()
	r.metrics.errors.WithLabelValues(pr.p.Name()).Inc()
	r.log.Error("projection failed; retrying", slog.String("projection", pr.p.Name()), slog.String("while", what), slog.Any("error", err))
}

// follow reads the store from the projection's checkpoint and applies batches until ctx ends
// or something fails. It reports whether it committed at least one batch.
func (r *Runner) follow(ctx context.Context, pr *proj) (bool, error) {
	st, err := r.db.states(ctx)
	if err != nil {
		return false, err
	}
	from := st[pr.p.Name()].Position + 1
	ctx, cancel := context.WithCancel(ctx)
	pr.pending.Store(0)
	recs, readErr := r.read(ctx, &pr.pending, events.ReadOptions{From: from, Filters: pr.filters, Follow: true}, r.cfg.BatchSize)
	defer func() {
		cancel()
		_ = readErr() // wait for the reader before the next follow starts one
		pr.pending.Store(0)
	}()
	progressed := false
	batch := make([]events.Record, 0, r.cfg.BatchSize)
	var timer *time.Timer
	for {
		batch = batch[:0]
		select {
		case rec, ok := <-recs:
			if !ok {
				return progressed, readErr()
			}
			batch = append(batch, rec)
		case <-ctx.Done():
			return progressed, ctx.Err()
		}
		closed := false
		if r.cfg.BatchDelay > 0 {
			if timer == nil {
				timer = time.NewTimer(r.cfg.BatchDelay)
			} else {
				timer.Reset(r.cfg.BatchDelay)
			}
		}
	fill:
		for len(batch) < r.cfg.BatchSize {
			select {
			case rec, ok := <-recs:
				if !ok {
					closed = true
					break fill
				}
				batch = append(batch, rec)
				continue
			default:
			}
			if r.cfg.BatchDelay == 0 {
				break
			}
			select {
			case rec, ok := <-recs:
				if !ok {
					closed = true
					break fill
				}
				batch = append(batch, rec)
			case <-timer.C:
				timer = nil
				break fill
			case <-ctx.Done():
				return progressed, ctx.Err()
			}
		}
		if timer != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if err := r.applyLive(ctx, pr, batch); err != nil {
			return progressed, err
		}
		pr.pending.Add(-int64(len(batch)))
		progressed = true
		if closed {
			return progressed, readErr()
		}
	}
}

// read runs store.Read in a goroutine and hands its records over a channel, which it closes when
// the read ends; the returned function then tells why. Cancel ctx to stop it. pending, when not
// nil, counts the records handed over.
func (r *Runner) read(ctx context.Context, pending *atomic.Int64, opts events.ReadOptions, buffer int) (<-chan events.Record, func() error) {
	out := make(chan events.Record, buffer)
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		err = r.store.Read(ctx, opts, func(ctx context.Context, rec events.Record) error {
			if pending != nil {
				pending.Add(1)
			}
			select {
			case out <- rec:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return out, func() error {
		<-done
		return err
	}
}

// applyLive applies one batch to the live tables in one transaction with the checkpoint. Events
// at or before the stored checkpoint (applied by a rebuild's swap, or by another process) are
// dropped, so nothing is applied twice.
func (r *Runner) applyLive(ctx context.Context, pr *proj, batch []events.Record) error {
	pr.applyMu.Lock()
	defer pr.applyMu.Unlock()
	start := time.Now()
	tx, err := r.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	st, found, err := r.db.readState(ctx, tx, pr.p.Name(), true)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("projections: %s has no state row (was the schema migrated?)", pr.p.Name())
	}
	recs := batch
	for len(recs) > 0 && recs[0].Position <= st.Position {
		recs = recs[1:]
	}
	if len(recs) == 0 {
		pr.setCheckpoint(st.Position)
		return nil
	}
	t := &Tx{tx: tx, db: r.db, tables: liveTables(pr.p)}
	if err := pr.p.Apply(ctx, t, recs); err != nil {
		return fmt.Errorf("projections: %s: applying events %d-%d: %w", pr.p.Name(), recs[0].Position, recs[len(recs)-1].Position, err)
	}
	last := recs[len(recs)-1].Position
	if _, err := tx.ExecContext(ctx, r.db.Rebind(`UPDATE `+stateTable+` SET position = ?, updated_at = ? WHERE name = ?`),
		int64(last), time.Now().UnixNano(), pr.p.Name()); err != nil {
		return fmt.Errorf("projections: %s: storing the checkpoint: %w", pr.p.Name(), err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projections: %s: committing events %d-%d: %w", pr.p.Name(), recs[0].Position, last, err)
	}
	r.db.prepareMissed(ctx)
	name := pr.p.Name()
	r.metrics.batch.WithLabelValues(name).Observe(time.Since(start).Seconds())
	r.metrics.applied.WithLabelValues(name).Add(float64(len(recs)))
	pr.setCheckpoint(last)
	pr.mu.Lock()
	pr.lastAppliedAt = time.Now()
	pr.lastErr = nil
	pr.mu.Unlock()
	r.metrics.checkpoint.WithLabelValues(name).Set(float64(last))
	return nil
}

func (pr *proj) setCheckpoint(pos uint64) {
	pr.mu.Lock()
	pr.checkpoint = pos
	pr.mu.Unlock()
}

// measureLag updates every projection's lag until ctx ends.
func (r *Runner) measureLag(ctx context.Context) {
	t := time.NewTicker(r.cfg.LagInterval)
	defer t.Stop()
	for {
		for _, pr := range r.order {
			if err := r.updateLag(ctx, pr); err != nil && ctx.Err() == nil {
				r.log.Warn("measuring projection lag", slog.String("projection", pr.p.Name()), slog.Any("error", err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errStop ends a probe read at its first record.
var errStop = errors.New("stop")

// updateLag measures how far the projection is behind the store. The checkpoint is the position
// of the last event the projection applied, but the store's newest events may be ones the
// projection does not read; so when nothing is in flight, a probe asks the store whether any
// matching event follows the checkpoint, and if none does the projection has caught up to the
// store position seen before the probe.
func (r *Runner) updateLag(ctx context.Context, pr *proj) error {
	last, err := r.store.LastPosition(ctx)
	if err != nil {
		return err
	}
	pr.mu.Lock()
	cp, caughtUp := pr.checkpoint, pr.caughtUp
	pr.mu.Unlock()
	at := max(cp, caughtUp)
	if last > at && pr.pending.Load() == 0 {
		found := false
		err := r.store.Read(ctx, events.ReadOptions{From: cp + 1, Filters: pr.filters}, func(context.Context, events.Record) error {
			found = true
			return errStop
		})
		if err != nil && !errors.Is(err, errStop) {
			return err
		}
		if !found {
			at = last
		}
	}
	pr.mu.Lock()
	pr.caughtUp = max(pr.caughtUp, at)
	pr.lastPosition = last
	pr.lag = 0
	if last > at {
		pr.lag = last - at
	}
	lag := pr.lag
	pr.mu.Unlock()
	r.metrics.lag.WithLabelValues(pr.p.Name()).Set(float64(lag))
	return nil
}

// Status is where one projection stands.
type Status struct {
	// Name is the projection's name.
	Name string
	// Checkpoint is the global position of the last event applied to the live tables.
	Checkpoint uint64
	// Lag is how many store positions the projection is behind, as last measured by Run (0 when
	// this process does not run the projection).
	Lag uint64
	// LastPosition is the store's last position when the lag was measured.
	LastPosition uint64
	// Generation counts the projection's rebuilds; it names the live tables' indexes.
	Generation int64
	// Running says this process follows the store for the projection (Run).
	Running bool
	// RebuildPending says a migration asked for a rebuild that has not finished yet.
	RebuildPending bool
	// Rebuild is the progress of a rebuild running in this process, or nil.
	Rebuild *Progress
	// LastAppliedAt is when this process last committed a batch.
	LastAppliedAt time.Time
	// UpdatedAt is when the checkpoint was last stored (by any process).
	UpdatedAt time.Time
	// LastError is the last failure since the last committed batch, or nil.
	LastError error
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time
}

// Status returns every projection's status, in the order the runner was given them: the stored
// checkpoints, and what this process knows (lag, errors, a rebuild in progress).
func (r *Runner) Status(ctx context.Context) ([]Status, error) {
	if err := r.Migrate(ctx); err != nil {
		return nil, err
	}
	states, err := r.db.states(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(r.order))
	for _, pr := range r.order {
		st := states[pr.p.Name()]
		pr.mu.Lock()
		s := Status{
			Name: pr.p.Name(), Checkpoint: st.Position, Lag: pr.lag, LastPosition: pr.lastPosition,
			Generation: st.Generation, Running: pr.running, RebuildPending: st.RebuildPending,
			LastAppliedAt: pr.lastAppliedAt, UpdatedAt: st.UpdatedAt, LastError: pr.lastErr, LastErrorAt: pr.lastErrAt,
		}
		if pr.progress != nil {
			p := *pr.progress
			s.Rebuild = &p
		}
		pr.mu.Unlock()
		out = append(out, s)
	}
	return out, nil
}

// rebuildPending rebuilds a projection a migration asked to rebuild, retrying until it succeeds
// or ctx ends.
func (r *Runner) rebuildPending(ctx context.Context, pr *proj) {
	backoff := r.cfg.RetryBackoff
	for {
		err := r.Rebuild(ctx, pr.p.Name(), logWriter{r.log, pr.p.Name()})
		if err == nil || ctx.Err() != nil {
			return
		}
		r.failed(pr, "rebuilding after a migration", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.cfg.RetryBackoffMax)
	}
}

// logWriter turns progress lines into log lines.
type logWriter struct {
	log  *slog.Logger
	name string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info("rebuild progress", slog.String("projection", w.name), slog.String("progress", string(trimNewline(p))))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}

var _ io.Writer = logWriter{}
