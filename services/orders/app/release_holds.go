package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/protobuf/proto"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/holds"
	"github.com/reboundhq/rebound/services/orders/domain/order"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
)

// ReleaseHolds is a stored ship method mappings event.
type ReleaseHolds struct {
	Envelope events.Envelope
	Event    proto.Message
}

// ReleaseHoldsHandler releases the orders a saved mapping concerns.
type ReleaseHoldsHandler struct{ d Deps }

// Handle releases, at once, every order held on the code a ShipMethodMappingSet maps (every
// code, when ShipMethodPassThroughChanged turned pass-through on): each listed order is offered
// order.ReleaseShipMethod with what its code resolves to now (OrderReleased, cause
// ship_method_mapped, for those still held on it), then the holds leave the index. Each release is
// reported as an edit, which makes the retry service attempt the order at once. Other mappings
// events release nothing.
func (h ReleaseHoldsHandler) Handle(ctx context.Context, c ReleaseHolds) error {
	r, ok := shipmap.Releases(c.Event)
	if !ok {
		return nil
	}
	actor := ""
	switch e := c.Event.(type) {
	case *ordersv1.ShipMethodMappingSet:
		actor = e.GetActor()
	case *ordersv1.ShipMethodPassThroughChanged:
		actor = e.GetActor()
	}
	index, _, err := h.d.Holds.Read(ctx, holds.Stream(r.Account, r.CartConnectionID))
	if err != nil {
		return ignoreNotFound(err)
	}
	held := index.Held(r)
	if len(held) == 0 {
		return nil
	}
	mappings, _, err := h.d.Mappings.Read(ctx, shipmap.Stream(r.Account, r.CartConnectionID))
	if err != nil {
		return ignoreNotFound(err)
	}
	if err := h.d.release(ctx, r.Account, r.CartConnectionID, mappings, held, actor, events.CausedBy(c.Envelope)); err != nil {
		return err
	}
	h.d.Log.Info("held orders released by a ship method mapping", slog.String("account", r.Account),
		slog.String("cart_connection_id", r.CartConnectionID), slog.String("ship_method_code", r.Code),
		slog.Bool("all_codes", r.AllCodes), slog.Int("orders", len(held)))
	return nil
}

// release offers each hold a release with mappings and then drops the holds from the index.
// Holds whose code the mappings do not map stay listed.
func (d Deps) release(ctx context.Context, account, cartID string, mappings *shipmap.Mappings, held []*ordersv1.HeldOrder, actor string, meta events.Metadata) error {
	now := d.Clock.Now()
	var done []*ordersv1.HeldOrder
	for _, hd := range held {
		if mappings.Resolve(hd.GetShipMethodCode()).Mapped() {
			done = append(done, hd)
		}
	}
	if len(done) == 0 {
		return nil
	}
	err := parallel(len(done), func(i int) error {
		stream := order.Stream(account, done[i].GetOrderId())
		err := d.Orders.Update(ctx, stream, meta, func(o *order.Order) error {
			if !o.Exists() {
				return nil
			}
			return o.ReleaseShipMethod(mappings.Resolve(o.ShipMethodCode()), actor, now)
		})
		if err := applied(err); err != nil {
			return fmt.Errorf("releasing order %s: %w", stream.ID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = d.Holds.Update(ctx, holds.Stream(account, cartID), events.Metadata{CorrelationID: meta.CorrelationID}, func(x *holds.Index) error {
		x.Release(done, now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("dropping %d released holds: %w", len(done), err)
	}
	return nil
}

// ignoreNotFound turns events.ErrNotFound (nothing stored yet) into success.
func ignoreNotFound(err error) error {
	if errors.Is(err, events.ErrNotFound) {
		return nil
	}
	return err
}
