package alert_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/services/alerts/domain"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

func newRepository(t *testing.T, store events.Store, cache int) *aggregate.Repository[*alert.Alert] {
	t.Helper()
	factory, err := alert.NewFactory(alert.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	repo, err := aggregate.NewRepository(store, factory, aggregate.Config{CacheSize: cache})
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func newStore() *memstore.Store { return memstore.New(events.NewRegistry(alert.EventTypes()...)) }

func TestRepository_updateClosureStoresTheEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore()
	repo := newRepository(t, store, 0)
	ref := order("1001")
	stream := alert.Stream("merchant-1", alert.IDOf(ref, "ship_method_unmapped"))

	for i := range 3 {
		r := shipMethod(ref, fmt.Sprint("a", i), at(time.Duration(i)*time.Hour))
		if err := repo.Update(ctx, stream, events.Metadata{}, func(a *alert.Alert) error {
			_, err := a.RecordFailure(failure(r), at(time.Duration(i)*time.Hour))
			return err
		}); err != nil {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	root, loaded, err := repo.Read(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	s := root.Snapshot()
	if s.GetOccurrences() != 3 || !s.GetNeedsAttention() || loaded.State.Version != 4 {
		t.Fatalf("loaded %v at version %d; want 3 occurrences in 4 events (raised, attention, 2 occurred)", s, loaded.State.Version)
	}
	if subject := events.Subject(stream, loaded.Events[0].EventType); subject != "evt.alert.merchant-1."+stream.ID+".AlertRaised" {
		t.Fatalf("subject %s", subject)
	}

	// A refused command stores nothing and reports the domain error as is.
	if err := repo.Update(ctx, stream, events.Metadata{}, func(a *alert.Alert) error {
		if err := a.Dismiss("ops@example.com", "", at(4*time.Hour)); err != nil {
			return err
		}
		return a.Dismiss("ops@example.com", "", at(5*time.Hour))
	}); !errors.Is(err, domain.ErrWrongState) {
		t.Fatalf("dismissing twice: %v, want ErrWrongState", err)
	}
	if root, l, _ := repo.Read(ctx, stream); l.State.Version != 4 || !root.Open() {
		t.Fatalf("a refused command stored events: version %d, status %v", l.State.Version, root.Status())
	}
}

func TestRepository_concurrentFailuresMakeOneAlert(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore()
	// Two repositories with caches on one store: each one's cache goes stale, the append meets
	// a conflict, and Update reloads and runs the command again.
	repos := []*aggregate.Repository[*alert.Alert]{newRepository(t, store, 10), newRepository(t, store, 10)}
	ref := order("1001")
	stream := alert.Stream("merchant-1", alert.IDOf(ref, "wms_unavailable"))
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := unavailable(ref, fmt.Sprint("a", i), at(time.Duration(i)*time.Minute))
			if err := repos[i%2].Update(ctx, stream, events.Metadata{}, func(a *alert.Alert) error {
				_, err := a.RecordFailure(failure(r), at(time.Hour))
				return err
			}); err != nil {
				t.Errorf("failure %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	_, loaded, err := repos[0].Read(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	hist := loaded.Events
	raised := 0
	for _, r := range hist {
		if _, ok := r.Message.(*alertsv1.AlertRaised); ok {
			raised++
		}
	}
	root, _, err := repos[1].Read(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	s := root.Snapshot()
	if raised != 1 || s.GetOccurrences() != n || len(hist) != n {
		t.Fatalf("%d AlertRaised, %d occurrences in %d events; want 1 alert with %d occurrences", raised, s.GetOccurrences(), len(hist), n)
	}
	if !s.GetLastSeenAt().AsTime().Equal(at((n - 1) * time.Minute)) {
		t.Fatalf("last seen %v", s.GetLastSeenAt().AsTime())
	}
}

func TestRepository_redeliveredInputIsAppliedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := newRepository(t, newStore(), 10)
	ref := order("1001")
	stream := alert.Stream("merchant-1", alert.IDOf(ref, "wms_unavailable"))
	input := events.Envelope{EventID: events.NewEventID()}
	cmd := func(a *alert.Alert) error {
		_, err := a.RecordFailure(failure(unavailable(ref, "a1", at(0))), at(0))
		return err
	}
	if err := repo.Update(ctx, stream, events.CausedBy(input), cmd); err != nil {
		t.Fatal(err)
	}
	if err := repo.Update(ctx, stream, events.CausedBy(input), cmd); !errors.Is(err, aggregate.ErrAlreadyApplied) {
		t.Fatalf("redelivery: %v, want ErrAlreadyApplied", err)
	}
}
