package natsstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
)

func TestSnapshots_putThenGet(t *testing.T) {
	js, err := jetstream.New(natstest.Connect(t, natstest.SharedURL(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	snaps, err := natsstore.NewSnapshots(js, 1)
	if err != nil {
		t.Fatal(err)
	}
	stream0 := events.StreamID{AggregateType: "retry", Account: "snap-acme", ID: "r0"}
	// Before the bucket is open, Put drops the snapshot rather than wait.
	snaps.Put(stream0, aggregate.Snapshot{State: events.State{Version: 1, Token: 1}})
	if err := snaps.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if _, found, err := snaps.Get(ctx, stream0); err != nil || found {
		t.Fatalf("a snapshot put before the bucket was open was kept: %v, %v", found, err)
	}
	stream := events.StreamID{AggregateType: "retry", Account: "snap-acme", ID: "r1"}
	if _, found, err := snaps.Get(ctx, stream); err != nil || found {
		t.Fatalf("Get before Put: found %v, %v", found, err)
	}
	want := aggregate.Snapshot{State: events.State{Version: 7, Token: 42}, Schema: "s/1", Data: []byte("state"), Causes: []string{"a", "b"}}
	snaps.Put(stream, want)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, found, err := snaps.Get(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		if found {
			if got.State != want.State || got.Schema != want.Schema || string(got.Data) != "state" || len(got.Causes) != 2 {
				t.Fatalf("Get = %+v, want %+v", got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the snapshot was not stored within 10s")
		}
	}
}
