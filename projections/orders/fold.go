package orders

import (
	"google.golang.org/protobuf/proto"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
)

// fold applies one order event to the order's state (nil before OrderReceived) and returns the
// new state, or nil when the event cannot apply (an event before OrderReceived). It mirrors the
// Order aggregate's fold. It never changes a message it was given in place (the state may share
// parts with the events), only the state's own fields.
func fold(st *ordersv1.Order, msg proto.Message) *ordersv1.Order {
	if e, ok := msg.(*ordersv1.OrderReceived); ok {
		return &ordersv1.Order{
			OrderId: e.GetOrderId(), AccountId: e.GetAccountId(), AccountKind: e.GetAccountKind(),
			WarehouseId: e.GetWarehouseId(), Cart: e.GetCart(), Wms: e.GetWms(),
			OrderNumber: e.GetOrderNumber(), CartOrderId: e.GetCartOrderId(), PlacedAt: e.GetPlacedAt(),
			Currency: e.GetCurrency(), ShipTo: e.GetShipTo(), ShipMethodCode: e.GetShipMethodCode(),
			Lines: e.GetLines(), Status: ordersv1.OrderStatus_ORDER_STATUS_NEW,
			ReceivedAt: e.GetReceivedAt(), UpdatedAt: e.GetReceivedAt(),
		}
	}
	if st == nil {
		return nil
	}
	switch e := msg.(type) {
	case *ordersv1.OrderEdited:
		if e.GetShipMethodCode() != st.GetShipMethodCode() {
			st.WmsShipMethod, st.ShipMethodPassedThrough = "", false
		}
		st.ShipTo, st.ShipMethodCode, st.Lines = e.GetShipTo(), e.GetShipMethodCode(), e.GetLines()
		st.Edits++
		st.PendingAttemptId = ""
		st.UpdatedAt = e.GetEditedAt()
	case *ordersv1.OrderDeliveryAttempted:
		st.Attempts = e.GetAttempt()
		st.LastAttemptId, st.PendingAttemptId = e.GetAttemptId(), e.GetAttemptId()
		st.LastAttemptAt = e.GetAttemptedAt()
		st.WmsShipMethod, st.ShipMethodPassedThrough = e.GetWmsShipMethod(), e.GetShipMethodPassedThrough()
		st.UpdatedAt = e.GetAttemptedAt()
	case *ordersv1.OrderAcceptedByWMS:
		st.Status = ordersv1.OrderStatus_ORDER_STATUS_AT_WMS
		st.WmsOrderId = e.GetWmsOrderId()
		st.AcceptedAt = e.GetAcceptedAt()
		st.PendingAttemptId = ""
		clearDetour(st)
		st.UpdatedAt = e.GetAcceptedAt()
	case *ordersv1.OrderDeliveryFailed:
		f := e.GetFailure()
		st.LastFailure = f
		if !f.GetSent() {
			st.Attempts++
			st.LastAttemptId, st.LastAttemptAt = f.GetAttemptId(), f.GetAttemptedAt()
		}
		st.PendingAttemptId = ""
		st.UpdatedAt = f.GetFailedAt()
	case *ordersv1.OrderHeld:
		st.Status = ordersv1.OrderStatus_ORDER_STATUS_ERROR
		st.HeldReason, st.HeldAt = e.GetReason(), e.GetHeldAt()
		st.UpdatedAt = e.GetHeldAt()
	case *ordersv1.OrderReleased:
		st.Status = ordersv1.OrderStatus_ORDER_STATUS_NEW
		clearDetour(st)
		if e.GetCause() == ordersv1.ReleaseCause_RELEASE_CAUSE_SHIP_METHOD_MAPPED {
			st.WmsShipMethod, st.ShipMethodPassedThrough = e.GetWmsShipMethod(), e.GetShipMethodPassedThrough()
		}
		st.UpdatedAt = e.GetReleasedAt()
	case *ordersv1.OrderResendRequested:
		st.Status = ordersv1.OrderStatus_ORDER_STATUS_NEW
		st.PendingAttemptId = ""
		clearDetour(st)
		st.UpdatedAt = e.GetRequestedAt()
	case *ordersv1.OrderSendingCanceled:
		st.Status = ordersv1.OrderStatus_ORDER_STATUS_CANCELED
		st.PendingAttemptId = ""
		clearDetour(st)
		st.CanceledAt = e.GetCanceledAt()
		st.UpdatedAt = e.GetCanceledAt()
	case *ordersv1.OrderSkipped:
		st.Status = ordersv1.OrderStatus_ORDER_STATUS_SKIPPED
		st.PendingAttemptId = ""
		st.SkipReason, st.SkippedAt = e.GetReason(), e.GetSkippedAt()
		st.UpdatedAt = e.GetSkippedAt()
	case *ordersv1.OrderShipped:
		st.Status = ordersv1.OrderStatus_ORDER_STATUS_SHIPPED
		if id := e.GetWmsOrderId(); id != "" {
			st.WmsOrderId = id
		}
		st.Tracking = e.GetTracking()
		st.ShippedAt, st.ConfirmedAt = e.GetRecordedAt(), nil
		st.UpdatedAt = e.GetRecordedAt()
	case *ordersv1.OrderConfirmed:
		st.Status = ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED
		st.TrackingAttempts++
		st.ConfirmedAt = e.GetConfirmedAt()
		st.UpdatedAt = e.GetConfirmedAt()
	case *ordersv1.OrderTrackingPushFailed:
		st.TrackingAttempts++
		st.LastTrackingFailure = e.GetFailure()
		st.UpdatedAt = e.GetFailure().GetFailedAt()
	}
	return st
}

// clearDetour forgets a hold, a skip and a cancellation: the order is back on its way.
func clearDetour(st *ordersv1.Order) {
	st.HeldReason, st.HeldAt = "", nil
	st.SkipReason, st.SkippedAt = ordersv1.SkipReason_SKIP_REASON_UNSPECIFIED, nil
	st.CanceledAt = nil
}

// isOrderEvent reports whether msg is an Order aggregate event.
func isOrderEvent(msg proto.Message) bool {
	switch msg.(type) {
	case *ordersv1.OrderReceived, *ordersv1.OrderEdited, *ordersv1.OrderDeliveryAttempted,
		*ordersv1.OrderAcceptedByWMS, *ordersv1.OrderDeliveryFailed, *ordersv1.OrderHeld,
		*ordersv1.OrderReleased, *ordersv1.OrderResendRequested, *ordersv1.OrderSendingCanceled,
		*ordersv1.OrderSkipped, *ordersv1.OrderShipped, *ordersv1.OrderConfirmed,
		*ordersv1.OrderTrackingPushFailed:
		return true
	}
	return false
}
