package aggregate

import (
	"context"
	"sync"

	"github.com/reboundhq/rebound/events"
)

// Snapshot is an aggregate's state saved at one version.
type Snapshot struct {
	State  events.State
	Schema string
	Data   []byte
	Causes []string
}

// SnapshotStore keeps the latest snapshot per stream. Snapshots are optional: Put may drop one,
// and Get returning nothing only means the aggregate is folded from its events.
type SnapshotStore interface {
	// Get returns the stream's snapshot, if there is one.
	Get(ctx context.Context, stream events.StreamID) (Snapshot, bool, error)
	// Put saves the stream's snapshot without waiting for it to be stored.
	Put(stream events.StreamID, s Snapshot)
}

// evicted saves an aggregate leaving the cache as a snapshot, when it can be.
func (r *Repository[A]) evicted(e *entry[A]) {
	if r.snapshots == nil || e.state.Version == 0 {
		return
	}
	s, ok := any(e.root).(Snapshotter)
	if !ok {
		return
	}
	data, err := s.MarshalSnapshot()
	if err != nil {
		return // a snapshot is an optimisation: the events stay the truth
	}
	r.snapshots.Put(e.stream, Snapshot{State: e.state, Schema: s.SnapshotSchema(), Data: data, Causes: e.causes.list()})
}

// fromSnapshot restores the aggregate from its snapshot plus the events after it; ok is false
// when there is no usable snapshot (then the caller loads the events). It asks for the stream's
// head first, so a new aggregate costs one round trip and an unchanged one needs no events.
func (r *Repository[A]) fromSnapshot(ctx context.Context, stream events.StreamID) (*entry[A], bool, error) {
	if r.snapshots == nil {
		return nil, false, nil
	}
	root := r.factory(stream)
	s, isSnap := any(root).(Snapshotter)
	if !isSnap {
		return nil, false, nil
	}
	head, err := r.store.Head(ctx, stream)
	if err != nil {
		return nil, false, err
	}
	if head.Version == 0 {
		return r.cache.newEntry(stream, root, events.State{}), true, nil
	}
	snap, found, err := r.snapshots.Get(ctx, stream)
	if err != nil || !found || snap.Schema != s.SnapshotSchema() || snap.State.Version == 0 || snap.State.Version > head.Version {
		return nil, false, nil //nolint:nilerr // no usable snapshot: fold from the events
	}
	if err := s.UnmarshalSnapshot(snap.Data); err != nil {
		return nil, false, nil //nolint:nilerr // an unreadable snapshot is ignored
	}
	e := r.cache.newEntry(stream, root, snap.State)
	for _, id := range snap.Causes {
		e.causes.add(id)
	}
	if snap.State == head {
		return e, true, nil
	}
	loaded, err := r.store.LoadAfter(ctx, stream, snap.State)
	if err != nil {
		return nil, false, err
	}
	if err := e.apply(loaded.Events); err != nil {
		return nil, false, err
	}
	if e.state != loaded.State {
		return nil, false, nil
	}
	return e, true, nil
}

// MemorySnapshots is a SnapshotStore in memory, for tests.
type MemorySnapshots struct {
	mu    sync.Mutex
	snaps map[events.StreamID]Snapshot
}

// NewMemorySnapshots returns an empty MemorySnapshots.
func NewMemorySnapshots() *MemorySnapshots {
	return &MemorySnapshots{snaps: make(map[events.StreamID]Snapshot)}
}

// Get implements SnapshotStore.
func (m *MemorySnapshots) Get(_ context.Context, stream events.StreamID) (Snapshot, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.snaps[stream]
	return s, ok, nil
}

// Put implements SnapshotStore.
func (m *MemorySnapshots) Put(stream events.StreamID, s Snapshot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.snaps[stream] = s
}

// Len returns how many snapshots are stored.
func (m *MemorySnapshots) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.snaps)
}
