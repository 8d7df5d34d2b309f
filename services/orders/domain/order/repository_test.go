package order_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

func TestRepository_storesOrdersOnTheirSubjectsOnce(t *testing.T) {
	t.Parallel()
	for _, cache := range []int{0, 16} {
		t.Run(fmt.Sprint("cache=", cache), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store := memstore.New(events.NewRegistry(order.EventTypes()...))
			repo, err := aggregate.NewRepository(store, order.New, aggregate.Config{CacheSize: cache})
			must(t, err)
			c := newClock()
			number := fmt.Sprint("#R-", cache)
			stream := order.StreamOf(account, cartID, number)

			submit := func(o *order.Order) error {
				_, err := o.Receive(submission(number), c.Now())
				return err
			}
			input := events.Envelope{EventID: events.NewEventID()}
			must(t, repo.Update(ctx, stream, events.CausedBy(input), submit))
			// The same request redelivered is recognised; a new request with the same payload
			// changes nothing either.
			if err := repo.Update(ctx, stream, events.CausedBy(input), submit); !errors.Is(err, aggregate.ErrAlreadyApplied) {
				t.Fatalf("redelivered submission: %v, want ErrAlreadyApplied", err)
			}
			must(t, repo.Update(ctx, stream, events.Metadata{}, submit))

			must(t, repo.Update(ctx, stream, events.Metadata{}, func(o *order.Order) error {
				if err := o.AttemptDelivery(o.NextAttemptID(), ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, unmapped(), c.Advance(time.Second)); err != nil {
					return err
				}
				wantStatus(t, o, stError)
				return nil
			}))

			loaded, err := store.Load(ctx, stream, 0)
			must(t, err)
			if got := types(messages(loaded.Events)); fmt.Sprint(got) != "[OrderReceived OrderDeliveryFailed OrderHeld]" {
				t.Fatalf("stored %v", got)
			}
			last := loaded.Events[2]
			if got, want := events.Subject(last.Stream(), last.EventType), "evt.order.merchant-1."+order.ID(account, cartID, number)+".OrderHeld"; got != want {
				t.Fatalf("stored on %s, want %s", got, want)
			}
			// A wrong-state command stores nothing and says so.
			err = repo.Update(ctx, stream, events.Metadata{}, func(o *order.Order) error {
				return o.AttemptDelivery("rec_1-w1-a1", ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY, mapped(), c.Now())
			})
			wantWrongState(t, err)
			rebuilt, loaded2, err := repo.Read(ctx, stream)
			must(t, err)
			if loaded2.State.Version != 3 || rebuilt.HeldReason() != order.ReasonShipMethodUnmapped {
				t.Fatalf("reloaded version %d, held %q", loaded2.State.Version, rebuilt.HeldReason())
			}
		})
	}
}

func messages(recs []events.Record) []proto.Message {
	out := make([]proto.Message, len(recs))
	for i, r := range recs {
		out[i] = r.Message
	}
	return out
}
