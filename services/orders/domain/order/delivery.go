package order

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/services/orders/domain"
)

// Codes and alert types the order itself uses for a failure it finds before sending. Persisted
// (they are in stored events and alerts): add, rename none.
const (
	// CodeShipMethodUnmapped is the code of the failure that holds an order whose cart ship code
	// has no mapping (connector/classify maps it to manual_action, ship_method_unmapped).
	CodeShipMethodUnmapped = "SHIP_METHOD_UNMAPPED"
	// ReasonShipMethodUnmapped is the held reason (alert type) of such an order.
	ReasonShipMethodUnmapped = "ship_method_unmapped"
	// ReasonManualAction is the held reason of a manual-action failure that came without an alert
	// type.
	ReasonManualAction = "manual_action"
	// ActorRetryService is the actor of a resend the retry service asked for: a person's
	// RetryService.RetryNow (or AlertService.ResendRecord) of a held or skipped order. The retry
	// service already started a fresh window for it, so its OrderResendRequested is not reported.
	ActorRetryService = "retry-service"
)

// Failure is a failed attempt as a connector saw it: the fields of a connectorv1.RecordFailed.
type Failure struct {
	// AttemptID is the attempt that failed.
	AttemptID string
	// Message is the external system's message, verbatim (at most connector.MaxMessageLen bytes).
	Message string
	// Code is the external system's error code, or a transport code such as "timeout".
	Code string
	// HTTPStatus is the HTTP status the system answered with; 0 when there was none.
	HTTPStatus int32
	// RetryAfter is the delay the system asked for; 0 when none.
	RetryAfter time.Duration
	// AttemptedAt is when the attempt started; zero takes the start the order recorded.
	AttemptedAt time.Time
	// FailedAt is when the failure was observed; zero takes now.
	FailedAt time.Time
}

// Classification is what the classifier (connector/classify) said about a failure.
type Classification struct {
	// Class decides what follows: manual_action holds the order, rejected skips it, the others
	// leave it to the retry service.
	Class connectorv1.ErrorClass
	// AlertType is the failure's alert type, e.g. "address_invalid"; a held order keeps it as its
	// held reason.
	AlertType string
}

