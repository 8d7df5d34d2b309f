package natsstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natstest"
)

func benchFailure() *connectorv1.RecordFailed {
	return &connectorv1.RecordFailed{
		Record:    &connectorv1.RecordRef{AccountId: "bench", ConnectionId: "wms-1", RecordId: "1001", OrderNumber: "#1001"},
		AttemptId: "attempt-1", Message: "503 Service Unavailable", HttpStatus: 503, FailedAt: timestamppb.Now(),
	}
}

// BenchmarkAppend appends single events, each goroutine on an aggregate of its own, with the
// state from its previous append (go test -bench Append -cpu 64 for 64 writers).
func BenchmarkAppend(b *testing.B) {
	srv := natstest.Start(b, "")
	store := newStore(b, srv.ClientURL(), events.NewRegistry(&connectorv1.RecordFailed{}))
	var ids atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		stream := events.StreamID{AggregateType: "bench", Account: "bench", ID: fmt.Sprint("a", ids.Add(1))}
		st := events.State{}
		msg := benchFailure()
		for pb.Next() {
			var err error
			if st, err = store.Append(context.Background(), stream, events.ExpectState(st), events.NewEvent(msg, events.Metadata{})); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRawPublish is BenchmarkAppend's baseline: plain synchronous publishes.
func BenchmarkRawPublish(b *testing.B) {
	srv := natstest.Start(b, "")
	nc := natstest.Connect(b, srv.ClientURL())
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	payload, _ := proto.Marshal(benchFailure())
	var ids atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		subject := fmt.Sprint("raw.", ids.Add(1))
		for pb.Next() {
			if _, err := js.Publish(context.Background(), subject, payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLoad loads one 100-event aggregate; b.N counts loads.
func BenchmarkLoad(b *testing.B) {
	srv := natstest.Start(b, "")
	store := newStore(b, srv.ClientURL(), events.NewRegistry(&connectorv1.RecordFailed{}))
	stream := events.StreamID{AggregateType: "bench", Account: "bench", ID: "load"}
	evs := make([]events.Event, 100)
	for i := range evs {
		evs[i] = events.NewEvent(benchFailure(), events.Metadata{CorrelationID: "bench"})
	}
	if _, err := store.Append(context.Background(), stream, events.ExpectNoStream(), evs...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := store.Load(context.Background(), stream, 0); err != nil {
			b.Fatal(err)
		}
	}
}
