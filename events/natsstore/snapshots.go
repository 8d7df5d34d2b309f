package natsstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/reboundhq/rebound/proto/gen/rebound/events/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
)

// SnapshotBucket is the key-value bucket that keeps aggregate snapshots. It is a persisted
// identifier; its contents are disposable (everything in it can be rebuilt from EVENTS).
const SnapshotBucket = "SNAPSHOTS"

// Snapshots is an aggregate.SnapshotStore in a JetStream key-value bucket, one key per stream
// (<aggregate>.<account>.<id>), latest snapshot only.
type Snapshots struct {
	kv  jetstream.KeyValue
	pub jetstream.JetStream
}

var _ aggregate.SnapshotStore = (*Snapshots)(nil)

// NewSnapshots opens the SNAPSHOTS bucket, creating it when missing.
func NewSnapshots(ctx context.Context, js jetstream.JetStream, replicas int) (*Snapshots, error) {
	kv, err := js.KeyValue(ctx, SnapshotBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      SnapshotBucket,
			Description: "Rebound aggregate snapshots (disposable; rebuilt from EVENTS)",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    max(replicas, 1),
		})
	}
	if err != nil {
		return nil, fmt.Errorf("natsstore: opening the %s bucket: %w", SnapshotBucket, err)
	}
	pub, err := jetstream.New(js.Conn(), jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	return &Snapshots{kv: kv, pub: pub}, nil
}

func snapshotKey(s events.StreamID) string {
	return s.AggregateType + "." + s.Account + "." + s.ID
}

// Get implements aggregate.SnapshotStore.
func (s *Snapshots) Get(ctx context.Context, stream events.StreamID) (aggregate.Snapshot, bool, error) {
	entry, err := s.kv.Get(ctx, snapshotKey(stream))
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
// waiting for the acknowledgement; a lost snapshot only costs a longer load later.
func (s *Snapshots) Put(stream events.StreamID, snap aggregate.Snapshot) {
	b, err := proto.Marshal(&eventsv1.Snapshot{
		Version: snap.State.Version, Token: snap.State.Token, State: snap.Data, Causes: snap.Causes, Schema: snap.Schema,
	})
	if err != nil {
		return
	}
	_, _ = s.pub.PublishAsync("$KV."+SnapshotBucket+"."+snapshotKey(stream), b)
}
