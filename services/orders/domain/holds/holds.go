// Package holds is the holds index of a cart connection: the orders held because their ship
// method code is not mapped, stored as evt.shipmap_holds.<account>.<cart connection id>.<EventType>
// (bookkeeping of the orders service, not part of the public contract).
//
// The index is what lets a saved mapping release every order held on its code at once without a
// read model: the orders service tracks each ship_method_unmapped hold here (Track) when the
// order's OrderHeld is stored, and when a mapping is saved (or pass-through turned on) it offers a
// release to every hold the mapping concerns (Held) and then drops them from the index (Release).
// An order that is no longer held on that code by then ignores the release, so the index may list
// more than is held, never less.
package holds

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
)

// AggregateType is the aggregate type of the holds index. A persisted identifier.
const AggregateType = "shipmap_holds"

// Stream returns the index of one cart connection of an account.
func Stream(account, cartConnectionID string) events.StreamID {
	return events.StreamID{AggregateType: AggregateType, Account: account, ID: cartConnectionID}
}

// EventTypes lists every event the index stores.
func EventTypes() []proto.Message {
	return []proto.Message{&ordersv1.ShipMethodHoldTracked{}, &ordersv1.ShipMethodHoldsReleased{}}
}

// Index is the holds of one cart connection. Not safe for concurrent use.
type Index struct {
	aggregate.Recorder

	stream events.StreamID
	holds  map[key]*ordersv1.HeldOrder
}

type key struct{ orderID, attemptID string }

func keyOf(h *ordersv1.HeldOrder) key { return key{h.GetOrderId(), h.GetAttemptId()} }

var _ aggregate.Root = (*Index)(nil)

// New returns the empty index of a stream (see Stream).
func New(stream events.StreamID) *Index {
	return &Index{stream: stream, holds: make(map[key]*ordersv1.HeldOrder)}
}

// Len returns how many holds the index lists.
func (x *Index) Len() int { return len(x.holds) }

// Track lists an order held on an unmapped code by the failure of attempt attemptID
// (ShipMethodHoldTracked). Tracking a listed hold again changes nothing.
func (x *Index) Track(orderID, code, attemptID string, heldAt time.Time) error {
	var errs []error
	if !events.ValidToken(orderID) {
		errs = append(errs, &connector.FieldError{Field: "order_id", Reason: fmt.Sprintf("%q is not an order id", orderID)})
	}
	if strings.TrimSpace(code) == "" {
		errs = append(errs, &connector.FieldError{Field: "ship_method_code", Reason: "is required"})
	}
	if attemptID == "" {
		errs = append(errs, &connector.FieldError{Field: "attempt_id", Reason: "is required"})
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	h := &ordersv1.HeldOrder{OrderId: orderID, ShipMethodCode: code, AttemptId: attemptID, HeldAt: timestamppb.New(heldAt.UTC())}
	if _, ok := x.holds[keyOf(h)]; ok {
		return nil
	}
	x.raise(&ordersv1.ShipMethodHoldTracked{AccountId: x.stream.Account, CartConnectionId: x.stream.ID, Hold: h})
	return nil
}

// Held returns the holds a release concerns: those on its code (compared as mappings compare
// codes, without surrounding spaces), or every hold when it releases all codes; sorted.
func (x *Index) Held(r shipmap.Release) []*ordersv1.HeldOrder {
	var out []*ordersv1.HeldOrder
	for _, h := range x.holds {
		if r.AllCodes || strings.TrimSpace(h.GetShipMethodCode()) == strings.TrimSpace(r.Code) {
			out = append(out, proto.CloneOf(h))
		}
	}
	sortHolds(out)
	return out
}

// Release drops holds from the index once they were offered a release
// (ShipMethodHoldsReleased); holds it does not list are ignored, and nothing listed changes
// nothing.
func (x *Index) Release(holds []*ordersv1.HeldOrder, now time.Time) {
	var listed []*ordersv1.HeldOrder
	seen := make(map[key]bool, len(holds))
	for _, h := range holds {
		k := keyOf(h)
		if cur, ok := x.holds[k]; ok && !seen[k] {
			seen[k] = true
			listed = append(listed, proto.CloneOf(cur))
		}
	}
	if len(listed) == 0 {
		return
	}
	sortHolds(listed)
	x.raise(&ordersv1.ShipMethodHoldsReleased{
		AccountId: x.stream.Account, CartConnectionId: x.stream.ID, Holds: listed, ReleasedAt: timestamppb.New(now.UTC()),
	})
}

// Snapshot returns the index as its state message.
func (x *Index) Snapshot() *ordersv1.ShipMethodHolds {
	out := &ordersv1.ShipMethodHolds{AccountId: x.stream.Account, CartConnectionId: x.stream.ID}
	for _, h := range x.holds {
		out.Holds = append(out.Holds, proto.CloneOf(h))
	}
	sortHolds(out.Holds)
	return out
}

func sortHolds(hs []*ordersv1.HeldOrder) {
	slices.SortFunc(hs, func(a, b *ordersv1.HeldOrder) int {
		return cmp.Or(strings.Compare(a.GetShipMethodCode(), b.GetShipMethodCode()),
			strings.Compare(a.GetOrderId(), b.GetOrderId()), strings.Compare(a.GetAttemptId(), b.GetAttemptId()))
	})
}

// Apply folds one stored event into the index.
func (x *Index) Apply(r events.Record) error {
	if err := r.Decoded(); err != nil {
		return err
	}
	return x.apply(r.Message)
}

func (x *Index) raise(msg proto.Message) {
	if err := x.apply(msg); err != nil {
		panic(fmt.Sprintf("holds: applying own event: %v", err)) // every raised type is handled
	}
	x.Raise(msg)
}

func (x *Index) apply(msg proto.Message) error {
	switch e := msg.(type) {
	case *ordersv1.ShipMethodHoldTracked:
		x.holds[keyOf(e.GetHold())] = e.GetHold()
	case *ordersv1.ShipMethodHoldsReleased:
		for _, h := range e.GetHolds() {
			delete(x.holds, keyOf(h))
		}
	default:
		return fmt.Errorf("holds: %w", &events.UnknownTypeError{Type: events.TypeName(msg)})
	}
	return nil
}
