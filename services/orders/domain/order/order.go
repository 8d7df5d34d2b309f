package order

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/orders/domain"
)

// AggregateType is the aggregate type of orders: their events are stored on
// evt.order.<account>.<order id>.<EventType>. A persisted identifier.
const AggregateType = "order"

// ID returns the id of the order with the given number on the given cart connection of an
// account. The same order always gets the same id, whatever characters its number has.
func ID(account, cartConnectionID, orderNumber string) string {
	return connector.HashKey("ord", account, cartConnectionID, orderNumber)
}

// Stream returns the stream of the order with the given id.
func Stream(account, orderID string) events.StreamID {
	return events.StreamID{AggregateType: AggregateType, Account: account, ID: orderID}
}

// StreamOf returns the stream of the order with the given number on the given cart connection.
func StreamOf(account, cartConnectionID, orderNumber string) events.StreamID {
	return Stream(account, ID(account, cartConnectionID, orderNumber))
}

// EventTypes lists every event the order aggregate stores, for the service's registry.
func EventTypes() []proto.Message {
	return []proto.Message{
		&ordersv1.OrderReceived{}, &ordersv1.OrderEdited{}, &ordersv1.OrderDeliveryAttempted{},
		&ordersv1.OrderAcceptedByWMS{}, &ordersv1.OrderDeliveryFailed{}, &ordersv1.OrderHeld{},
		&ordersv1.OrderReleased{}, &ordersv1.OrderResendRequested{}, &ordersv1.OrderSendingCanceled{},
		&ordersv1.OrderSkipped{}, &ordersv1.OrderShipped{}, &ordersv1.OrderConfirmed{},
		&ordersv1.OrderTrackingPushFailed{},
	}
}

// Order is the order aggregate. Build empty ones with New; they change only by folding events
// (Apply) or by commands, which raise events and fold them. Not safe for concurrent use (the
// repository gives each command its own copy).
type Order struct {
	aggregate.Recorder

	stream events.StreamID
	// st is the order's state; nil until OrderReceived.
	st *ordersv1.Order
	// failedSinceCanceled is true when an attempt failed since the order was received or last
	// cancelled (see RetrySeries). Derived from the events, not part of the query state.
	failedSinceCanceled bool
}

var _ aggregate.Root = (*Order)(nil)

// New returns the empty order of a stream (see Stream); it is the factory for
// aggregate.NewRepository.
func New(stream events.StreamID) *Order { return &Order{stream: stream} }

// ID returns the order's id (its stream's id).
func (o *Order) ID() string { return o.stream.ID }

// Stream returns the order's stream.
func (o *Order) Stream() events.StreamID { return o.stream }

// Exists reports whether the order was received.
func (o *Order) Exists() bool { return o.st != nil }

// Status returns the order's status (unspecified before it was received).
func (o *Order) Status() ordersv1.OrderStatus { return o.st.GetStatus() }

// Pending returns the attempt in flight: started, no outcome recorded yet.
func (o *Order) Pending() (attemptID string, ok bool) {
	id := o.st.GetPendingAttemptId()
	return id, id != ""
}

// ShipMethodCode returns the order's cart ship method code.
func (o *Order) ShipMethodCode() string { return o.st.GetShipMethodCode() }

// CartConnectionID returns the cart connection the order came from.
func (o *Order) CartConnectionID() string { return o.st.GetCart().GetConnectionId() }

// HeldReason returns the alert type the order is held on, while its status is error.
func (o *Order) HeldReason() string { return o.st.GetHeldReason() }

// RetrySeries reports whether an attempt to send the order failed since it was received or its
// sending was last cancelled, and the WMS has not accepted it since. Its failure report started a
// retry series for the order's record in the retry service (held, scheduled or exhausted), so the
// retry service owns the next attempt: after an edit, a resend or a ship method mapping release it
// makes an attempt due itself (RecordUpdated → RetryDue). Without a series, the orders service
// sends the order itself after those commands.
func (o *Order) RetrySeries() bool { return o.failedSinceCanceled }

// NextAttemptID returns the attempt id for the service's own next attempt to send the order
// ("<order id>-d<n>"): one more than the attempts started so far, so that every attempt reports
// under its own id. Retries use the retry service's attempt id instead.
func (o *Order) NextAttemptID() string {
	return fmt.Sprintf("%s-d%d", o.stream.ID, o.st.GetAttempts()+1)
}

// NextTrackingAttemptID returns the attempt id for the next push of the order's tracking to the
// cart ("<order id>-t<n>").
func (o *Order) NextTrackingAttemptID() string {
	return fmt.Sprintf("%s-t%d", o.stream.ID, o.st.GetTrackingAttempts()+1)
}

// Snapshot returns a copy of the order's state, or nil when it was never received.
func (o *Order) Snapshot() *ordersv1.Order {
	if o.st == nil {
		return nil
	}
	return proto.CloneOf(o.st)
}

