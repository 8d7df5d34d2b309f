package domain_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/services/retry/domain"
)

func newRepository(t *testing.T, cache int) (*aggregate.Repository[*domain.Schedule], events.Store) {
	t.Helper()
	store := memstore.New(events.NewRegistry(domain.Events()...))
	repo, err := aggregate.NewRepository(store, domain.New, aggregate.Config{CacheSize: cache})
	if err != nil {
		t.Fatal(err)
	}
	return repo, store
}

func TestRepository_storesAndRebuildsSchedules(t *testing.T) {
	t.Parallel()
	for _, cache := range []int{0, 16} {
		t.Run(fmt.Sprint("cache=", cache), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			repo, store := newRepository(t, cache)
			ref := orderRef(fmt.Sprint("#R1-", cache))
			stream := domain.StreamOf(ref)
			c := newClock()

			report := failure(ref, "a0", c.Now())
			input := events.Envelope{EventID: events.NewEventID(), EventType: events.TypeName(report)}
			record := func(s *domain.Schedule) error { return s.RecordFailure(report, transient, orderPolicy(), c.Now()) }
			var next time.Time
			var ok bool
			must(t, repo.Update(ctx, stream, events.CausedBy(input), func(s *domain.Schedule) error {
				if err := record(s); err != nil {
					return err
				}
				next, ok = s.NextAttemptAt()
				return nil
			}))
			// The same report delivered again is recognised and not applied twice.
			if err := repo.Update(ctx, stream, events.CausedBy(input), record); !errors.Is(err, aggregate.ErrAlreadyApplied) {
				t.Fatalf("redelivered failure: %v, want ErrAlreadyApplied", err)
			}

			if !ok {
				t.Fatal("no attempt scheduled")
			}
			c.Set(next)
			fire := func(s *domain.Schedule) error { return s.Fire(c.Now()) }
			must(t, repo.Update(ctx, stream, events.Metadata{}, fire))
			loaded, err := store.Load(ctx, stream, 0)
			must(t, err)
			if n := len(loaded.Events); n != 2 {
				t.Fatalf("%d events stored, want 2", n)
			}
			// A second firing of the same timer stores nothing.
			must(t, repo.Update(ctx, stream, events.Metadata{}, fire))
			again, err := store.Load(ctx, stream, 0)
			must(t, err)
			if again.State != loaded.State {
				t.Fatalf("the second Fire moved the stream from %+v to %+v", loaded.State, again.State)
			}

			last := loaded.Events[1]
			if got, want := events.Subject(last.Stream(), last.EventType), "evt.retry.merchant-1."+connector.RecordKeyOf(ref)+".RetryAttemptDue"; got != want {
				t.Fatalf("stored on %s, want %s", got, want)
			}
			due := domain.DueCommandOf(last.Message.(*retryv1.RetryAttemptDue))
			if due.GetAttempt() != 1 || due.GetScheduleId() != stream.ID {
				t.Fatalf("due command %v", due)
			}

			root, l, err := repo.Read(ctx, stream)
			must(t, err)
			if root.Status() != retryv1.RetryStatus_RETRY_STATUS_SCHEDULED || root.Attempts() != 1 {
				t.Fatalf("read %s with %d attempts", root.Status(), root.Attempts())
			}
			folded, err := repo.Fold(stream, l.Events)
			must(t, err)
			var cached *retryv1.RetrySchedule
			must(t, repo.View(ctx, stream, func(s *domain.Schedule) { cached = s.Snapshot() }))
			if !proto.Equal(folded.Snapshot(), root.Snapshot()) || !proto.Equal(cached, root.Snapshot()) {
				t.Fatal("folding the history, reading the stream and viewing the schedule differ")
			}

			must(t, repo.Update(ctx, stream, events.Metadata{}, func(s *domain.Schedule) error {
				return s.RecordSucceeded(success(ref, due.GetAttemptId(), c.Advance(time.Second)), c.Now())
			}))
			root, l, err = repo.Read(ctx, stream)
			must(t, err)
			if root.Status() != retryv1.RetryStatus_RETRY_STATUS_COMPLETED || l.State.Version != 3 {
				t.Fatalf("after the success: %s at version %d", root.Status(), l.State.Version)
			}
		})
	}
}

func TestRepository_refusedCommandStoresNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo, store := newRepository(t, 0)
	ref := orderRef("#R2")
	stream := domain.StreamOf(ref)
	err := repo.Update(ctx, stream, events.Metadata{}, func(s *domain.Schedule) error { return s.RetryNow("ops", t0) })
	if !errors.Is(err, domain.ErrWrongState) {
		t.Fatalf("RetryNow of an unknown record: %v, want ErrWrongState", err)
	}
	other := orderRef("#R2-other")
	err = repo.Update(ctx, stream, events.Metadata{}, func(s *domain.Schedule) error {
		return s.RecordFailure(failure(other, "a0", t0), transient, orderPolicy(), t0)
	})
	if !errors.Is(err, events.ErrInvalidArgument) {
		t.Fatalf("a failure of another record: %v, want ErrInvalidArgument", err)
	}
	if _, err := store.Load(ctx, stream, 0); !errors.Is(err, events.ErrNotFound) {
		t.Fatalf("stream after refused commands: %v, want ErrNotFound", err)
	}
}
