package app

import (
	"context"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// SkipOrder is the retry service's RetryExhausted of a record.
type SkipOrder struct {
	Envelope  events.Envelope
	Exhausted *retryv1.RetryExhausted
}

// SkipOrderHandler marks orders whose retries ran out skipped.
type SkipOrderHandler struct{ d Deps }

// isOrderRecord reports whether a record is an order on a WMS connection: the orders service's.
func isOrderRecord(ref *connectorv1.RecordRef) bool {
	return ref.GetRecordKind() == connectorv1.RecordKind_RECORD_KIND_ORDER &&
		ref.GetSystemKind() == connectorv1.SystemKind_SYSTEM_KIND_WMS && events.ValidToken(ref.GetRecordId()) &&
		events.ValidToken(ref.GetAccountId())
}

// skipReason maps the retry service's reason to the order's.
func skipReason(r retryv1.ExhaustedReason) ordersv1.SkipReason {
	switch r {
	case retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_CONSECUTIVE_FAILURES:
		return ordersv1.SkipReason_SKIP_REASON_MAX_CONSECUTIVE_FAILURES
	case retryv1.ExhaustedReason_EXHAUSTED_REASON_REJECTED:
		return ordersv1.SkipReason_SKIP_REASON_REJECTED
	}
	return ordersv1.SkipReason_SKIP_REASON_MAX_AGE
}

// Handle skips the order (OrderSkipped) when it is still new; records that are not orders, and
// orders that went through, were held or cancelled meanwhile, change nothing.
func (h SkipOrderHandler) Handle(ctx context.Context, c SkipOrder) error {
	ref := c.Exhausted.GetRecord()
	if !isOrderRecord(ref) {
		return nil
	}
	now := h.d.Clock.Now()
	return applied(h.d.Orders.Update(ctx, order.Stream(ref.GetAccountId(), ref.GetRecordId()), events.CausedBy(c.Envelope), func(o *order.Order) error {
		if !o.Exists() {
			return nil
		}
		return o.Skip(skipReason(c.Exhausted.GetReason()), now)
	}))
}