// RecordRef returns the order's record: the order on its WMS connection, as its connector
// reports name it. Nil before the order was received.
func (o *Order) RecordRef() *connectorv1.RecordRef {
	if o.st == nil {
		return nil
	}
	return &connectorv1.RecordRef{
		AccountId: o.st.GetAccountId(), AccountKind: o.st.GetAccountKind(), WarehouseId: o.st.GetWarehouseId(),
		ConnectionId: o.st.GetWms().GetConnectionId(), SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS,
		System: o.st.GetWms().GetSystem(), RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER,
		RecordId: o.st.GetOrderId(), OrderNumber: o.st.GetOrderNumber(),
	}
}

// TrackingRef returns the order's tracking record: its shipment confirmation on the cart
// connection. Nil before the order was received.
func (o *Order) TrackingRef() *connectorv1.RecordRef {
	if o.st == nil {
		return nil
	}
	return &connectorv1.RecordRef{
		AccountId: o.st.GetAccountId(), AccountKind: o.st.GetAccountKind(), WarehouseId: o.st.GetWarehouseId(),
		ConnectionId: o.st.GetCart().GetConnectionId(), SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART,
		System: o.st.GetCart().GetSystem(), RecordKind: connectorv1.RecordKind_RECORD_KIND_TRACKING,
		RecordId: o.st.GetOrderId(), OrderNumber: o.st.GetOrderNumber(),
	}
}

// StatusWord returns the status as clients see it: new, at_wms, error, skipped, canceled,
// shipped, confirmed ("not received" for the unspecified status).
func StatusWord(s ordersv1.OrderStatus) string {
	if s == ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED {
		return "not received"
	}
	return strings.ToLower(strings.TrimPrefix(s.String(), "ORDER_STATUS_"))
}

// wrongState returns the StateError for a refused command.
func (o *Order) wrongState(command string) error {
	return &domain.StateError{Aggregate: AggregateType, ID: o.stream.ID, Command: command, State: StatusWord(o.Status())}
}

// Apply folds one stored event into the state. It copies the values the event carries and never
// recomputes a time, so the same history always rebuilds the same state.
func (o *Order) Apply(r events.Record) error {
	if err := r.Decoded(); err != nil {
		return err
	}
	return o.apply(r.Message)
}

// raise applies an event the order decided and records it.
func (o *Order) raise(msg proto.Message) {
	if err := o.apply(msg); err != nil {
		panic(fmt.Sprintf("order: applying own event: %v", err)) // every raised type is handled
	}
	o.Raise(msg)
}

func (o *Order) apply(msg proto.Message) error {
	if _, received := msg.(*ordersv1.OrderReceived); !received && o.st == nil {
		return fmt.Errorf("order %s: %s before OrderReceived", o.stream.ID, events.TypeName(msg))
	}
	st := o.st
	switch e := msg.(type) {
	case *ordersv1.OrderReceived:
		o.st = &ordersv1.Order{
			OrderId: e.GetOrderId(), AccountId: e.GetAccountId(), AccountKind: e.GetAccountKind(),
			WarehouseId: e.GetWarehouseId(), Cart: e.GetCart(), Wms: e.GetWms(),
			OrderNumber: e.GetOrderNumber(), CartOrderId: e.GetCartOrderId(), PlacedAt: e.GetPlacedAt(),
			Currency: e.GetCurrency(), ShipTo: e.GetShipTo(), ShipMethodCode: e.GetShipMethodCode(),
			Lines: e.GetLines(), Status: ordersv1.OrderStatus_ORDER_STATUS_NEW,
			ReceivedAt: e.GetReceivedAt(), UpdatedAt: e.GetReceivedAt(),
		}
	case *ordersv1.OrderEdited:
		if e.GetShipMethodCode() != st.GetShipMethodCode() {
			// The last attempt's WMS method belonged to the old code.
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
		o.failedSinceCanceled = false
	case *ordersv1.OrderDeliveryFailed:
		f := e.GetFailure()
		st.LastFailure = f
		if !f.GetSent() {
			// Failed before sending: still an attempt, numbered like the others.
			st.Attempts++
			st.LastAttemptId, st.LastAttemptAt = f.GetAttemptId(), f.GetAttemptedAt()
		}
		st.PendingAttemptId = ""
		st.UpdatedAt = f.GetFailedAt()
		o.failedSinceCanceled = true
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
		o.failedSinceCanceled = false
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
	default:
		return fmt.Errorf("order: %w", &events.UnknownTypeError{Type: events.TypeName(msg)})
	}
	return nil
}

// clearDetour forgets a hold, a skip and a cancellation: the order is back on its way.
func clearDetour(st *ordersv1.Order) {
	st.HeldReason, st.HeldAt = "", nil
	st.SkipReason, st.SkippedAt = ordersv1.SkipReason_SKIP_REASON_UNSPECIFIED, nil
	st.CanceledAt = nil
}

// ts converts a time to a UTC timestamp; the zero time is nil.
func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t.UTC())
}
