package order

import (
	"errors"
	"time"

	"google.golang.org/protobuf/proto"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
)

// Shipment is a shipment of the order as the WMS reported it.
type Shipment struct {
	// WMSOrderID is the WMS's id of the order, if it gave one.
	WMSOrderID string
	// Tracking is the shipment's tracking (carrier and tracking number are required).
	Tracking *ordersv1.Tracking
}

// Ship records the WMS's shipment of the order (OrderShipped, status shipped); the app then pushes
// the tracking to the cart. The WMS is the authority on what it holds: an order it ships without
// having acknowledged it (the acknowledgement was lost, or it was held or cancelled meanwhile) is
// accepted first (OrderAcceptedByWMS, via_shipment), so its retries stop. The same shipment
// reported again changes nothing; a different tracking is a correction (another OrderShipped, and
// a confirmed order goes back to shipped until the cart accepts the new tracking).
func (o *Order) Ship(s Shipment, now time.Time) error {
	if err := errors.Join(validTracking(s.Tracking), text("wms_order_id", s.WMSOrderID, 256, false)); err != nil {
		return err
	}
	if o.st == nil {
		return o.wrongState("ship")
	}
	now = utc(now)
	switch o.Status() {
	case ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED:
		if proto.Equal(s.Tracking, o.st.GetTracking()) && (s.WMSOrderID == "" || s.WMSOrderID == o.st.GetWmsOrderId()) {
			return nil
		}
	}
	if o.beforeWMS() {
		attempt := o.st.GetPendingAttemptId()
		if attempt == "" {
			attempt = o.st.GetLastAttemptId()
		}
		if attempt == "" {
			attempt = o.stream.ID + "-shipment"
		}
		o.accept(attempt, s.WMSOrderID, false, true, now)
	}
	o.raise(&ordersv1.OrderShipped{
		Record: o.RecordRef(), TrackingRecord: o.TrackingRef(), WmsOrderId: s.WMSOrderID,
		Tracking: proto.CloneOf(s.Tracking), RecordedAt: ts(now),
	})
	return nil
}

// RecordTrackingPushed records that the cart accepted the tracking pushed in attempt attemptID
// (OrderConfirmed, status confirmed), with the cart's fulfillment id if it gave one. A confirmed
// order changes nothing; an order that has not shipped cannot be confirmed (ErrWrongState).
func (o *Order) RecordTrackingPushed(attemptID, cartFulfillmentID string, attemptedAt, now time.Time) error {
	if err := errors.Join(validAttemptID(attemptID), text("cart_fulfillment_id", cartFulfillmentID, 256, false)); err != nil {
		return err
	}
	switch o.Status() {
	case ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED:
		return nil
	case ordersv1.OrderStatus_ORDER_STATUS_SHIPPED:
	default:
		return o.wrongState("confirm")
	}
	now = utc(now)
	o.raise(&ordersv1.OrderConfirmed{
		TrackingRecord: o.TrackingRef(), AttemptId: attemptID, CartFulfillmentId: cartFulfillmentID,
		AttemptedAt: ts(attemptedAt), ConfirmedAt: ts(now),
	})
	return nil
}

// RecordTrackingPushFailure records that pushing the tracking to the cart failed
// (OrderTrackingPushFailed); the retry service retries it on the cart connection's sync cycles.
// The order stays shipped. A failure after the cart confirmed is stale and changes nothing; an
// order that has not shipped has no tracking to push (ErrWrongState).
func (o *Order) RecordTrackingPushFailure(f Failure, c Classification, now time.Time) error {
	if err := f.validate(c); err != nil {
		return err
	}
	switch o.Status() {
	case ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED:
		return nil
	case ordersv1.OrderStatus_ORDER_STATUS_SHIPPED:
	default:
		return o.wrongState("record a tracking failure of")
	}
	fe := f.proto(c, nil, utc(now))
	fe.Sent = true
	o.raise(&ordersv1.OrderTrackingPushFailed{TrackingRecord: o.TrackingRef(), Failure: fe})
	return nil
}
