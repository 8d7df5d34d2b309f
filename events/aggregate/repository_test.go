package aggregate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/memstore"
)

// counter counts the failures recorded on it. It can snapshot itself.
type counter struct {
	aggregate.Recorder
	Failures int    `json:"failures"`
	Last     string `json:"last"`
}

func (c *counter) Apply(r events.Record) error {
	c.when(r.Message.(*connectorv1.RecordFailed))
	return nil
}

func (c *counter) when(f *connectorv1.RecordFailed) {
	c.Failures++
	c.Last = f.GetMessage()
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

func (c *counter) SnapshotSchema() string           { return "counter/1" }
func (c *counter) MarshalSnapshot() ([]byte, error) { return json.Marshal(c) }
func (c *counter) UnmarshalSnapshot(b []byte) error { return json.Unmarshal(b, c) }
func newCounter(events.StreamID) *counter           { return &counter{} }
func stream(id string) events.StreamID {
	return events.StreamID{AggregateType: "counter", Account: "acme", ID: id}
}
func newStore() *memstore.Store { return memstore.New(events.NewRegistry(&connectorv1.RecordFailed{})) }

func newRepo(t *testing.T, store events.Store, cfg aggregate.Config) *aggregate.Repository[*counter] {
	t.Helper()
	repo, err := aggregate.NewRepository(store, newCounter, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func view(t *testing.T, repo *aggregate.Repository[*counter], s events.StreamID) counter {
	t.Helper()
	var got counter
	if err := repo.View(context.Background(), s, func(c *counter) { got = counter{Failures: c.Failures, Last: c.Last} }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRepository_UpdateAppendsRaisedEvents(t *testing.T) {
	for _, size := range []int{0, 10} {
		t.Run(fmt.Sprintf("cache=%d", size), func(t *testing.T) {
			t.Parallel()
			store := newStore()
			repo := newRepo(t, store, aggregate.Config{CacheSize: size})
			ctx := context.Background()
			for i := range 3 {
				if err := repo.Update(ctx, stream("c1"), events.Metadata{}, func(c *counter) error { return c.Fail(fmt.Sprint("boom ", i)) }); err != nil {
					t.Fatalf("Update %d: %v", i, err)
				}
			}
			root, loaded, err := repo.Read(ctx, stream("c1"))
			if err != nil || root.Failures != 3 || root.Last != "boom 2" || loaded.State.Version != 3 {
				t.Fatalf("Read: %+v at %+v, %v; want 3 failures ending with boom 2", root, loaded.State, err)
			}
			if err := repo.Update(ctx, stream("c1"), events.Metadata{}, func(c *counter) error { return c.Fail("") }); err == nil {
				t.Fatal("Update with a failing command succeeded")
			}
			if got := view(t, repo, stream("c1")); got.Failures != 3 {
				t.Fatalf("after a failed command: %+v", got)
			}
			if l, _ := store.Load(ctx, stream("c1"), 0); len(l.Events) != 3 {
				t.Fatalf("stream holds %d events after a failed command, want 3", len(l.Events))
			}
		})
	}
}

func TestRepository_RepeatedCauseIsSkipped(t *testing.T) {
	store := newStore()
	ctx := context.Background()
	meta := events.Metadata{CausationID: "input-1"}
	repo := newRepo(t, store, aggregate.Config{CacheSize: 10})
	if err := repo.Update(ctx, stream("c1"), meta, func(c *counter) error { return c.Fail("once") }); err != nil {
		t.Fatal(err)
	}
	if err := repo.Update(ctx, stream("c1"), meta, func(c *counter) error { return c.Fail("once") }); !errors.Is(err, aggregate.ErrAlreadyApplied) {
		t.Fatalf("repeated cause: err = %v, want ErrAlreadyApplied", err)
	}
	// A fresh repository (another process) recognises it from the stored events too.
	other := newRepo(t, store, aggregate.Config{})
	if err := other.Update(ctx, stream("c1"), meta, func(c *counter) error { return c.Fail("once") }); !errors.Is(err, aggregate.ErrAlreadyApplied) {
		t.Fatalf("repeated cause in another repository: err = %v, want ErrAlreadyApplied", err)
	}
	if l, _ := store.Load(ctx, stream("c1"), 0); len(l.Events) != 1 {
		t.Fatalf("stream holds %d events, want 1", len(l.Events))
	}
	for cause, want := range map[string]bool{"input-1": true, "input-2": false} {
		if got, err := other.Applied(ctx, stream("c1"), cause); err != nil || got != want {
			t.Errorf("Applied(%s) = %v, %v; want %v", cause, got, err, want)
		}
	}
	if v, err := other.Version(ctx, stream("c1")); err != nil || v != 1 {
		t.Errorf("Version = %d, %v; want 1", v, err)
	}
}

func TestRepository_ConcurrentUpdatesAllLand(t *testing.T) {
	store := newStore()
	a, b := newRepo(t, store, aggregate.Config{CacheSize: 100}), newRepo(t, store, aggregate.Config{CacheSize: 100})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 40 {
		repo := a
		if i%2 == 1 {
			repo = b // two processes: each one's cache goes stale
		}
		wg.Go(func() {
			if err := repo.Update(ctx, stream("c1"), events.Metadata{}, func(c *counter) error { return c.Fail(fmt.Sprint(i)) }); err != nil {
				t.Errorf("Update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	root, _, err := a.Read(ctx, stream("c1"))
	if err != nil || root.Failures != 40 {
		t.Fatalf("after 40 concurrent updates: %d failures, %v", root.Failures, err)
	}
}

func TestRepository_NoChangeKeepsTheCachedAggregate(t *testing.T) {
	store := newStore()
	repo := newRepo(t, store, aggregate.Config{CacheSize: 10})
	ctx := context.Background()
	if err := repo.Update(ctx, stream("c1"), events.Metadata{}, func(c *counter) error { return c.Fail("x") }); err != nil {
		t.Fatal(err)
	}
	if err := repo.Update(ctx, stream("c1"), events.Metadata{}, func(*counter) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if repo.Cached() != 1 {
		t.Fatalf("a command that raised nothing dropped the aggregate from the cache")
	}
}

func TestRepository_SnapshotsOnEvictionAndLoadsFromThem(t *testing.T) {
	store := newStore()
	snaps := aggregate.NewMemorySnapshots()
	repo := newRepo(t, store, aggregate.Config{CacheSize: 1, Snapshots: snaps})
	ctx := context.Background()
	for i := range 5 {
		if err := repo.Update(ctx, stream("c1"), events.Metadata{CausationID: fmt.Sprint("in-", i)}, func(c *counter) error { return c.Fail(fmt.Sprint(i)) }); err != nil {
			t.Fatal(err)
		}
	}
	// Touching another aggregate pushes c1 out of the one-entry cache: it is saved.
	if err := repo.Update(ctx, stream("c2"), events.Metadata{}, func(c *counter) error { return c.Fail("y") }); err != nil {
		t.Fatal(err)
	}
	if snaps.Len() != 1 {
		t.Fatalf("%d snapshots after an eviction, want 1", snaps.Len())
	}
	// Another writer appends after the snapshot; a new repository restores the snapshot and
	// folds only what came after, and still recognises old causes.
	if _, err := store.Append(ctx, stream("c1"), events.ExpectVersion(5), events.NewEvent(&connectorv1.RecordFailed{Message: "later"}, events.Metadata{})); err != nil {
		t.Fatal(err)
	}
	fresh := newRepo(t, store, aggregate.Config{CacheSize: 10, Snapshots: snaps})
	if got := view(t, fresh, stream("c1")); got.Failures != 6 || got.Last != "later" {
		t.Fatalf("from snapshot: %+v, want 6 failures ending with later", got)
	}
	if err := fresh.Update(ctx, stream("c1"), events.Metadata{CausationID: "in-3"}, func(c *counter) error { return c.Fail("again") }); !errors.Is(err, aggregate.ErrAlreadyApplied) {
		t.Fatalf("a cause kept in the snapshot: err = %v, want ErrAlreadyApplied", err)
	}
	folded, _, err := fresh.Read(ctx, stream("c1"))
	if err != nil || folded.Failures != 6 {
		t.Fatalf("Read: %+v, %v", folded, err)
	}
	// A snapshot of another schema is ignored.
	snaps.Put(stream("c1"), aggregate.Snapshot{State: events.State{Version: 6, Token: 99}, Schema: "counter/0", Data: []byte(`{"failures":1000}`)})
	other := newRepo(t, store, aggregate.Config{Snapshots: snaps})
	if got := view(t, other, stream("c1")); got.Failures != 6 {
		t.Fatalf("with a foreign snapshot: %+v, want 6 failures", got)
	}
}
