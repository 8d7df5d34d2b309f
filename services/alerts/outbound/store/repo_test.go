package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/services/alerts/domain/index"
	"github.com/reboundhq/rebound/services/alerts/outbound/store"
)

// countingStore counts loads.
type countingStore struct {
	events.Store
	loads atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, stream events.StreamID, from uint64) (events.Loaded, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, stream, from)
}

func newStore() *countingStore {
	return &countingStore{Store: memstore.New(events.NewRegistry(index.EventTypes()...))}
}

func ref(id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{AccountId: "m1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, ConnectionId: "wms-1",
		SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms", RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id}
}

func track(r *store.Repo[*index.Index], meta events.Metadata, id, alertType string) error {
	return r.Update(context.Background(), index.Stream(ref(id)), meta, func(x *index.Index) error {
		return x.Track(ref(id), alertType, "alt_"+alertType, time.Now())
	})
}

func TestRepo_noOpCommandsKeepTheAggregateCached(t *testing.T) {
	t.Parallel()
	s := newStore()
	r, err := store.NewRepo(s, index.New, 10)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := track(r, events.Metadata{}, "1", "timeout"); err != nil {
			t.Fatal(err)
		}
	}
	var entries []index.Entry
	if err := r.View(context.Background(), index.Stream(ref("1")), func(x *index.Index) { entries = x.Entries() }); err != nil {
		t.Fatal(err)
	}
	if got := s.loads.Load(); got != 1 || len(entries) != 1 {
		t.Fatalf("%d loads, %d entries: want one load (the first) and one entry", got, len(entries))
	}
}

func TestRepo_redeliveredInputIsAppliedOnce(t *testing.T) {
	t.Parallel()
	s := newStore()
	meta := events.Metadata{CausationID: events.NewEventID()}
	for i, size := range []int{10, 0} { // cached, then loaded by a fresh repository
		r, _ := store.NewRepo(s, index.New, size)
		err := track(r, meta, "1", "timeout")
		if i == 0 && err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			err = track(r, meta, "1", "server_error")
		}
		if !errors.Is(err, aggregate.ErrAlreadyApplied) {
			t.Fatalf("repository %d: %v, want ErrAlreadyApplied", i, err)
		}
	}
	if l, _ := s.Store.Load(context.Background(), index.Stream(ref("1")), 0); len(l.Events) != 1 {
		t.Fatalf("%d events stored, want 1", len(l.Events))
	}
}

func TestRepo_conflictsReloadAndRetry(t *testing.T) {
	t.Parallel()
	s := newStore()
	// Two processes, each with its cache: their caches go stale, appends conflict, Update
	// reloads and runs the command again.
	repos := []*store.Repo[*index.Index]{}
	for range 2 {
		r, _ := store.NewRepo(s, index.New, 10)
		repos = append(repos, r)
	}
	types := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for round := range 2 {
		var wg sync.WaitGroup
		for i, typ := range types {
			wg.Go(func() {
				if err := track(repos[i%2], events.Metadata{}, "1", typ+string(rune('0'+round))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	l, err := s.Store.Load(context.Background(), index.Stream(ref("1")), 0)
	if err != nil || len(l.Events) != 2*len(types) {
		t.Fatalf("%d events (%v), want %d", len(l.Events), err, 2*len(types))
	}
}

func TestRepo_refusedCommandStoresNothing(t *testing.T) {
	t.Parallel()
	s := newStore()
	r, _ := store.NewRepo(s, index.New, 10)
	err := r.Update(context.Background(), index.Stream(ref("1")), events.Metadata{}, func(x *index.Index) error {
		return x.Track(ref("2"), "timeout", "alt_x", time.Now()) // another record's
	})
	if !errors.Is(err, events.ErrInvalidArgument) {
		t.Fatalf("err = %v, want invalid argument", err)
	}
	if _, err := s.Store.Load(context.Background(), index.Stream(ref("1")), 0); !errors.Is(err, events.ErrNotFound) {
		t.Fatalf("load: %v, want nothing stored", err)
	}
}
