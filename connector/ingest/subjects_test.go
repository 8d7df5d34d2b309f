package ingest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
)

// What a connector publishes on the ingest subjects is stored like a gRPC report; what does not
// decode or validate lands on poison.ingest with its reason, and the consumer goes on.
func TestHandler_storesValidReportsAndPoisonsBadOnes(t *testing.T) {
	srv := natstest.Start(t, "")
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := natsstore.New(ctx, js, ingest.Registry(), natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.EnsureStream(ctx, js); err != nil {
		t.Fatal(err)
	}
	in, _ := ingest.New(store)
	b, err := bus.New(js, ingest.Registry(), nil, bus.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Handle(ingest.Handler(in, 2)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	bad := &connectorv1.RecordFailed{Record: ref(), Message: "no attempt id", FailedAt: timestamppb.Now()}
	good := &connectorv1.RecordFailed{Record: ref(), AttemptId: "a1", Message: "WMS down", HttpStatus: 503, FailedAt: timestamppb.Now()}
	publish := func(subject string, data []byte) {
		t.Helper()
		if _, err := js.Publish(ctx, subject, data); err != nil {
			t.Fatal(err)
		}
	}
	badBytes, _ := proto.Marshal(bad)
	goodBytes, _ := proto.Marshal(good)
	publish(ingest.SubjectFailed, badBytes)
	publish(ingest.SubjectFailed, []byte{0xff, 0xff})
	publish(ingest.SubjectFailed, goodBytes)

	deadline := time.Now().Add(15 * time.Second)
	for {
		loaded, err := store.Load(ctx, connector.RecordStream(ref()), 0)
		if err == nil && len(loaded.Events) == 1 {
			if !proto.Equal(loaded.Events[0].Message, good) {
				t.Fatalf("stored %v, want %v", loaded.Events[0].Message, good)
			}
			break
		}
		if err != nil && !errors.Is(err, events.ErrNotFound) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the valid report was not stored within 15s")
		}
	}
	var poisoned []bus.PoisonMessage
	for time.Now().Before(deadline) {
		if poisoned, err = bus.ListPoison(ctx, js, ingest.HandlerName); err != nil {
			t.Fatal(err)
		}
		if len(poisoned) == 2 {
			break
		}
	}
	if len(poisoned) != 2 {
		t.Fatalf("poison.ingest holds %d messages, want 2", len(poisoned))
	}
	reasons := poisoned[0].Reason + " | " + poisoned[1].Reason
	for _, want := range []string{"attempt_id", "decoding rebound.connector.v1.RecordFailed"} {
		if !contains(reasons, want) {
			t.Errorf("poison reasons %q lack %q", reasons, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("bus: %v", err)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}
