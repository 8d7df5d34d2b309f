package aggregate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/reboundhq/rebound/events"
)

// Repository loads and saves aggregates of one type. It is safe for concurrent use.
type Repository[A Root] struct {
	store         events.Store
	aggregateType string
	factory       func(events.StreamID) A
	retries       int

	mu    sync.Mutex
	cache *lru[A]
}

// Config configures a Repository.
type Config struct {
	// ConflictRetries is how often Update reloads and retries after a concurrency conflict;
	// default 10.
	ConflictRetries int
	// CacheSize keeps that many recently used aggregates in memory, so that a service that is
	// the only writer of its aggregates appends without loading first; 0 disables the cache.
	// A cached aggregate that turns out stale is reloaded on the conflict its append meets.
	CacheSize int
}

// NewRepository returns a repository for the aggregate type whose empty values factory makes.
func NewRepository[A Root](store events.Store, aggregateType string, factory func(events.StreamID) A, cfg Config) (*Repository[A], error) {
	if store == nil || factory == nil {
		return nil, errors.New("aggregate: NewRepository needs a store and a factory")
	}
	if err := (events.StreamID{AggregateType: aggregateType, Account: "x", ID: "x"}).Validate(); err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	if cfg.ConflictRetries <= 0 {
		cfg.ConflictRetries = 10
	}
	r := &Repository[A]{store: store, aggregateType: aggregateType, factory: factory, retries: cfg.ConflictRetries}
	if cfg.CacheSize > 0 {
		r.cache = newLRU[A](cfg.CacheSize)
	}
	return r, nil
}

// Stream returns the stream id of the aggregate with the given account and id.
func (r *Repository[A]) Stream(account, id string) events.StreamID {
	return events.StreamID{AggregateType: r.aggregateType, Account: account, ID: id}
}

// Loaded is an aggregate with the stream state it was built from.
type Loaded[A Root] struct {
	Root  A
	State events.State
	// Causes holds the causation ids of the stored events, to recognise a repeated command.
	causes map[string]struct{}
}

// Load rebuilds the aggregate from its stream. A stream without events is events.ErrNotFound.
func (r *Repository[A]) Load(ctx context.Context, stream events.StreamID) (Loaded[A], error) {
	loaded, err := r.store.Load(ctx, stream, 0)
	if err != nil {
		return Loaded[A]{}, err
	}
	return r.fold(stream, loaded.Events, loaded.State)
}

// fold applies recs to a fresh aggregate.
func (r *Repository[A]) fold(stream events.StreamID, recs []events.Record, st events.State) (Loaded[A], error) {
	l := Loaded[A]{Root: r.factory(stream), State: st, causes: make(map[string]struct{})}
	for _, rec := range recs {
		if err := l.Root.Apply(rec); err != nil {
			return Loaded[A]{}, fmt.Errorf("aggregate: applying %s version %d to %s: %w", rec.EventType, rec.Version, stream, err)
		}
		if rec.CausationID != "" {
			l.causes[rec.CausationID] = struct{}{}
		}
	}
	return l, nil
}

// Fold rebuilds an aggregate from records (from History, cut at some point, for --as-of views).
func (r *Repository[A]) Fold(stream events.StreamID, recs []events.Record) (A, error) {
	st := events.State{}
	if n := len(recs); n > 0 {
		st = events.State{Version: recs[n-1].Version, Token: recs[n-1].Position}
	}
	l, err := r.fold(stream, recs, st)
	return l.Root, err
}

// History returns every stored event of the aggregate.
func (r *Repository[A]) History(ctx context.Context, stream events.StreamID) ([]events.Record, error) {
	loaded, err := r.store.Load(ctx, stream, 0)
	if err != nil {
		return nil, err
	}
	return loaded.Events, nil
}

// ErrAlreadyApplied is returned by Update when the stream already holds events caused by
// meta.CausationID: the command was applied before (a redelivered message) and is skipped.
var ErrAlreadyApplied = errors.New("aggregate: command already applied")

// Update loads the aggregate (a new one when its stream is empty), runs fn on it and appends the
// events fn raised, expecting the state it loaded. On a concurrency conflict it reloads and runs
// fn again, up to the configured number of retries. Events get ids derived from
// meta.CausationID (when set) so a repeated command cannot store them twice; when the stream
// already holds events with that causation id, Update returns ErrAlreadyApplied without running fn.
// An error from fn is returned as is and nothing is stored.
func (r *Repository[A]) Update(ctx context.Context, stream events.StreamID, meta events.Metadata, fn func(A) error) (A, error) {
	var zero A
	for attempt := 0; ; attempt++ {
		l, err := r.current(ctx, stream, attempt > 0)
		if err != nil {
			return zero, err
		}
		if meta.CausationID != "" {
			if _, done := l.causes[meta.CausationID]; done {
				return l.Root, ErrAlreadyApplied
			}
		}
		if err := fn(l.Root); err != nil {
			r.forget(stream)
			return zero, err
		}
		raised := l.Root.Changes()
		if len(raised) == 0 {
			return l.Root, nil
		}
		evs := make([]events.Event, len(raised))
		for i, msg := range raised {
			evs[i] = events.NewEvent(msg, meta)
			if meta.CausationID != "" {
				evs[i].EventID = events.DeterministicEventID(meta.CausationID, stream.String(), strconv.Itoa(i))
			}
		}
		st, err := r.store.Append(ctx, stream, events.ExpectState(l.State), evs...)
		if err == nil {
			l.Root.ClearChanges()
			l.State = st
			if meta.CausationID != "" {
				l.causes[meta.CausationID] = struct{}{}
			}
			r.remember(stream, l)
			return l.Root, nil
		}
		r.forget(stream)
		if !errors.Is(err, events.ErrConcurrencyConflict) || attempt >= r.retries {
			return zero, err
		}
	}
}

// current returns the cached aggregate, or loads it; fresh forces a load.
func (r *Repository[A]) current(ctx context.Context, stream events.StreamID, fresh bool) (Loaded[A], error) {
	if r.cache != nil && !fresh {
		r.mu.Lock()
		l, ok := r.cache.take(stream)
		r.mu.Unlock()
		if ok {
			return l, nil
		}
	}
	l, err := r.Load(ctx, stream)
	if errors.Is(err, events.ErrNotFound) {
		return Loaded[A]{Root: r.factory(stream), causes: make(map[string]struct{})}, nil
	}
	return l, err
}

func (r *Repository[A]) remember(stream events.StreamID, l Loaded[A]) {
	if r.cache == nil {
		return
	}
	r.mu.Lock()
	r.cache.put(stream, l)
	r.mu.Unlock()
}

func (r *Repository[A]) forget(stream events.StreamID) {
	if r.cache == nil {
		return
	}
	r.mu.Lock()
	r.cache.remove(stream)
	r.mu.Unlock()
}
