package app

import (
	"context"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// EditOrder is a person's change of an order's payload.
type EditOrder struct {
	OrderRef
	// Edit holds the new values; unset fields keep theirs.
	Edit order.Edit
	// By is who edits: a user's email or "api-key:<key id>".
	By            string
	CorrelationID string
	Authorize     Authorize
}

// EditOrderHandler edits orders.
type EditOrderHandler struct{ d Deps }

// Handle edits the order (OrderEdited; a held or skipped order is also released). The attempt
// that follows is the orders service's own when the order has not failed since it was received
// or cancelled, else the retry service's (see the package documentation).
func (h EditOrderHandler) Handle(ctx context.Context, c EditOrder) (*ordersv1.Order, error) {
	now := h.d.Clock.Now()
	return h.d.personCommand(ctx, c.OrderRef, c.Authorize, c.CorrelationID, func(o *order.Order) error {
		return o.Edit(c.Edit, c.By, now)
	})
}
