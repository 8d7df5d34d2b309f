package app

import (
	"context"
	"errors"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// MaxHistory is the most events GetOrder returns at once.
const MaxHistory = 1000

// GetOrder reads one order and its history.
type GetOrder struct {
	OrderRef
	// FromVersion is the first version of the history to return (0 or 1: from the start).
	FromVersion uint64
	// Limit caps the history (0: MaxHistory; at most MaxHistory).
	Limit     int
	Authorize Authorize
}

// Validate reports every problem with the query's arguments.
func (q GetOrder) Validate() error {
	errs := []error{q.OrderRef.Validate()}
	if q.Limit < 0 || q.Limit > MaxHistory {
		errs = append(errs, fieldErr("history_limit", "%d must be between 0 and %d", q.Limit, MaxHistory))
	}
	return errors.Join(errs...)
}

// OrderView is an order's state and a page of its history.
type OrderView struct {
	Order   *ordersv1.Order
	Version uint64
	History []events.Record
	// NextVersion is the version to ask for next when the history was cut; 0 when complete.
	NextVersion uint64
}

// GetOrderHandler reads orders from the event store.
type GetOrderHandler struct{ d Deps }

// Handle loads the order (one read of its stream) and folds it.
func (h GetOrderHandler) Handle(ctx context.Context, q GetOrder) (OrderView, error) {
	if err := q.Validate(); err != nil {
		return OrderView{}, err
	}
	o, loaded, err := h.d.Orders.Read(ctx, order.Stream(q.Account, q.OrderID))
	if err != nil && !errors.Is(err, events.ErrNotFound) {
		return OrderView{}, err
	}
	if err := authorizedOrder(q.Authorize, q.OrderRef, o); err != nil {
		return OrderView{}, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = MaxHistory
	}
	v := OrderView{Order: o.Snapshot(), Version: loaded.State.Version}
	v.History, v.NextVersion = events.HistoryPage(loaded.Events, q.FromVersion, limit)
	return v, nil
}
