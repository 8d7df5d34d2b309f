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

// With several workers, each aggregate's events are handled in order while different
// aggregates are handled at the same time.
func TestBus_workersKeepAggregateOrder(t *testing.T) {
	t.Parallel()
	const workers, aggregates, perAggregate = 4, 8, 10
	e := newEnv(t)
	name := unique("order")

	// blocked's first event waits until other's first event was handled: that can only happen
	// when they run on different workers, in parallel.
	subject := func(id string) string { return events.Subject(e.stream(id), "rebound.connector.v1.RecordFailed") }
	blocked, other := "agg-0", ""
	ids := []string{blocked}
	for i := 1; len(ids) < aggregates; i++ {
		id := fmt.Sprintf("agg-%d", i)
		if other == "" && bus.WorkerOf(subject(id), workers) != bus.WorkerOf(subject(blocked), workers) {
			other = id
		}
		ids = append(ids, id)
	}
	if other == "" {
		t.Fatal("no aggregate on another worker; pick other ids")
	}
	otherHandled := make(chan struct{})
	var closeOnce sync.Once

	var mu sync.Mutex
	versions := make(map[string][]uint64)
	parallel := true
	e.run(t, bus.Config{}, bus.Handler{
		Name:     name,
		Subjects: e.subjects(),
		Workers:  workers,
		Func: func(_ context.Context, rec events.Record) error {
			if rec.AggregateID == blocked && rec.Version == 1 {
				select {
				case <-otherHandled:
				case <-time.After(10 * time.Second):
					mu.Lock()
					parallel = false
					mu.Unlock()
				}
			}
			mu.Lock()
			versions[rec.AggregateID] = append(versions[rec.AggregateID], rec.Version)
			mu.Unlock()
			if rec.AggregateID == other {
				closeOnce.Do(func() { close(otherHandled) })
			}
			return nil
		},
	})
	for _, id := range ids {
		for range perAggregate {
			e.append(t, id, failed("timeout"), events.Metadata{})
		}
	}
	eventually(t, 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, vs := range versions {
			n += len(vs)
		}
		return n == aggregates*perAggregate
	}, "every event is handled")
	e.settled(t, "EVENTS", name)

	mu.Lock()
	defer mu.Unlock()
	if !parallel {
		t.Errorf("%s was not handled while %s waited: the workers did not run in parallel", other, blocked)
	}
	want := make([]uint64, perAggregate)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	for _, id := range ids {
		if !slices.Equal(versions[id], want) {
			t.Errorf("%s handled in order %v, want %v", id, versions[id], want)
		}
	}
}
