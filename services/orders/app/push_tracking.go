package app

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/order"
	"github.com/reboundhq/rebound/services/orders/outbound/cart"
	"github.com/reboundhq/rebound/services/orders/outbound/remote"
)

// PushTracking is a stored OrderShipped: the shipment's tracking goes to the cart.
type PushTracking struct {
	Envelope events.Envelope
	Shipped  *ordersv1.OrderShipped
}

// PushTrackingHandler makes the first push of each shipment's tracking.
type PushTrackingHandler struct{ d Deps }

// Handle pushes the tracking to the order's cart connection and records the outcome
// (OrderConfirmed, or OrderTrackingPushFailed, whose report the retry service retries on the
// connection's next sync cycle). A shipment already pushed (the event handled before) or
// corrected since is not pushed.
func (h PushTrackingHandler) Handle(ctx context.Context, c PushTracking) error {
	stream := c.Envelope.Stream()
	done, err := h.d.Orders.Applied(ctx, stream, c.Envelope.EventID)
	if err != nil || done {
		return err
	}
	return h.d.pushTracking(ctx, stream, "", events.CausedBy(c.Envelope), c.Shipped.GetTracking())
}

// PushTrackingDue is the retry service's command to push an order's tracking again
// (retry.due.cart.tracking).
type PushTrackingDue struct {
	Due           *retryv1.RetryDue
	CorrelationID string
}

// PushTrackingDueHandler makes the retry service's tracking pushes.
type PushTrackingDueHandler struct{ d Deps }

// Handle pushes the tracking of the order the command names with the command's attempt id, when
// the order is shipped and not confirmed; a command for a record that is not one of this
// service's orders changes nothing (other connectors read the same subject).
func (h PushTrackingDueHandler) Handle(ctx context.Context, c PushTrackingDue) error {
	ref, id := c.Due.GetRecord(), c.Due.GetAttemptId()
	if ref.GetRecordKind() != connectorv1.RecordKind_RECORD_KIND_TRACKING || !events.ValidToken(ref.GetAccountId()) ||
		!events.ValidToken(ref.GetRecordId()) || id == "" {
		return nil
	}
	stream := order.Stream(ref.GetAccountId(), ref.GetRecordId())
	done, err := h.d.Orders.Applied(ctx, stream, id)
	if err != nil || done {
		return err
	}
	return h.d.pushTracking(ctx, stream, id, events.Metadata{CorrelationID: c.CorrelationID, CausationID: id}, nil)
}

// pushTracking pushes a shipped order's tracking with attemptID (empty: the order's next own
// attempt id) and records the outcome with meta. With want set, only that tracking is pushed.
func (d Deps) pushTracking(ctx context.Context, stream events.StreamID, attemptID string, meta events.Metadata, want *ordersv1.Tracking) error {
	var snap *ordersv1.Order
	err := d.Orders.View(ctx, stream, func(o *order.Order) {
		snap = o.Snapshot()
		if attemptID == "" && o.Exists() {
			attemptID = o.NextTrackingAttemptID()
		}
	})
	if err != nil {
		return err
	}
	if snap.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_SHIPPED || want != nil && !proto.Equal(want, snap.GetTracking()) {
		return nil
	}
	conn, cc, err := d.cartOf(ctx, snap.GetAccountId(), snap.GetWarehouseId(), snap.GetCart().GetConnectionId())
	if err != nil {
		return err
	}
	account, connID := cc.GetSettings().GetAccountId(), cc.GetSettings().GetConnectionId()
	attemptedAt := d.Clock.Now()
	receipt, err := conn.PushTracking(ctx, cart.FulfillmentOf(snap))
	now := d.Clock.Now()
	if err != nil {
		f, ok := remote.AsFailure(err)
		if !ok {
			return fmt.Errorf("pushing the tracking of order %s: %w", stream.ID, err)
		}
		d.Health.Failure(account, connID, f.Message, now)
		return applied(d.Orders.Update(ctx, stream, meta, func(o *order.Order) error {
			res := d.Classifier.Classify(f.Report(o.TrackingRef(), attemptID, attemptedAt, now))
			return o.RecordTrackingPushFailure(order.Failure{
				AttemptID: attemptID, Message: f.Message, Code: f.Code, HTTPStatus: int32(f.HTTPStatus),
				RetryAfter: f.RetryAfter, AttemptedAt: attemptedAt, FailedAt: now,
			}, order.Classification{Class: res.Class, AlertType: res.AlertType}, now)
		}))
	}
	d.Health.Success(account, connID, now)
	return applied(d.Orders.Update(ctx, stream, meta, func(o *order.Order) error {
		return o.RecordTrackingPushed(attemptID, receipt.FulfillmentID, attemptedAt, now)
	}))
}
