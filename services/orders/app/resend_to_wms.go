package app

import (
	"context"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// ResendToWMS is a person's request to send an order again.
type ResendToWMS struct {
	OrderRef
	By            string
	CorrelationID string
	Authorize     Authorize
}

// ResendToWMSHandler resends orders.
type ResendToWMSHandler struct{ d Deps }

// Handle stores the request (OrderResendRequested, status new); the attempt follows from it.
func (h ResendToWMSHandler) Handle(ctx context.Context, c ResendToWMS) (*ordersv1.Order, error) {
	now := h.d.Clock.Now()
	return h.d.personCommand(ctx, c.OrderRef, c.Authorize, c.CorrelationID, func(o *order.Order) error {
		return o.RequestResend(c.By, now)
	})
}
