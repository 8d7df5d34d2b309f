package index_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/index"
)

// The repository mechanics (locks, cache, conflicts, causes, snapshots) are tested in
// events/aggregate; these tests check what the alerts service relies on with the index.

// countingStore counts loads.
type countingStore struct {
	events.Store
	loads atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, stream events.StreamID, from uint64) (events.Loaded, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, stream, from)
}

func newRepository(t *testing.T, cfg aggregate.Config) (*aggregate.Repository[*index.Index], *countingStore) {
	t.Helper()
	s := &countingStore{Store: memstore.New(events.NewRegistry(index.EventTypes()...))}
	repo, err := aggregate.NewRepository(s, index.New, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return repo, s
}

func track(repo *aggregate.Repository[*index.Index], meta events.Metadata, r *connectorv1.RecordRef, typ string) error {
	return repo.Update(context.Background(), index.Stream(r), meta, func(x *index.Index) error {
		return x.Track(r, typ, alert.IDOf(r, typ), t0)
	})
}

// Every failure of a record tracks its alert type; a type already listed raises nothing, and
// the index stays cached instead of being loaded again for each failure.
func TestRepository_repeatedTrackKeepsTheIndexCached(t *testing.T) {
	t.Parallel()
	repo, s := newRepository(t, aggregate.Config{CacheSize: 10})
	r := order("1001")
	for range 5 {
		if err := track(repo, events.Metadata{}, r, "timeout"); err != nil {
			t.Fatal(err)
		}
	}
	var entries []index.Entry
	if err := repo.View(context.Background(), index.Stream(r), func(x *index.Index) { entries = x.Entries() }); err != nil {
		t.Fatal(err)
	}
	if got := s.loads.Load(); got != 1 || len(entries) != 1 {
		t.Fatalf("%d loads, %d entries: want one load (the first) and one entry", got, len(entries))
	}
}

// A report delivered again is recognised by a repository that keeps the index and by one that
// restores it from a snapshot, and tracks nothing twice.
func TestRepository_redeliveredReportIsTrackedOnce(t *testing.T) {
	t.Parallel()
	snaps := aggregate.NewMemorySnapshots()
	repo, s := newRepository(t, aggregate.Config{CacheSize: 1, Snapshots: snaps})
	r := order("1001")
	meta := events.Metadata{CausationID: events.NewEventID()}
	if err := track(repo, meta, r, "timeout"); err != nil {
		t.Fatal(err)
	}
	if err := track(repo, meta, r, "server_error"); !errors.Is(err, aggregate.ErrAlreadyApplied) {
		t.Fatalf("cached: %v, want ErrAlreadyApplied", err)
	}
	if err := track(repo, events.Metadata{}, order("1002"), "timeout"); err != nil { // evicts 1001
		t.Fatal(err)
	}
	if snaps.Len() != 1 {
		t.Fatalf("%d snapshots, want the evicted index's", snaps.Len())
	}
	if err := track(repo, meta, r, "server_error"); !errors.Is(err, aggregate.ErrAlreadyApplied) {
		t.Fatalf("from the snapshot: %v, want ErrAlreadyApplied", err)
	}
	if l, _ := s.Store.Load(context.Background(), index.Stream(r), 0); len(l.Events) != 1 {
		t.Fatalf("%d events stored, want 1", len(l.Events))
	}
}

// Tracking another record's alert on an index is refused, and stores nothing.
func TestRepository_refusedTrackStoresNothing(t *testing.T) {
	t.Parallel()
	repo, s := newRepository(t, aggregate.Config{CacheSize: 10})
	err := repo.Update(context.Background(), index.Stream(order("1")), events.Metadata{}, func(x *index.Index) error {
		return x.Track(order("2"), "timeout", alert.IDOf(order("2"), "timeout"), t0)
	})
	if !errors.Is(err, events.ErrInvalidArgument) {
		t.Fatalf("err = %v, want invalid argument", err)
	}
	if _, err := s.Store.Load(context.Background(), index.Stream(order("1")), 0); !errors.Is(err, events.ErrNotFound) {
		t.Fatalf("load: %v, want nothing stored", err)
	}
}
