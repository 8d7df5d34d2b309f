package order_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/services/orders/domain/order"
)

const (
	stNew       = ordersv1.OrderStatus_ORDER_STATUS_NEW
	stAtWMS     = ordersv1.OrderStatus_ORDER_STATUS_AT_WMS
	stError     = ordersv1.OrderStatus_ORDER_STATUS_ERROR
	stSkipped   = ordersv1.OrderStatus_ORDER_STATUS_SKIPPED
	stCanceled  = ordersv1.OrderStatus_ORDER_STATUS_CANCELED
	stShipped   = ordersv1.OrderStatus_ORDER_STATUS_SHIPPED
	stConfirmed = ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED
)

// inStatus returns an order brought to status s through its commands: error is a hold on an
// unmapped ship method, skipped a retry exhaustion, shipped carries trackingSent.
func inStatus(t *testing.T, s ordersv1.OrderStatus, c *clock) *order.Order {
	t.Helper()
	o := received(t, "#T-"+order.StatusWord(s), c)
	c.Advance(time.Second)
	switch s {
	case stNew:
	case stAtWMS, stShipped, stConfirmed:
		id := attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, c)
		must(t, o.RecordAccepted(id, "WMS-1", false, c.Advance(time.Second)))
		if s != stAtWMS {
			must(t, o.Ship(order.Shipment{WMSOrderID: "WMS-1", Tracking: trackingSent}, c.Advance(time.Hour)))
		}
		if s == stConfirmed {
			must(t, o.RecordTrackingPushed(o.NextTrackingAttemptID(), "FUL-1", c.Now(), c.Advance(time.Second)))
		}
	case stError:
		must(t, o.AttemptDelivery(o.NextAttemptID(), ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, unmapped(), c.Now()))
	case stSkipped:
		id := attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, c)
		must(t, o.RecordFailure(failure(id, 503, "", "Service Unavailable", c.Advance(time.Second)), transient, c.Now()))
		must(t, o.Skip(ordersv1.SkipReason_SKIP_REASON_MAX_AGE, c.Advance(15*24*time.Hour)))
	case stCanceled:
		must(t, o.CancelSending("ops@example.com", "customer called", c.Now()))
	default:
		t.Fatalf("no way to status %s", s)
	}
	wantStatus(t, o, s)
	return o
}

