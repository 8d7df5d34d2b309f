package app

import (
	"context"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// CancelSending is a person's request to stop sending an order.
type CancelSending struct {
	OrderRef
	By            string
	Reason        string
	CorrelationID string
	Authorize     Authorize
}

// CancelSendingHandler cancels sending orders.
type CancelSendingHandler struct{ d Deps }

// Handle cancels sending (OrderSendingCanceled); its report ends the retry series.
func (h CancelSendingHandler) Handle(ctx context.Context, c CancelSending) (*ordersv1.Order, error) {
	now := h.d.Clock.Now()
	return h.d.personCommand(ctx, c.OrderRef, c.Authorize, c.CorrelationID, func(o *order.Order) error {
		return o.CancelSending(c.By, c.Reason, now)
	})
}
