package service_test

import (
	"testing"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// A process that stored its decision to attempt an order (OrderDeliveryAttempted, caused by the
// OrderReceived) and stopped before sending it: the OrderReceived comes back to the delivery
// handler, which recognises its decision and sends that very attempt.
func TestDelivery_anAttemptDecidedBeforeACrashIsSent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{noRetrySvcs: true})
	stream := order.StreamOf(w.account, cartConn, "#C1")
	o := order.New(stream)
	now := time.Now().UTC()
	r := w.submission("#C1", mapped)
	if _, err := o.Receive(order.Submission{
		AccountID: w.account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		Cart: &ordersv1.Connection{ConnectionId: cartConn, System: "sandbox-cart"}, WMS: &ordersv1.Connection{ConnectionId: wmsConn, System: "sandbox-wms"},
		OrderNumber: r.GetOrderNumber(), ShipTo: r.GetShipTo(), ShipMethodCode: mapped, Lines: r.GetLines(),
	}, now); err != nil {
		t.Fatal(err)
	}
	attempt := o.NextAttemptID()
	if err := o.AttemptDelivery(attempt, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, domain.ShipMethod{Code: mapped, WMSMethod: "UPS_GROUND"}, now); err != nil {
		t.Fatal(err)
	}
	received := events.NewEvent(o.Changes()[0], events.Metadata{})
	received.EventID = events.NewEventID()
	decided := events.NewEvent(o.Changes()[1], events.CausedBy(received.Envelope))
	if _, err := w.store.Append(t.Context(), stream, events.ExpectNoStream(), received, decided); err != nil {
		t.Fatal(err)
	}
	got := w.waitStatus(stream.ID, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, 20*time.Second)
	_, hist := w.order(stream.ID)
	accepted := messagesOf[*ordersv1.OrderAcceptedByWMS](hist)
	if len(accepted) != 1 || accepted[0].GetAttemptId() != attempt || countRecords(hist, "OrderDeliveryAttempted") != 1 {
		t.Fatalf("history %v, want the decided attempt %s sent and accepted", hist, attempt)
	}
	if so := w.sb.WMS.Orders(wmsConn); len(so) != 1 || so[0].Order.ShipMethod != "UPS_GROUND" || got.GetWmsOrderId() != so[0].WMSOrderID {
		t.Fatalf("the WMS holds %+v", so)
	}
}
