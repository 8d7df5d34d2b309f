package timer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/events/timer"
)

func TestLazy_makesTheStreamOnFirstUse(t *testing.T) {
	srv := natstest.Start(t, "")
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	l, err := timer.NewLazy(js, timer.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.Stream(ctx, timer.DefaultStream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("NewLazy touched the server: %v", err)
	}
	a, err := l.Scheduler(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := l.Scheduler(ctx)
	if a != b {
		t.Fatal("Scheduler made a second scheduler")
	}
	if _, err := js.Stream(ctx, timer.DefaultStream); err != nil {
		t.Fatalf("no timers stream after first use: %v", err)
	}
}

func TestAggregateKey_roundTrip(t *testing.T) {
	s := events.StreamID{AggregateType: "alert", Account: "acme", ID: "alt_1"}
	got, err := timer.ParseAggregateKey("alert", timer.AggregateKey(s))
	if err != nil || got != s {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{"nodot", "a.b.c", ".x", "a."} {
		if _, err := timer.ParseAggregateKey("alert", bad); !errors.Is(err, events.ErrInvalidArgument) {
			t.Errorf("ParseAggregateKey(%q): err = %v", bad, err)
		}
	}
}
