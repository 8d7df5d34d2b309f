package bus_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
)

// A bus started again with the same handler name resumes where the previous one stopped: it
// receives exactly the events appended in between.
func TestBus_restartResumes(t *testing.T) {
	t.Parallel()
	const before, between = 5, 3
	e := newEnv(t)
	name := unique("restart")
	var handled counter
	handler := bus.Handler{
		Name:     name,
		Subjects: e.subjects(),
		Func: func(_ context.Context, rec events.Record) error {
			handled.add(rec.EventID)
			return nil
		},
	}
	running := e.run(t, bus.Config{}, handler)
	var first []string
	for i := range before {
		first = append(first, e.append(t, fmt.Sprintf("order-%d", i), failed("timeout"), events.Metadata{}).EventID)
	}
	eventually(t, 10*time.Second, func() bool { return handled.total() == before }, "the first events are handled")
	e.settled(t, "EVENTS", name)
	running.stop()

	var second []string
	for i := range between {
		second = append(second, e.append(t, fmt.Sprintf("order-%d", i), failed("timeout again"), events.Metadata{}).EventID)
	}
	cons, err := e.js.Consumer(t.Context(), "EVENTS", name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != between || info.NumAckPending != 0 {
		t.Errorf("while stopped the consumer has %d pending and %d unacked, want %d and 0",
			info.NumPending, info.NumAckPending, between)
	}

	e.run(t, bus.Config{}, handler)
	eventually(t, 10*time.Second, func() bool { return handled.total() == before+between }, "the new events are handled")
	e.settled(t, "EVENTS", name)
	for _, id := range append(first, second...) {
		if got := handled.get(id); got != 1 {
			t.Errorf("event %s handled %d times, want once", id, got)
		}
	}
}

// Messages fetched but not started when the bus stops are handed back at once, in order: the
// next bus handles them right away (well before AckWait) and in stream order.
func TestBus_stopHandsBackFetchedMessages(t *testing.T) {
	t.Parallel()
	const n = 4
	e := newEnv(t)
	name := unique("handback")
	cfg := bus.Config{AckWait: time.Minute}
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var versions []uint64
	handler := bus.Handler{
		Name:     name,
		Subjects: e.subjects(),
		Func: func(_ context.Context, rec events.Record) error {
			if rec.Version == 1 {
				close(started)
				<-release
			}
			mu.Lock()
			versions = append(versions, rec.Version)
			mu.Unlock()
			return nil
		},
	}
	first := e.run(t, cfg, handler)
	for range n {
		e.append(t, "order-1", failed("timeout"), events.Metadata{})
	}
	<-started
	cons, err := e.js.Consumer(t.Context(), "EVENTS", name)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool {
		info, err := cons.Info(t.Context())
		return err == nil && info.NumAckPending == n
	}, "every event is fetched")
	first.cancel()
	close(release)
	first.stop()

	e.run(t, cfg, handler)
	eventually(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(versions) == n
	}, "the handed back events are handled")
	e.settled(t, "EVENTS", name)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(versions, []uint64{1, 2, 3, 4}) {
		t.Errorf("handled versions %v, want 1 2 3 4", versions)
	}
}
