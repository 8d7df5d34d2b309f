package app

import (
	"context"
	"errors"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// OrderRef names one order of an account, as callers name it.
type OrderRef struct {
	Account string
	OrderID string
}

// Validate checks the reference.
func (r OrderRef) Validate() error {
	return errors.Join(token("account_id", r.Account), token("order_id", r.OrderID))
}

// authorizedOrder checks the caller against a loaded order (missing: NotFound for a caller who
// may know).
func authorizedOrder(check Authorize, ref OrderRef, o *order.Order) error {
	found := o != nil && o.Exists()
	warehouse := ""
	if found {
		warehouse = o.Snapshot().GetWarehouseId()
	}
	return authorized(check, ref.Account, warehouse, found, "order "+ref.OrderID)
}

// personCommand runs a person's command on an order: it checks the caller against the loaded
// order, runs fn and returns the order's state after it.
func (d Deps) personCommand(ctx context.Context, ref OrderRef, check Authorize, correlationID string, fn func(o *order.Order) error) (*ordersv1.Order, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	var out *ordersv1.Order
	err := d.Orders.Update(ctx, order.Stream(ref.Account, ref.OrderID), events.Metadata{CorrelationID: correlationID}, func(o *order.Order) error {
		if err := authorizedOrder(check, ref, o); err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
		out = o.Snapshot()
		return nil
	})
	return out, err
}
