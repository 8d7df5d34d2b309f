package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
)

// Stopping the bus lets the message in flight finish with a live context, and acks it.
func TestBus_shutdownWaitsForInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := unique("shutdown")
	started, release := make(chan struct{}), make(chan struct{})
	ctxErr := make(chan error, 1)
	r := e.run(t, bus.Config{}, bus.Handler{
		Name:     name,
		Subjects: e.subjects(),
		Func: func(ctx context.Context, _ events.Record) error {
			close(started)
			<-release
			ctxErr <- ctx.Err()
			return nil
		},
	})
	e.append(t, "order-1", failed("timeout"), events.Metadata{})
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the event was not delivered")
	}
	r.cancel() // the shutdown starts with the handler in flight
	close(release)
	r.stop()
	if err := <-ctxErr; err != nil {
		t.Errorf("the handler's context ended during the shutdown: %v", err)
	}
	e.settled(t, "EVENTS", name)
}
