package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/projections"
	ordersrm "github.com/reboundhq/rebound/projections/orders"
)

// MaxOrderPageSize is the largest page ListOrders returns.
const MaxOrderPageSize = projections.MaxPageSize

// selections are the status selections ListOrders accepts.
var selections = []ordersrm.Selection{
	ordersrm.SelectAny, ordersrm.SelectNew, ordersrm.SelectAtWMS, ordersrm.SelectError, ordersrm.SelectSkipped,
	ordersrm.SelectCanceled, ordersrm.SelectShipped, ordersrm.SelectConfirmed, ordersrm.SelectNewOrAtWMS,
	ordersrm.SelectShippedOrConfirmed,
}

// ListOrders asks for one page of orders.
type ListOrders struct {
	// Access is what the caller may see (derived from its API key); required.
	Access projections.Access
	// Account keeps one account's orders; it must already be authorized for the caller.
	Account string
	// Status selects by status (a status word or a combination); empty means any.
	Status ordersrm.Selection
	// ConnectionID keeps the orders whose cart or WMS connection is this one.
	ConnectionID string
	// OrderNumber keeps the orders with this order number.
	OrderNumber string
	// PageSize caps the page (0: projections.DefaultPageSize; at most MaxOrderPageSize).
	PageSize int
	// PageToken is the previous page's token; empty for the first page.
	PageToken string
}

// Validate reports every problem with the query's arguments, naming the request's fields.
func (q ListOrders) Validate() error {
	var errs []error
	if q.Account != "" {
		errs = append(errs, token("account_id", q.Account))
	}
	if q.Status != "" && !slices.Contains(selections, q.Status) {
		errs = append(errs, fieldErr("status", "%q is not a status selection", string(q.Status)))
	}
	if q.ConnectionID != "" {
		errs = append(errs, token("connection_id", q.ConnectionID))
	}
	if len(q.OrderNumber) > connector.MaxRefLen || !utf8.ValidString(q.OrderNumber) {
		errs = append(errs, fieldErr("order_number", "must be valid UTF-8 of at most %d bytes", connector.MaxRefLen))
	}
	if q.PageSize < 0 || q.PageSize > MaxOrderPageSize {
		errs = append(errs, fieldErr("page_size", "%d must be between 0 and %d", q.PageSize, MaxOrderPageSize))
	}
	return errors.Join(errs...)
}

// OrderPage is one page of orders.
type OrderPage struct {
	Orders        []*ordersv1.Order
	NextPageToken string
}

// ListOrdersHandler lists orders from the orders read model.
type ListOrdersHandler struct{ d Deps }

// Handle returns the page, newest received first. Errors: ErrNoReadModels without the read
// model; InvalidArgument naming the field for bad arguments (page_token included).
func (h ListOrdersHandler) Handle(ctx context.Context, q ListOrders) (OrderPage, error) {
	if h.d.OrderList == nil {
		return OrderPage{}, fmt.Errorf("list orders: %w", ErrNoReadModels)
	}
	if err := q.Validate(); err != nil {
		return OrderPage{}, err
	}
	if err := checkAccess(q.Access); err != nil {
		return OrderPage{}, err
	}
	orders, next, err := h.d.OrderList.List(ctx, q.Access,
		ordersrm.Filter{Account: q.Account, Status: q.Status, OrderNumber: q.OrderNumber, Connection: q.ConnectionID},
		projections.Page{Size: q.PageSize, Cursor: q.PageToken})
	if err != nil {
		return OrderPage{}, pageTokenError(err)
	}
	return OrderPage{Orders: orders, NextPageToken: next}, nil
}
