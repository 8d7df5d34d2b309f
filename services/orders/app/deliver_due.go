package app

import (
	"context"
	"errors"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/orders/domain"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// DeliverDue is the retry service's command to attempt an order again (retry.due.wms.order).
type DeliverDue struct {
	Due           *retryv1.RetryDue
	CorrelationID string
}

// DeliverDueHandler makes the retry service's attempts.
type DeliverDueHandler struct{ d Deps }

// personal reports whether a person asked for the attempt (RetryService.RetryNow, a resend
// through the alert): it then also applies to a held or skipped order, which is resent first.
func personal(t retryv1.AttemptTrigger) bool {
	return t == retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RETRY_NOW || t == retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RESEND_REQUESTED
}

// Handle starts the attempt with the command's attempt id, sends it and records its outcome
// (reported with that id). An order that is not new (at the WMS, held, skipped, cancelled) drops
// the command, except that a person's retry of a held or skipped order resends it first
// (OrderResendRequested by order.ActorRetryService). A redelivered command sends its attempt if
// that has no outcome yet.
func (h DeliverDueHandler) Handle(ctx context.Context, c DeliverDue) error {
	due := c.Due
	id := due.GetAttemptId()
	if err := errors.Join(token("record.account_id", due.GetRecord().GetAccountId()), token("record.record_id", due.GetRecord().GetRecordId())); err != nil {
		return err
	}
	if id == "" {
		return fieldErr("attempt_id", "is required")
	}
	stream := order.Stream(due.GetRecord().GetAccountId(), due.GetRecord().GetRecordId())
	now := h.d.Clock.Now()
	meta := events.Metadata{CorrelationID: c.CorrelationID, CausationID: id}
	err := h.d.Orders.Update(ctx, stream, meta, func(o *order.Order) error {
		if !o.Exists() {
			return nil
		}
		switch o.Status() {
		case ordersv1.OrderStatus_ORDER_STATUS_NEW:
		case ordersv1.OrderStatus_ORDER_STATUS_ERROR, ordersv1.OrderStatus_ORDER_STATUS_SKIPPED:
			if !personal(due.GetTrigger()) {
				return nil
			}
			if err := o.RequestResend(order.ActorRetryService, now); err != nil {
				return err
			}
		default:
			return nil
		}
		sm, err := h.d.resolve(ctx, o)
		if err != nil {
			return err
		}
		err = o.AttemptDelivery(id, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY, sm, now)
		if errors.Is(err, domain.ErrWrongState) {
			return nil
		}
		return err
	})
	if err != nil && !errors.Is(err, aggregate.ErrAlreadyApplied) {
		return err
	}
	return h.d.sendPending(ctx, stream, id, c.CorrelationID)
}
