package aggregate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/memstore"
)

// counter counts the failures recorded on it.
type counter struct {
	aggregate.Recorder
	failures int
	last     string
}

func (c *counter) Apply(r events.Record) error {
	c.when(r.Message.(*connectorv1.RecordFailed))
	return nil
}

func (c *counter) when(f *connectorv1.RecordFailed) {
	c.failures++
	c.last = f.GetMessage()
}

func (c *counter) Fail(msg string) error {
	if msg == "" {
		return errors.New("empty message")
	}
	ev := &connectorv1.RecordFailed{Message: msg}
	c.when(ev)
	c.Raise(ev)
	return nil
}

func newRepo(t *testing.T, cache int) (*aggregate.Repository[*counter], events.Store) {
	t.Helper()
	store := memstore.New(events.NewRegistry(&connectorv1.RecordFailed{}))
	repo, err := aggregate.NewRepository(store, "counter", func(events.StreamID) *counter { return &counter{} },
		aggregate.Config{CacheSize: cache})
	if err != nil {
		t.Fatal(err)
	}
	return repo, store
}

func TestRepository_UpdateAppendsRaisedEvents(t *testing.T) {
	for _, cache := range []int{0, 10} {
		t.Run(fmt.Sprintf("cache=%d", cache), func(t *testing.T) {
			t.Parallel()
			repo, store := newRepo(t, cache)
			ctx := context.Background()
			id := repo.Stream("acme", "c1")
			for i := range 3 {
				if _, err := repo.Update(ctx, id, events.Metadata{}, func(c *counter) error { return c.Fail(fmt.Sprint("boom ", i)) }); err != nil {
					t.Fatalf("Update %d: %v", i, err)
				}
			}
			l, err := repo.Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if l.Root.failures != 3 || l.Root.last != "boom 2" || l.State.Version != 3 {
				t.Fatalf("loaded %+v at %+v, want 3 failures ending with boom 2", l.Root, l.State)
			}
			// A failing command stores nothing.
			if _, err := repo.Update(ctx, id, events.Metadata{}, func(c *counter) error { return c.Fail("") }); err == nil {
				t.Fatal("Update with a failing command succeeded")
			}
			loaded, _ := store.Load(ctx, id, 0)
			if len(loaded.Events) != 3 {
				t.Fatalf("stream holds %d events after a failed command, want 3", len(loaded.Events))
			}
		})
	}
}

func TestRepository_RepeatedCauseIsSkipped(t *testing.T) {
	repo, store := newRepo(t, 10)
	ctx := context.Background()
	id := repo.Stream("acme", "c1")
	meta := events.Metadata{CausationID: "input-1"}
	if _, err := repo.Update(ctx, id, meta, func(c *counter) error { return c.Fail("once") }); err != nil {
		t.Fatal(err)
	}
	_, err := repo.Update(ctx, id, meta, func(c *counter) error { return c.Fail("once") })
	if !errors.Is(err, aggregate.ErrAlreadyApplied) {
		t.Fatalf("repeated cause: err = %v, want ErrAlreadyApplied", err)
	}
	loaded, _ := store.Load(ctx, id, 0)
	if len(loaded.Events) != 1 {
		t.Fatalf("stream holds %d events, want 1", len(loaded.Events))
	}
}

func TestRepository_ConcurrentUpdatesAllLand(t *testing.T) {
	repo, _ := newRepo(t, 100)
	// A second repository on the same store makes the first one's cache stale.
	ctx := context.Background()
	id := repo.Stream("acme", "c1")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := repo.Update(ctx, id, events.Metadata{}, func(c *counter) error { return c.Fail(fmt.Sprint(i)) }); err != nil {
				t.Errorf("Update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	l, err := repo.Load(ctx, id)
	if err != nil || l.Root.failures != 20 {
		t.Fatalf("after 20 concurrent updates: %d failures, %v", l.Root.failures, err)
	}
}

func TestRepository_StaleCacheReloads(t *testing.T) {
	repo, store := newRepo(t, 10)
	other, err := aggregate.NewRepository(store, "counter", func(events.StreamID) *counter { return &counter{} }, aggregate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := repo.Stream("acme", "c1")
	for _, r := range []*aggregate.Repository[*counter]{repo, other, repo} {
		if _, err := r.Update(ctx, id, events.Metadata{}, func(c *counter) error { return c.Fail("x") }); err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	l, err := repo.Load(ctx, id)
	if err != nil || l.Root.failures != 3 {
		t.Fatalf("%d failures, %v; want 3", l.Root.failures, err)
	}
}