// AttemptDelivery starts an attempt to send the order to the WMS, with the ship method its cart
// code resolves to now (shipmap.Mappings.Resolve of ShipMethodCode). It is allowed while the
// order is new; otherwise it is ErrWrongState (a retry of an order that is at the WMS, held,
// skipped or cancelled is dropped by the caller).
//
// When the code is mapped (or passed through) the attempt starts (OrderDeliveryAttempted) and
// Pending returns it: the app sends the order and records the outcome with RecordAccepted or
// RecordFailure. When it is not, nothing is sent: the attempt fails at once with code
// SHIP_METHOD_UNMAPPED (OrderDeliveryFailed, sent=false) and the order is held
// (OrderHeld, reason ship_method_unmapped) until the code is mapped (ReleaseShipMethod), the order
// is edited or a resend is requested. Starting the attempt already in flight again is a no-op.
func (o *Order) AttemptDelivery(attemptID string, trigger ordersv1.DeliveryTrigger, sm domain.ShipMethod, now time.Time) error {
	errs := []error{validAttemptID(attemptID), text("ship_method.wms_method", sm.WMSMethod, 256, false)}
	if _, ok := ordersv1.DeliveryTrigger_name[int32(trigger)]; !ok || trigger == ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_UNSPECIFIED {
		errs = append(errs, fieldErr("trigger", "unknown value %d", trigger))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if o.Status() != ordersv1.OrderStatus_ORDER_STATUS_NEW {
		return o.wrongState("send")
	}
	if sm.Code != o.st.GetShipMethodCode() {
		return fieldErr("ship_method.code", "resolved for %q, but the order's ship method code is %q", sm.Code, o.st.GetShipMethodCode())
	}
	if o.st.GetPendingAttemptId() == attemptID {
		return nil
	}
	now = utc(now)
	if !sm.Mapped() {
		o.raise(&ordersv1.OrderDeliveryFailed{Record: o.RecordRef(), Failure: &ordersv1.Failure{
			AttemptId: attemptID,
			Message: fmt.Sprintf("Ship method %q of cart connection %s is not mapped to a WMS ship method",
				sm.Code, o.st.GetCart().GetConnectionId()),
			Code: CodeShipMethodUnmapped, AttemptedAt: ts(now), FailedAt: ts(now),
			Class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION, AlertType: ReasonShipMethodUnmapped,
		}})
		o.raise(&ordersv1.OrderHeld{
			Record: o.RecordRef(), AttemptId: attemptID, Reason: ReasonShipMethodUnmapped,
			ShipMethodCode: sm.Code, HeldAt: ts(now),
		})
		return nil
	}
	o.raise(&ordersv1.OrderDeliveryAttempted{
		Record: o.RecordRef(), AttemptId: attemptID, Attempt: o.st.GetAttempts() + 1, Trigger: trigger,
		WmsShipMethod: sm.WMSMethod, ShipMethodPassedThrough: sm.PassThrough, AttemptedAt: ts(now),
	})
	return nil
}

// RecordAccepted records that the WMS accepted the order (OrderAcceptedByWMS, status at_wms);
// duplicate says the WMS already had it under the attempt's idempotency key. The acceptance of
// any attempt counts — the WMS has the order, even when it was edited, held or cancelled
// meanwhile. An order already at the WMS (or shipped) changes nothing.
func (o *Order) RecordAccepted(attemptID, wmsOrderID string, duplicate bool, now time.Time) error {
	if err := errors.Join(validAttemptID(attemptID), text("wms_order_id", wmsOrderID, 256, true)); err != nil {
		return err
	}
	if o.st == nil {
		return o.wrongState("accept")
	}
	if !o.beforeWMS() {
		return nil
	}
	o.accept(attemptID, wmsOrderID, duplicate, false, utc(now))
	return nil
}

// accept raises OrderAcceptedByWMS.
func (o *Order) accept(attemptID, wmsOrderID string, duplicate, viaShipment bool, now time.Time) {
	e := &ordersv1.OrderAcceptedByWMS{
		Record: o.RecordRef(), AttemptId: attemptID, WmsOrderId: wmsOrderID, Duplicate: duplicate,
		ViaShipment: viaShipment, AcceptedAt: ts(now),
	}
	if attemptID == o.st.GetLastAttemptId() {
		e.AttemptedAt = o.st.GetLastAttemptAt()
	}
	o.raise(e)
}

// beforeWMS reports whether the WMS has not accepted the order yet.
func (o *Order) beforeWMS() bool {
	switch o.Status() {
	case ordersv1.OrderStatus_ORDER_STATUS_NEW, ordersv1.OrderStatus_ORDER_STATUS_ERROR,
		ordersv1.OrderStatus_ORDER_STATUS_SKIPPED, ordersv1.OrderStatus_ORDER_STATUS_CANCELED:
		return true
	}
	return false
}

// RecordFailure records that the attempt in flight failed (OrderDeliveryFailed) and what
// follows from its class: manual_action holds the order (OrderHeld, reason the alert type),
// rejected skips it (OrderSkipped, reason rejected), the other classes leave it new for the
// retry service to try again. A failure of any other attempt than the one in flight is stale
// and changes nothing.
func (o *Order) RecordFailure(f Failure, c Classification, now time.Time) error {
	if err := f.validate(c); err != nil {
		return err
	}
	if o.st == nil {
		return o.wrongState("record a failure of")
	}
	if o.st.GetPendingAttemptId() != f.AttemptID {
		return nil
	}
	now = utc(now)
	fe := f.proto(c, o.st.GetLastAttemptAt(), now)
	fe.Sent = true
	o.raise(&ordersv1.OrderDeliveryFailed{Record: o.RecordRef(), Failure: fe})
	switch c.Class {
	case connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION:
		reason := c.AlertType
		if reason == "" {
			reason = ReasonManualAction
		}
		held := &ordersv1.OrderHeld{Record: o.RecordRef(), AttemptId: f.AttemptID, Reason: reason, HeldAt: ts(now)}
		if reason == ReasonShipMethodUnmapped {
			held.ShipMethodCode = o.st.GetShipMethodCode()
		}
		o.raise(held)
	case connectorv1.ErrorClass_ERROR_CLASS_REJECTED:
		o.raise(&ordersv1.OrderSkipped{Record: o.RecordRef(), Reason: ordersv1.SkipReason_SKIP_REASON_REJECTED, SkippedAt: ts(now)})
	}
	return nil
}

// proto returns the failure as stored; attemptedAt and now fill in missing times.
func (f Failure) proto(c Classification, attemptedAt *timestamppb.Timestamp, now time.Time) *ordersv1.Failure {
	out := &ordersv1.Failure{
		AttemptId: f.AttemptID, Message: f.Message, Code: f.Code, HttpStatus: f.HTTPStatus,
		AttemptedAt: ts(f.AttemptedAt), FailedAt: ts(f.FailedAt), Class: c.Class, AlertType: c.AlertType,
	}
	if f.RetryAfter > 0 {
		out.RetryAfter = durationpb.New(f.RetryAfter)
	}
	if out.AttemptedAt == nil {
		out.AttemptedAt = attemptedAt
	}
	if out.FailedAt == nil {
		out.FailedAt = ts(now)
	}
	return out
}

// Skip records that the retry service gave up on the order (OrderSkipped, status skipped):
// reason max_age or max_consecutive_failures (or rejected). It applies to a new order only;
// otherwise (the order went through, was held, cancelled or skipped already) it changes nothing.
func (o *Order) Skip(reason ordersv1.SkipReason, now time.Time) error {
	if _, ok := ordersv1.SkipReason_name[int32(reason)]; !ok || reason == ordersv1.SkipReason_SKIP_REASON_UNSPECIFIED {
		return fieldErr("reason", "unknown value %d", reason)
	}
	if o.Status() != ordersv1.OrderStatus_ORDER_STATUS_NEW {
		return nil
	}
	o.raise(&ordersv1.OrderSkipped{Record: o.RecordRef(), Reason: reason, SkippedAt: ts(utc(now))})
	return nil
}

// ReleaseShipMethod releases the order when it is held on ship_method_unmapped for the code sm
// was resolved for and sm now maps it (a mapping was saved, or pass-through turned on):
// OrderReleased, cause ship_method_mapped, status new. The app sends it then. Any other order
// (not held, held for another reason or another code, sm still unmapped) changes nothing, so the
// app may offer every order a mapping could concern.
func (o *Order) ReleaseShipMethod(sm domain.ShipMethod, actor string, now time.Time) error {
	if err := validActor(actor); err != nil {
		return err
	}
	if o.Status() != ordersv1.OrderStatus_ORDER_STATUS_ERROR || o.st.GetHeldReason() != ReasonShipMethodUnmapped ||
		sm.Code != o.st.GetShipMethodCode() || !sm.Mapped() {
		return nil
	}
	o.raise(&ordersv1.OrderReleased{
		Record: o.RecordRef(), Cause: ordersv1.ReleaseCause_RELEASE_CAUSE_SHIP_METHOD_MAPPED, Actor: actor,
		WmsShipMethod: sm.WMSMethod, ShipMethodPassedThrough: sm.PassThrough,
		PreviousStatus: ordersv1.OrderStatus_ORDER_STATUS_ERROR, ReleasedAt: ts(utc(now)),
	})
	return nil
}

// RequestResend is Resend to WMS: a held, skipped or cancelled order goes back to new
// (OrderResendRequested) and is sent at once; a new order is sent again at once. An order the WMS
// accepted cannot be resent (ErrWrongState).
func (o *Order) RequestResend(actor string, now time.Time) error {
	if err := validActor(actor); err != nil {
		return err
	}
	if !o.beforeWMS() {
		return o.wrongState("resend")
	}
	o.raise(&ordersv1.OrderResendRequested{
		Record: o.RecordRef(), Actor: actor, PreviousStatus: o.Status(), RequestedAt: ts(utc(now)),
	})
	return nil
}

// CancelSending stops sending the order (OrderSendingCanceled, status canceled) while it is new,
// held or skipped; a resend starts again. Cancelling a cancelled order changes nothing; an order
// the WMS accepted cannot be cancelled here (ErrWrongState).
func (o *Order) CancelSending(actor, reason string, now time.Time) error {
	if err := errors.Join(validActor(actor), text("reason", reason, 1024, false)); err != nil {
		return err
	}
	switch o.Status() {
	case ordersv1.OrderStatus_ORDER_STATUS_CANCELED:
		return nil
	case ordersv1.OrderStatus_ORDER_STATUS_NEW, ordersv1.OrderStatus_ORDER_STATUS_ERROR, ordersv1.OrderStatus_ORDER_STATUS_SKIPPED:
	default:
		return o.wrongState("cancel sending")
	}
	o.raise(&ordersv1.OrderSendingCanceled{
		Record: o.RecordRef(), Actor: actor, Reason: reason, PreviousStatus: o.Status(), CanceledAt: ts(utc(now)),
	})
	return nil
}
