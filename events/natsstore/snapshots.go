package natsstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/reboundhq/rebound/proto/gen/rebound/events/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
)

// SnapshotBucket is the key-value bucket that keeps aggregate snapshots. It is a persisted
// identifier; its contents are disposable (everything in it can be rebuilt from EVENTS).
const SnapshotBucket = "SNAPSHOTS"

// Snapshots is an aggregate.SnapshotStore in the SNAPSHOTS key-value bucket, one key per stream
// (<aggregate>.<account>.<id>), latest snapshot only, shared by every service.
//
// Building it does no I/O: the bucket is opened (and created when missing) by Ensure or on first
// use. Until it is open, Get finds nothing (and tries to open it, at most once every few
// seconds) and Put drops the snapshot: snapshots only make loads cheaper, the events stay the
// truth. Put never waits for the server, and drops the snapshot rather than block when too
// many are on their way. It is safe for concurrent use.
type Snapshots struct {
	js       jetstream.JetStream
	replicas int

	open atomic.Pointer[jetstream.KeyValue]
	pub  jetstream.JetStream
	mu   sync.Mutex
	next time.Time // no new attempt to open the bucket before
}

var _ aggregate.SnapshotStore = (*Snapshots)(nil)

// snapshotsRetry is how long Get waits after a failed attempt to open the bucket.
const snapshotsRetry = 5 * time.Second

// NewSnapshots returns the snapshot store of js, with replicas copies of the bucket when it
// creates it (1 when 0).
func NewSnapshots(js jetstream.JetStream, replicas int) (*Snapshots, error) {
	if js == nil {
		return nil, errors.New("natsstore: snapshots need a JetStream context")
	}
	pub, err := jetstream.New(js.Conn(), jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	return &Snapshots{js: js, replicas: max(replicas, 1), pub: pub}, nil
}

// Ensure opens the bucket, creating it when missing.
func (s *Snapshots) Ensure(ctx context.Context) error {
	_, err := s.bucket(ctx, true)
	return err
}

func (s *Snapshots) bucket(ctx context.Context, force bool) (jetstream.KeyValue, error) {
	if kv := s.open.Load(); kv != nil {
		return *kv, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if kv := s.open.Load(); kv != nil {
		return *kv, nil
	}
	if !force && time.Now().Before(s.next) {
		return nil, nil
	}
	kv, err := s.js.KeyValue(ctx, SnapshotBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = s.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      SnapshotBucket,
			Description: "Rebound aggregate snapshots (disposable; rebuilt from EVENTS)",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    s.replicas,
		})
	}
	if err != nil {
		s.next = time.Now().Add(snapshotsRetry)
		return nil, fmt.Errorf("natsstore: opening the %s bucket: %w", SnapshotBucket, err)
	}
	s.open.Store(&kv)
	return kv, nil
}

func snapshotKey(s events.StreamID) string {
	return s.AggregateType + "." + s.Account + "." + s.ID
}

// Get implements aggregate.SnapshotStore.
func (s *Snapshots) Get(ctx context.Context, stream events.StreamID) (aggregate.Snapshot, bool, error) {
	kv, err := s.bucket(ctx, false)
	if kv == nil {
		return aggregate.Snapshot{}, false, err
	}
	entry, err := kv.Get(ctx, snapshotKey(stream))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return aggregate.Snapshot{}, false, nil
	}
	if err != nil {
		return aggregate.Snapshot{}, false, fmt.Errorf("natsstore: reading the snapshot of %s: %w", stream, err)
	}
	var m eventsv1.Snapshot
	if err := proto.Unmarshal(entry.Value(), &m); err != nil {
		return aggregate.Snapshot{}, false, nil // unreadable: fold from the events instead
	}
	return aggregate.Snapshot{
		State:  events.State{Version: m.GetVersion(), Token: m.GetToken()},
		Schema: m.GetSchema(), Data: m.GetState(), Causes: m.GetCauses(),
	}, true, nil
}

// Put implements aggregate.SnapshotStore: it publishes the snapshot to the bucket without
// waiting for the acknowledgement, and drops it when the bucket is not open yet or too many
// snapshots are on their way; a lost snapshot only costs a longer load later.
func (s *Snapshots) Put(stream events.StreamID, snap aggregate.Snapshot) {
	if s.open.Load() == nil {
		return
	}
	b, err := proto.Marshal(&eventsv1.Snapshot{
		Version: snap.State.Version, Token: snap.State.Token, State: snap.Data, Causes: snap.Causes, Schema: snap.Schema,
	})
	if err != nil {
		return
	}
	_, _ = s.pub.PublishAsync("$KV."+SnapshotBucket+"."+snapshotKey(stream), b, jetstream.WithStallWait(time.Millisecond))
}
