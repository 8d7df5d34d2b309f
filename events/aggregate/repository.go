package aggregate

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"

	"github.com/reboundhq/rebound/events"
)

// Repository loads and saves aggregates of one type. It is safe for concurrent use.
//
// Updates of one aggregate run one at a time in the process (striped locks), so bus workers,
// timers and API calls touching the same aggregate neither meet conflicts nor load it twice. A
// bounded cache keeps recently used aggregates, so a process that is their only writer appends
// without loading; a stale cached aggregate meets a conflict, is reloaded, and the command runs
// again. With a SnapshotStore, aggregates that implement Snapshotter are saved when they leave
// the cache and loaded from their snapshot plus the events after it.
type Repository[A Root] struct {
	store     events.Store
	factory   func(events.StreamID) A
	retries   int
	snapshots SnapshotStore
	seed      maphash.Seed
	locks     [stripes]sync.Mutex
	cache     *cache[A]
}

const stripes = 1024

// Config configures a Repository.
type Config struct {
	// ConflictRetries is how often Update reloads and retries after a concurrency conflict;
	// default 10.
	ConflictRetries int
	// CacheSize keeps that many recently used aggregates in memory; 0 disables the cache.
	CacheSize int
	// Snapshots, when set, saves aggregates that implement Snapshotter as they leave the cache
	// and loads them from there.
	Snapshots SnapshotStore
	// MaxCauses bounds the causation ids kept per aggregate (for ErrAlreadyApplied) beyond
	// those of its own events folded from the store; default 256.
	MaxCauses int
}

// NewRepository returns a repository for the aggregates factory makes.
func NewRepository[A Root](store events.Store, factory func(events.StreamID) A, cfg Config) (*Repository[A], error) {
	if store == nil || factory == nil {
		return nil, errors.New("aggregate: NewRepository needs a store and a factory")
	}
	if cfg.CacheSize < 0 || cfg.ConflictRetries < 0 || cfg.MaxCauses < 0 {
		return nil, fmt.Errorf("aggregate: negative cache size, retries or causes in %+v", cfg)
	}
	if cfg.ConflictRetries == 0 {
		cfg.ConflictRetries = 10
	}
	if cfg.MaxCauses == 0 {
		cfg.MaxCauses = 256
	}
	r := &Repository[A]{store: store, factory: factory, retries: cfg.ConflictRetries, snapshots: cfg.Snapshots, seed: maphash.MakeSeed()}
	r.cache = newCache[A](cfg.CacheSize, cfg.MaxCauses, r.evicted)
	return r, nil
}

// ErrAlreadyApplied is returned by Update when the stream already holds events caused by
// meta.CausationID: the command was applied before (a redelivered message) and is skipped.
var ErrAlreadyApplied = errors.New("aggregate: command already applied")

func (r *Repository[A]) lock(stream events.StreamID) *sync.Mutex {
	h := maphash.String(r.seed, stream.String())
	return &r.locks[h%stripes]
}

// Update loads the aggregate (a new one when its stream is empty), runs fn on it and appends
// the events fn raised, expecting the state it loaded; on a conflict it reloads and runs fn
// again, so fn must keep nothing from a run but the last one. With meta.CausationID set, event
// ids derive from it, and a stream that already holds events caused by it makes Update return
// ErrAlreadyApplied without running fn. An error from fn is returned as is and nothing is stored.
//
// The aggregate stays shared with later updates through the cache: read it inside fn (which runs
// under the aggregate's lock) or with View, never after Update returns.
func (r *Repository[A]) Update(ctx context.Context, stream events.StreamID, meta events.Metadata, fn func(A) error) error {
	mu := r.lock(stream)
	mu.Lock()
	defer mu.Unlock()
	for attempt := 0; ; attempt++ {
		e, err := r.current(ctx, stream, attempt > 0)
		if err != nil {
			return err
		}
		if meta.CausationID != "" && e.causes.has(meta.CausationID) {
			r.cache.put(e)
			return ErrAlreadyApplied
		}
		if err := fn(e.root); err != nil {
			if len(e.root.Changes()) == 0 {
				r.cache.put(e) // commands raise only once they decided: nothing changed
			}
			return err
		}
		raised := e.root.Changes()
		if len(raised) == 0 {
			r.cache.put(e)
			return nil
		}
		evs := make([]events.Event, len(raised))
		for i, msg := range raised {
			evs[i] = events.NewEvent(msg, meta)
			if meta.CausationID != "" {
				evs[i].EventID = events.DeterministicEventID(meta.CausationID, stream.String(), strconv.Itoa(i))
			}
		}
		st, err := r.store.Append(ctx, stream, events.ExpectState(e.state), evs...)
		if err == nil {
			e.root.ClearChanges()
			e.state = st
			e.causes.add(meta.CausationID)
			r.cache.put(e)
			return nil
		}
		if !errors.Is(err, events.ErrConcurrencyConflict) || attempt >= r.retries {
			return err
		}
	}
}

