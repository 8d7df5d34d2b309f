package app

import (
	"context"
	"errors"
	"strings"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// CancelForRetry is the retry service's RetryCanceled of a record.
type CancelForRetry struct {
	Envelope events.Envelope
	Canceled *retryv1.RetryCanceled
}

// CancelForRetryHandler keeps an order in step with a person's RetryService.CancelRetry.
type CancelForRetryHandler struct{ d Deps }

// Handle cancels sending the order (OrderSendingCanceled) when a person cancelled its retries:
// otherwise the order would wait for attempts its retry series will no longer make. An order
// already cancelled (the series ended because the order was), or one the WMS has, changes
// nothing.
func (h CancelForRetryHandler) Handle(ctx context.Context, c CancelForRetry) error {
	ref := c.Canceled.GetRecord()
	if !isOrderRecord(ref) {
		return nil
	}
	now := h.d.Clock.Now()
	actor := c.Canceled.GetActor()
	if actor == "" || !strings.HasPrefix(actor, "retry:") {
		actor = "retry:" + actor
	}
	if len(actor) > 256 {
		actor = actor[:256]
	}
	err := h.d.Orders.Update(ctx, order.Stream(ref.GetAccountId(), ref.GetRecordId()), events.CausedBy(c.Envelope), func(o *order.Order) error {
		if !o.Exists() || !o.RetrySeries() {
			return nil
		}
		return o.CancelSending(actor, "retries cancelled in the retry service", now)
	})
	if errors.Is(err, domain.ErrWrongState) {
		return nil
	}
	return applied(err)
}
