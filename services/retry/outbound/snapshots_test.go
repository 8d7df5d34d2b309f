package outbound_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/services/retry/outbound"
)

// The bucket is opened by the first Get (New does no I/O); a snapshot put before that is
// dropped, one put after it is found.
func TestSnapshots_openTheBucketOnFirstUse(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, "") // a server of its own: the bucket's name is fixed
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	snaps, err := outbound.NewSnapshots(js, 0)
	if err != nil {
		t.Fatal(err)
	}
	stream := events.StreamID{AggregateType: "retry", Account: "acct", ID: "rec_1"}
	snap := aggregate.Snapshot{State: events.State{Version: 3, Token: 9}, Schema: "retry.schedule/1", Data: []byte{1, 2}}
	snaps.Put(stream, snap) // not open yet: dropped
	if _, err := js.KeyValue(ctx, natsstore.SnapshotBucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("the bucket exists before the first use (%v)", err)
	}
	if _, found, err := snaps.Get(ctx, stream); err != nil || found {
		t.Fatalf("first Get: found %v, %v; want nothing", found, err)
	}
	snaps.Put(stream, snap)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, found, err := snaps.Get(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		if found {
			if got.State != snap.State || got.Schema != snap.Schema || string(got.Data) != string(snap.Data) {
				t.Fatalf("Get = %+v, want %+v", got, snap)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the snapshot was not stored within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