// View runs fn on the aggregate as this process last knew it (cached, else loaded; a new one
// when its stream is empty), under the aggregate's lock. fn must not change it.
func (r *Repository[A]) View(ctx context.Context, stream events.StreamID, fn func(A)) error {
	return r.entry(ctx, stream, func(e *entry[A]) { fn(e.root) })
}

// Applied reports whether the aggregate holds events caused by causationID (among its recent
// ones), so a handler that calls an external system before it stores anything can skip an
// input it handled already.
func (r *Repository[A]) Applied(ctx context.Context, stream events.StreamID, causationID string) (bool, error) {
	var applied bool
	err := r.entry(ctx, stream, func(e *entry[A]) { applied = e.causes.has(causationID) })
	return applied, err
}

// Version returns the aggregate's version as this process knows it (cached, else loaded); 0
// for an empty stream.
func (r *Repository[A]) Version(ctx context.Context, stream events.StreamID) (uint64, error) {
	var v uint64
	err := r.entry(ctx, stream, func(e *entry[A]) { v = e.state.Version })
	return v, err
}

// entry runs fn on the aggregate's cache entry under its lock.
func (r *Repository[A]) entry(ctx context.Context, stream events.StreamID, fn func(*entry[A])) error {
	mu := r.lock(stream)
	mu.Lock()
	defer mu.Unlock()
	e, err := r.current(ctx, stream, false)
	if err != nil {
		return err
	}
	fn(e)
	r.cache.put(e)
	return nil
}

// Read loads and folds the aggregate from its events, without the cache or snapshots, and
// returns them too. A stream without events is events.ErrNotFound.
func (r *Repository[A]) Read(ctx context.Context, stream events.StreamID) (A, events.Loaded, error) {
	var zero A
	loaded, err := r.store.Load(ctx, stream, 0)
	if err != nil {
		return zero, events.Loaded{}, err
	}
	root, err := r.Fold(stream, loaded.Events)
	if err != nil {
		return zero, events.Loaded{}, err
	}
	return root, loaded, nil
}

// Fold rebuilds an aggregate from records (a stream's history, maybe cut at some point for an
// as-of view).
func (r *Repository[A]) Fold(stream events.StreamID, recs []events.Record) (A, error) {
	root := r.factory(stream)
	for _, rec := range recs {
		if err := root.Apply(rec); err != nil {
			var zero A
			return zero, fmt.Errorf("aggregate: applying %s version %d to %s: %w", rec.EventType, rec.Version, stream, err)
		}
	}
	return root, nil
}

// Cached returns how many aggregates the cache holds.
func (r *Repository[A]) Cached() int { return r.cache.len() }

// current returns the cached aggregate (taking it out of the cache) or loads it; fresh forces a
// load from the events. The caller holds the stream's lock.
func (r *Repository[A]) current(ctx context.Context, stream events.StreamID, fresh bool) (*entry[A], error) {
	if e, ok := r.cache.take(stream); ok && !fresh {
		return e, nil
	}
	if !fresh {
		if e, ok, err := r.fromSnapshot(ctx, stream); err != nil || ok {
			return e, err
		}
	}
	loaded, err := r.store.Load(ctx, stream, 0)
	if errors.Is(err, events.ErrNotFound) {
		return r.cache.newEntry(stream, r.factory(stream), events.State{}), nil
	}
	if err != nil {
		return nil, err
	}
	e := r.cache.newEntry(stream, r.factory(stream), loaded.State)
	if err := e.apply(loaded.Events); err != nil {
		return nil, err
	}
	return e, nil
}
