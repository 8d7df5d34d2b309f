// Package store is the alerts service's event-store adapter: a repository per aggregate type
// (alerts, outage detectors, record indexes) over events.Store.
//
// It works like aggregate.Repository (load, run the command, append expecting the loaded state,
// retry on a conflict, causation ids to recognise a redelivered input, a bounded cache so that
// the only writer appends without loading), with two differences that matter for this service:
//
//   - Updates of one aggregate run one at a time in the process (striped locks), so that the
//     bus workers, the timer handler and gRPC calls touching one aggregate neither meet
//     conflicts nor load it twice. A connection's outage detector, which every failure of the
//     connection updates, stays cached instead of being reloaded after each conflict.
//   - A command that raises nothing (a success on a healthy connection, a repeat failure of a
//     counted record, an index that already lists the type) keeps the aggregate cached.
//     aggregate.Repository drops it then, which would reload a connection's whole detector
//     stream after every such command.
package store

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
)

// Repo loads and saves aggregates of one type. It is safe for concurrent use.
type Repo[A aggregate.Root] struct {
	store   events.Store
	factory func(events.StreamID) A
	retries int
	locks   [stripes]sync.Mutex

	mu    sync.Mutex
	size  int
	order *list.List
	items map[events.StreamID]*list.Element
}

const (
	stripes         = 1024
	conflictRetries = 10
)

// entry is a loaded aggregate: its state, its stream's state and the causation ids of its events.
type entry[A aggregate.Root] struct {
	stream events.StreamID
	root   A
	state  events.State
	causes map[string]struct{}
}

// NewRepo returns a repository that keeps up to cacheSize aggregates in memory (0: none).
func NewRepo[A aggregate.Root](store events.Store, factory func(events.StreamID) A, cacheSize int) (*Repo[A], error) {
	if store == nil || factory == nil {
		return nil, errors.New("store: NewRepo needs a store and a factory")
	}
	if cacheSize < 0 {
		return nil, fmt.Errorf("store: cache size %d is negative", cacheSize)
	}
	return &Repo[A]{store: store, factory: factory, retries: conflictRetries, size: cacheSize,
		order: list.New(), items: make(map[events.StreamID]*list.Element)}, nil
}

func (r *Repo[A]) lock(stream events.StreamID) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(stream.String()))
	return &r.locks[h.Sum32()%stripes]
}

// Update loads the aggregate (a new one when its stream is empty), runs fn on it and appends
// the events fn raised, expecting the state it loaded; on a conflict it reloads and runs fn
// again, so fn must not keep anything from a run but the last one. With meta.CausationID set,
// event ids derive from it and a stream that already holds events caused by it makes Update
// return aggregate.ErrAlreadyApplied without running fn. An error from fn is returned as is and
// nothing is stored.
//
// The aggregate is shared with later updates through the cache: read it inside fn (which runs
// under the aggregate's lock), or with View, never after Update returns.
func (r *Repo[A]) Update(ctx context.Context, stream events.StreamID, meta events.Metadata, fn func(A) error) error {
	mu := r.lock(stream)
	mu.Lock()
	defer mu.Unlock()
	for attempt := 0; ; attempt++ {
		e, err := r.current(ctx, stream, attempt > 0)
		if err != nil {
			return err
		}
		if meta.CausationID != "" {
			if _, done := e.causes[meta.CausationID]; done {
				r.put(e)
				return aggregate.ErrAlreadyApplied
			}
		}
		if err := fn(e.root); err != nil {
			if len(e.root.Changes()) == 0 {
				r.put(e) // commands raise only once they decided: nothing changed
			}
			return err
		}
		raised := e.root.Changes()
		if len(raised) == 0 {
			r.put(e)
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
			if meta.CausationID != "" {
				e.causes[meta.CausationID] = struct{}{}
			}
			r.put(e)
			return nil
		}
		if !errors.Is(err, events.ErrConcurrencyConflict) || attempt >= r.retries {
			return err
		}
	}
}

// View runs fn on the aggregate as this process last knew it (cached, else loaded; a new one
// when its stream is empty), under the aggregate's lock. fn must not change it.
func (r *Repo[A]) View(ctx context.Context, stream events.StreamID, fn func(A)) error {
	mu := r.lock(stream)
	mu.Lock()
	defer mu.Unlock()
	e, err := r.current(ctx, stream, false)
	if err != nil {
		return err
	}
	fn(e.root)
	r.put(e)
	return nil
}

// Read loads and folds the aggregate without touching the cache, and returns its stored events
// too. A stream without events is events.ErrNotFound.
func (r *Repo[A]) Read(ctx context.Context, stream events.StreamID) (A, events.Loaded, error) {
	var zero A
	loaded, err := r.store.Load(ctx, stream, 0)
	if err != nil {
		return zero, events.Loaded{}, err
	}
	e, err := r.fold(stream, loaded)
	if err != nil {
		return zero, events.Loaded{}, err
	}
	return e.root, loaded, nil
}

// current returns the cached aggregate (taking it out of the cache) or loads it; fresh forces a
// load. The caller holds the stream's lock.
func (r *Repo[A]) current(ctx context.Context, stream events.StreamID, fresh bool) (*entry[A], error) {
	if e, ok := r.take(stream); ok && !fresh {
		return e, nil
	}
	loaded, err := r.store.Load(ctx, stream, 0)
	if errors.Is(err, events.ErrNotFound) {
		return &entry[A]{stream: stream, root: r.factory(stream), causes: make(map[string]struct{})}, nil
	}
	if err != nil {
		return nil, err
	}
	return r.fold(stream, loaded)
}

func (r *Repo[A]) fold(stream events.StreamID, loaded events.Loaded) (*entry[A], error) {
	e := &entry[A]{stream: stream, root: r.factory(stream), state: loaded.State, causes: make(map[string]struct{})}
	for _, rec := range loaded.Events {
		if err := e.root.Apply(rec); err != nil {
			return nil, fmt.Errorf("store: applying %s version %d to %s: %w", rec.EventType, rec.Version, stream, err)
		}
		if rec.CausationID != "" {
			e.causes[rec.CausationID] = struct{}{}
		}
	}
	return e, nil
}

func (r *Repo[A]) take(stream events.StreamID) (*entry[A], bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	el, ok := r.items[stream]
	if !ok {
		return nil, false
	}
	r.order.Remove(el)
	delete(r.items, stream)
	return el.Value.(*entry[A]), true
}

func (r *Repo[A]) put(e *entry[A]) {
	if r.size == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.items[e.stream]; ok {
		r.order.Remove(el)
	}
	r.items[e.stream] = r.order.PushFront(e)
	for r.order.Len() > r.size {
		oldest := r.order.Back()
		r.order.Remove(oldest)
		delete(r.items, oldest.Value.(*entry[A]).stream)
	}
}

// Cached returns how many aggregates the cache holds.
func (r *Repo[A]) Cached() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.order.Len()
}
