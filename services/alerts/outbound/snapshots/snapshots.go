// Package snapshots keeps the alerts service's aggregate snapshots in natsstore's SNAPSHOTS
// bucket, opened on first use.
package snapshots

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/natsstore"
)

// Snapshots is the alerts service's aggregate.SnapshotStore (alerts, outage detectors, record
// indexes): natsstore's SNAPSHOTS key-value bucket
// (natsstore.SnapshotBucket, shared by every service), opened by Ensure or on first use, so that
// building the service does no I/O. Until the bucket is open, Get finds nothing (and tries to
// open it, at most once every few seconds) and Put drops the snapshot: snapshots only make loads
// cheaper, the events stay the truth. It is safe for concurrent use.
type Snapshots struct {
	js       jetstream.JetStream
	replicas int

	open atomic.Pointer[natsstore.Snapshots]
	mu   sync.Mutex
	next time.Time // no new attempt to open the bucket before
}

var _ aggregate.SnapshotStore = (*Snapshots)(nil)

// snapshotsRetry is how long Get waits after a failed attempt to open the bucket.
const snapshotsRetry = 5 * time.Second

// New returns the snapshot store of js, with replicas copies of the bucket when it
// creates it (1 when 0). It does no I/O.
func New(js jetstream.JetStream, replicas int) (*Snapshots, error) {
	if js == nil {
		return nil, errors.New("alerts snapshots: a JetStream context is required")
	}
	return &Snapshots{js: js, replicas: max(replicas, 1)}, nil
}

// Ensure opens the bucket, creating it when missing.
func (s *Snapshots) Ensure(ctx context.Context) error {
	_, err := s.store(ctx, true)
	return err
}

func (s *Snapshots) store(ctx context.Context, force bool) (*natsstore.Snapshots, error) {
	if st := s.open.Load(); st != nil {
		return st, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.open.Load(); st != nil {
		return st, nil
	}
	if !force && time.Now().Before(s.next) {
		return nil, nil
	}
	st, err := natsstore.NewSnapshots(ctx, s.js, s.replicas)
	if err != nil {
		s.next = time.Now().Add(snapshotsRetry)
		return nil, fmt.Errorf("alerts snapshots: %w", err)
	}
	s.open.Store(st)
	return st, nil
}

// Get implements aggregate.SnapshotStore.
func (s *Snapshots) Get(ctx context.Context, stream events.StreamID) (aggregate.Snapshot, bool, error) {
	st, err := s.store(ctx, false)
	if st == nil {
		return aggregate.Snapshot{}, false, err
	}
	return st.Get(ctx, stream)
}

// Put implements aggregate.SnapshotStore.
func (s *Snapshots) Put(stream events.StreamID, snap aggregate.Snapshot) {
	if st := s.open.Load(); st != nil {
		st.Put(stream, snap)
	}
}
