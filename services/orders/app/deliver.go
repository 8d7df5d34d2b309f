package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/orders/domain"
	"github.com/reboundhq/rebound/services/orders/domain/order"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
	"github.com/reboundhq/rebound/services/orders/outbound/remote"
	"github.com/reboundhq/rebound/services/orders/outbound/wms"
)

// Deliver is a stored order event after which the orders service may make an attempt of its own:
// OrderReceived (trigger received), OrderEdited (edited) or OrderResendRequested (resend
// requested).
type Deliver struct {
	Envelope events.Envelope
	Trigger  ordersv1.DeliveryTrigger
}

// DeliverHandler makes the orders service's own attempts.
type DeliverHandler struct{ d Deps }

// Handle starts an attempt when the order is new and has no retry series (otherwise the retry
// service owns the attempt), sends it to the WMS and records the outcome. A redelivered event
// sends the attempt it started if that has no outcome yet.
func (h DeliverHandler) Handle(ctx context.Context, c Deliver) error {
	stream := c.Envelope.Stream()
	now := h.d.Clock.Now()
	var started string
	err := h.d.Orders.Update(ctx, stream, events.CausedBy(c.Envelope), func(o *order.Order) error {
		started = ""
		if o.Status() != ordersv1.OrderStatus_ORDER_STATUS_NEW || o.RetrySeries() {
			return nil
		}
		sm, err := h.d.resolve(ctx, o)
		if err != nil {
			return err
		}
		id := o.NextAttemptID()
		if err := o.AttemptDelivery(id, c.Trigger, sm, now); err != nil {
			return err
		}
		if p, ok := o.Pending(); ok && p == id {
			started = id
		}
		return nil
	})
	if errors.Is(err, aggregate.ErrAlreadyApplied) {
		if started, err = h.d.attemptCausedBy(ctx, stream, c.Envelope.EventID); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if started == "" {
		return nil
	}
	return h.d.sendPending(ctx, stream, started, c.Envelope.CorrelationID)
}

// resolve returns what the order's ship method code resolves to with its cart connection's
// mappings now.
func (d Deps) resolve(ctx context.Context, o *order.Order) (domain.ShipMethod, error) {
	var sm domain.ShipMethod
	err := d.Mappings.View(ctx, shipmap.Stream(o.Stream().Account, o.CartConnectionID()), func(m *shipmap.Mappings) {
		sm = m.Resolve(o.ShipMethodCode())
	})
	if err != nil {
		return domain.ShipMethod{}, fmt.Errorf("ship method mappings of cart connection %s: %w", o.CartConnectionID(), err)
	}
	return sm, nil
}

// attemptCausedBy returns the attempt an input started on the order, from its stored events.
func (d Deps) attemptCausedBy(ctx context.Context, stream events.StreamID, causationID string) (string, error) {
	_, loaded, err := d.Orders.Read(ctx, stream)
	if err != nil {
		return "", err
	}
	for _, rec := range loaded.Events {
		if a, ok := rec.Message.(*ordersv1.OrderDeliveryAttempted); ok && rec.CausationID == causationID {
			return a.GetAttemptId(), nil
		}
	}
	return "", nil
}

// sendPending sends attempt attemptID of the order when it is still the one in flight (no
// outcome stored, not ended by an edit, resend or cancellation), and records its outcome.
func (d Deps) sendPending(ctx context.Context, stream events.StreamID, attemptID, correlationID string) error {
	var snap *ordersv1.Order
	if err := d.Orders.View(ctx, stream, func(o *order.Order) { snap = o.Snapshot() }); err != nil {
		return err
	}
	if snap.GetPendingAttemptId() != attemptID {
		return nil
	}
	conn, cc, err := d.wmsOf(ctx, snap)
	if err != nil {
		return err
	}
	account, connID := cc.GetSettings().GetAccountId(), cc.GetSettings().GetConnectionId()
	attemptedAt := d.Clock.Now()
	acc, err := conn.SendOrder(ctx, wms.OrderOf(snap, snap.GetWmsShipMethod()))
	now := d.Clock.Now()
	meta := outcomeMeta(correlationID, attemptID)
	if err != nil {
		f, ok := remote.AsFailure(err)
		if !ok {
			return fmt.Errorf("sending order %s: %w", snap.GetOrderId(), err)
		}
		d.Health.Failure(account, connID, f.Message, now)
		err := d.Orders.Update(ctx, stream, meta, func(o *order.Order) error {
			res := d.Classifier.Classify(f.Report(o.RecordRef(), attemptID, attemptedAt, now))
			return o.RecordFailure(order.Failure{
				AttemptID: attemptID, Message: f.Message, Code: f.Code, HTTPStatus: int32(f.HTTPStatus),
				RetryAfter: f.RetryAfter, AttemptedAt: attemptedAt, FailedAt: now,
			}, order.Classification{Class: res.Class, AlertType: res.AlertType}, now)
		})
		if err := applied(err); err != nil {
			return fmt.Errorf("recording the failure of attempt %s: %w", attemptID, err)
		}
		d.Log.Debug("order delivery failed", slog.String("account", stream.Account), slog.String("order_id", stream.ID),
			slog.String("attempt_id", attemptID), slog.Int("http_status", f.HTTPStatus), slog.String("code", f.Code))
		return nil
	}
	d.Health.Success(account, connID, now)
	err = d.Orders.Update(ctx, stream, meta, func(o *order.Order) error {
		return o.RecordAccepted(attemptID, acc.WMSOrderID, acc.Duplicate, now)
	})
	if err := applied(err); err != nil {
		return fmt.Errorf("recording the acceptance of attempt %s: %w", attemptID, err)
	}
	return nil
}
