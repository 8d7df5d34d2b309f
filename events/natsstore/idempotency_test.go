package natsstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
)

// After the server has forgotten the event ids (its duplicate window passed), a repeated append
// is still recognised, by comparing with what the stream holds.
func TestAppend_repeatAfterDuplicateWindowIsNoop(t *testing.T) {
	srv := natstest.Start(t, "")
	nc := natstest.Connect(t, srv.ClientURL())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reg := events.NewRegistry(&connectorv1.RecordFailed{})
	store, err := natsstore.New(ctx, js, reg, natsstore.Config{Stream: natsstore.StreamConfig{DuplicateWindow: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	stream := events.StreamID{AggregateType: "record", Account: "acme", ID: "r1"}
	mk := func(n int) events.Event {
		return events.NewEvent(&connectorv1.RecordFailed{AttemptId: "a", Message: "m", FailedAt: timestamppb.Now()}, events.Metadata{})
	}
	single, batch := []events.Event{mk(1)}, []events.Event{mk(2), mk(3)}
	st1, err := store.Append(ctx, stream, events.ExpectNoStream(), single...)
	if err != nil {
		t.Fatal(err)
	}
	st2, err := store.Append(ctx, stream, events.ExpectState(st1), batch...)
	if err != nil {
		t.Fatal(err)
	}
	waitDuplicateWindow(t, js)

	if got, err := store.Append(ctx, stream, events.ExpectNoStream(), single...); err != nil || got != st1 {
		t.Fatalf("repeat of the first append = %+v, %v; want %+v", got, err, st1)
	}
	if got, err := store.Append(ctx, stream, events.ExpectState(st1), batch...); err != nil || got != st2 {
		t.Fatalf("repeat of the batch = %+v, %v; want %+v", got, err, st2)
	}
	loaded, err := store.Load(ctx, stream, 0)
	if err != nil || len(loaded.Events) != 3 {
		t.Fatalf("stream holds %d events (%v), want 3", len(loaded.Events), err)
	}
}

// waitDuplicateWindow publishes a probe with a fixed message id until the server no longer
// reports it as a duplicate, i.e. until the duplicate window has passed.
func waitDuplicateWindow(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	probe := &nats.Msg{Subject: "evt.probe.probe.probe.Probe", Header: nats.Header{"Nats-Msg-Id": {"probe"}}}
	ctx := context.Background()
	if _, err := js.PublishMsg(ctx, probe); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ack, err := js.PublishMsg(ctx, &nats.Msg{Subject: probe.Subject, Header: probe.Header})
		if err != nil {
			t.Fatal(err)
		}
		if !ack.Duplicate {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the duplicate window did not pass within 10s")
		}
	}
}