// TestOrder_statusTransitions checks every command in every status: the status it leads to, or
// that it is refused (ErrWrongState), or that it changes nothing. Every resulting state must
// rebuild from the events.
func TestOrder_statusTransitions(t *testing.T) {
	t.Parallel()
	const (
		same   = ordersv1.OrderStatus(-1) // no event, status unchanged
		refuse = ordersv1.OrderStatus(-2) // ErrWrongState
	)
	all := []ordersv1.OrderStatus{stNew, stAtWMS, stError, stSkipped, stCanceled, stShipped, stConfirmed}
	commands := []struct {
		name string
		run  func(o *order.Order, c *clock) error
		want map[ordersv1.OrderStatus]ordersv1.OrderStatus
	}{
		{
			name: "send",
			run: func(o *order.Order, c *clock) error {
				return o.AttemptDelivery(o.NextAttemptID(), ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY, mapped(), c.Now())
			},
			want: map[ordersv1.OrderStatus]ordersv1.OrderStatus{stNew: stNew, stAtWMS: refuse, stError: refuse, stSkipped: refuse, stCanceled: refuse, stShipped: refuse, stConfirmed: refuse},
		},
		{
			name: "accept",
			run:  func(o *order.Order, c *clock) error { return o.RecordAccepted("late-attempt", "WMS-9", true, c.Now()) },
			want: map[ordersv1.OrderStatus]ordersv1.OrderStatus{stNew: stAtWMS, stAtWMS: same, stError: stAtWMS, stSkipped: stAtWMS, stCanceled: stAtWMS, stShipped: same, stConfirmed: same},
		},
		{
			name: "fail (no attempt in flight)",
			run: func(o *order.Order, c *clock) error {
				return o.RecordFailure(failure("stale", 500, "", "boom", c.Now()), transient, c.Now())
			},
			want: map[ordersv1.OrderStatus]ordersv1.OrderStatus{stNew: same, stAtWMS: same, stError: same, stSkipped: same, stCanceled: same, stShipped: same, stConfirmed: same},
		},
		{
			name: "edit",
			run: func(o *order.Order, c *clock) error {
				a := address()
				a.Address2 = "Flat 2"
				return o.Edit(order.Edit{ShipTo: a}, "ops@example.com", c.Now())
			},
			want: map[ordersv1.OrderStatus]ordersv1.OrderStatus{stNew: stNew, stAtWMS: refuse, stError: stNew, stSkipped: stNew, stCanceled: stCanceled, stShipped: refuse, stConfirmed: refuse},
		},
		{
			name: "resend",
			run:  func(o *order.Order, c *clock) error { return o.RequestResend("ops@example.com", c.Now()) },
			want: map[ordersv1.OrderStatus]ordersv1.OrderStatus{stNew: stNew, stAtWMS: refuse, stError: stNew, stSkipped: stNew, stCanceled: stNew, stShipped: refuse, stConfirmed: refuse},
		},
		{
			name: "cancel sending",
			run:  func(o *order.Order, c *clock) error { return o.CancelSending("ops@example.com", "", c.Now()) },
			want: map[ordersv1.OrderStatus]ordersv1.OrderStatus{stNew: stCanceled, stAtWMS: refuse, stError: stCanceled, stSkipped: stCanceled, stCanceled: same, stShipped: refuse, stConfirmed: refuse},
		},
		{
			name: "skip",
			run:  func(o *order.Order, c *clock) error { return o.Skip(ordersv1.SkipReason_SKIP_REASON_MAX_AGE, c.Now()) },
			want: map[ordersv1.OrderStatus]ordersv1.OrderStatus{stNew: stSkipped, stAtWMS: same, stError: same, stSkipped: same, stCanceled: same, stShipped: same, stConfirmed: same},
		},
		{
			name: "release ship method",
			run:  func(o *order.Order, c *clock) error { return o.ReleaseShipMethod(mapped(), "ops@example.com", c.Now()) },
			want: map[ordersv1.OrderStatus]ordersv1.OrderStatus{stNew: same, stAtWMS: same, stError: stNew, stSkipped: same, stCanceled: same, stShipped: same, stConfirmed: same},
		},
		{
			name: "ship",
			run: func(o *order.Order, c *clock) error {
				return o.Ship(order.Shipment{WMSOrderID: "WMS-1", Tracking: trackingSent}, c.Now())
			},
			want: map[ordersv1.OrderStatus]ordersv1.OrderStatus{stNew: stShipped, stAtWMS: stShipped, stError: stShipped, stSkipped: stShipped, stCanceled: stShipped, stShipped: same, stConfirmed: same},
		},
		{
			name: "confirm tracking",
			run:  func(o *order.Order, c *clock) error { return o.RecordTrackingPushed("t-1", "FUL-1", c.Now(), c.Now()) },
			want: map[ordersv1.OrderStatus]ordersv1.OrderStatus{stNew: refuse, stAtWMS: refuse, stError: refuse, stSkipped: refuse, stCanceled: refuse, stShipped: stConfirmed, stConfirmed: same},
		},
		{
			name: "tracking push failed",
			run: func(o *order.Order, c *clock) error {
				return o.RecordTrackingPushFailure(failure("t-1", 503, "", "Service Unavailable", c.Now()), transient, c.Now())
			},
			want: map[ordersv1.OrderStatus]ordersv1.OrderStatus{stNew: refuse, stAtWMS: refuse, stError: refuse, stSkipped: refuse, stCanceled: refuse, stShipped: stShipped, stConfirmed: same},
		},
	}
	for _, cmd := range commands {
		for _, from := range all {
			want, ok := cmd.want[from]
			if !ok {
				t.Fatalf("%s: no expectation for %s", cmd.name, order.StatusWord(from))
			}
			t.Run(cmd.name+"/"+order.StatusWord(from), func(t *testing.T) {
				t.Parallel()
				c := newClock()
				o := inStatus(t, from, c)
				before := len(o.Changes())
				c.Advance(time.Minute)
				err := cmd.run(o, c)
				switch want {
				case refuse:
					wantWrongState(t, err)
					wantStatus(t, o, from)
				case same:
					must(t, err)
					if n := len(o.Changes()) - before; n != 0 {
						t.Fatalf("raised %v, want nothing", types(o.Changes()[before:]))
					}
					wantStatus(t, o, from)
				default:
					must(t, err)
					wantStatus(t, o, want)
				}
				if err != nil && len(o.Changes()) != before {
					t.Fatalf("a refused command raised %v", types(o.Changes()[before:]))
				}
				checkFold(t, o)
			})
		}
	}
}

// Commands on an order that was never received are refused; those from the bus change nothing.
func TestOrder_commandsBeforeReceipt(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := order.New(order.StreamOf(account, cartID, "#none"))
	wantWrongState(t, o.AttemptDelivery("a1", ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY, mapped(), c.Now()))
	wantWrongState(t, o.Edit(order.Edit{ShipMethodCode: "X"}, "", c.Now()))
	wantWrongState(t, o.RequestResend("", c.Now()))
	wantWrongState(t, o.CancelSending("", "", c.Now()))
	wantWrongState(t, o.RecordAccepted("a1", "WMS-1", false, c.Now()))
	wantWrongState(t, o.RecordFailure(failure("a1", 500, "", "x", c.Now()), transient, c.Now()))
	wantWrongState(t, o.Ship(order.Shipment{Tracking: trackingSent}, c.Now()))
	must(t, o.Skip(ordersv1.SkipReason_SKIP_REASON_MAX_AGE, c.Now()))
	must(t, o.ReleaseShipMethod(mapped(), "", c.Now()))
	if o.Exists() || len(o.Changes()) != 0 || o.Snapshot() != nil || o.RecordRef() != nil {
		t.Fatalf("an order that was never received changed: %v", types(o.Changes()))
	}
}

func TestOrder_snapshotIsACopy(t *testing.T) {
	t.Parallel()
	o := received(t, "#copy", newClock())
	s := o.Snapshot()
	s.ShipTo.City = "Elsewhere"
	if o.Snapshot().GetShipTo().GetCity() != "London" {
		t.Fatal("changing a snapshot changed the order")
	}
	if !proto.Equal(o.Snapshot().GetPlacedAt(), timestamppb.New(t0.Add(-time.Hour))) {
		t.Fatalf("placed_at %v", o.Snapshot().GetPlacedAt())
	}
}
