package app

import (
	"context"
	"fmt"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/holds"
	"github.com/reboundhq/rebound/services/orders/domain/order"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
)

// TrackHold is a stored OrderHeld.
type TrackHold struct {
	Envelope events.Envelope
	Held     *ordersv1.OrderHeld
}

// TrackHoldHandler keeps the holds index of ship method mappings.
type TrackHoldHandler struct{ d Deps }

// Handle lists an order held on an unmapped ship method code in its cart connection's holds
// index, so that saving a mapping for the code finds it. Then, for an order held before it was
// sent (its code had no mapping when the attempt started), it reads the mappings from the store: a
// mapping saved meanwhile (whose release did not see the order in the index yet) releases it here.
// An order the WMS refused with a mapped method stays held until the mapping changes. Holds for
// other reasons are not tracked.
func (h TrackHoldHandler) Handle(ctx context.Context, c TrackHold) error {
	if c.Held.GetReason() != order.ReasonShipMethodUnmapped {
		return nil
	}
	stream := c.Envelope.Stream()
	var (
		cartID, code = "", c.Held.GetShipMethodCode()
		unsent       bool
	)
	if err := h.d.Orders.View(ctx, stream, func(o *order.Order) {
		cartID = o.CartConnectionID()
		f := o.Snapshot().GetLastFailure()
		unsent = f.GetAttemptId() == c.Held.GetAttemptId() && !f.GetSent()
	}); err != nil {
		return err
	}
	if cartID == "" || code == "" {
		return nil // not an order of this service's, or a hold without its code: nothing to track
	}
	hold := &ordersv1.HeldOrder{OrderId: stream.ID, ShipMethodCode: code, AttemptId: c.Held.GetAttemptId(), HeldAt: c.Held.GetHeldAt()}
	index := holds.Stream(stream.Account, cartID)
	err := h.d.Holds.Update(ctx, index, events.CausedBy(c.Envelope), func(x *holds.Index) error {
		return x.Track(hold.GetOrderId(), code, hold.GetAttemptId(), c.Held.GetHeldAt().AsTime())
	})
	if err := applied(err); err != nil {
		return fmt.Errorf("tracking the hold of order %s: %w", stream.ID, err)
	}
	if !unsent {
		return nil
	}
	mappings, _, err := h.d.Mappings.Read(ctx, shipmap.Stream(stream.Account, cartID))
	if err != nil {
		return ignoreNotFound(err)
	}
	if !mappings.Resolve(code).Mapped() {
		return nil
	}
	return h.d.release(ctx, stream.Account, cartID, mappings, []*ordersv1.HeldOrder{hold}, "ship-method-mapping", events.CausedBy(c.Envelope))
}
