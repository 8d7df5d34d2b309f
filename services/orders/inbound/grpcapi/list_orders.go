package grpcapi

import (
	"context"
	"fmt"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	ordersrm "github.com/reboundhq/rebound/projections/orders"
	"github.com/reboundhq/rebound/projections/tenancy"
	"github.com/reboundhq/rebound/services/orders/app"
)

// statusSelections maps the API's status selections to the read model's.
var statusSelections = map[ordersv1.OrderStatusSelection]ordersrm.Selection{
	ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_UNSPECIFIED:          ordersrm.SelectAny,
	ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_ANY:                  ordersrm.SelectAny,
	ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_NEW:                  ordersrm.SelectNew,
	ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_AT_WMS:               ordersrm.SelectAtWMS,
	ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_ERROR:                ordersrm.SelectError,
	ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_SKIPPED:              ordersrm.SelectSkipped,
	ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_CANCELED:             ordersrm.SelectCanceled,
	ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_SHIPPED:              ordersrm.SelectShipped,
	ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_CONFIRMED:            ordersrm.SelectConfirmed,
	ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_NEW_OR_AT_WMS:        ordersrm.SelectNewOrAtWMS,
	ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_SHIPPED_OR_CONFIRMED: ordersrm.SelectShippedOrConfirmed,
}

// ListOrders implements OrderService: the request is validated, the caller's access derived
// (access), and the page read from the orders read model.
func (s *Orders) ListOrders(ctx context.Context, req *ordersv1.ListOrdersRequest) (*ordersv1.ListOrdersResponse, error) {
	q := app.ListOrders{
		Account: req.GetAccountId(), ConnectionID: req.GetConnectionId(), OrderNumber: req.GetOrderNumber(),
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	}
	sel, ok := statusSelections[req.GetStatus()]
	if !ok {
		return nil, fieldErr("status", fmt.Sprintf("unknown value %d", req.GetStatus()))
	}
	q.Status = sel
	if err := q.Validate(); err != nil {
		return nil, err
	}
	acc, err := tenancy.Access(ctx, q.Account)
	if err != nil {
		return nil, err
	}
	q.Access = acc
	page, err := s.app.Queries.ListOrders.Handle(ctx, q)
	if err != nil {
		return nil, err
	}
	return &ordersv1.ListOrdersResponse{Orders: page.Orders, NextPageToken: page.NextPageToken}, nil
}
