package service_test

import (
	"testing"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/services/orders/sandbox"
)

const mapped = "STANDARD"

// mapStandard maps the code the tests' orders use.
func (w *world) mapStandard() { w.mapCode(mapped, "UPS_GROUND") }

// A WMS that is down fails the first attempt: the failure is recorded on the order (still new,
// waiting for its retry), reported, an alert raised and a retry scheduled on the (shortened)
// hourly cadence. When the WMS is back the next retry delivers the order and the alert resolves.
func TestDelivery_wmsDownThenBack(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.mapStandard()
	w.setWMS(wmsConn, sandbox.Failure{Mode: sandbox.ModeDown})

	resp := w.submit(w.submission("#1001", mapped))
	id := resp.GetOrder().GetOrderId()
	if resp.GetOutcome() != ordersv1.SubmitOutcome_SUBMIT_OUTCOME_RECEIVED || resp.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_NEW {
		t.Fatalf("SubmitOrder: %v", resp)
	}
	var o *ordersv1.Order
	eventually(t, 20*time.Second, "the failed attempt", func() bool {
		o, _ = w.order(id)
		return o.GetLastFailure() != nil
	})
	if o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_NEW || o.GetLastFailure().GetCode() == "" {
		t.Fatalf("after the failure the order is %v", o)
	}
	a := w.waitAlert(id, connectorv1.RecordKind_RECORD_KIND_ORDER, "open", func(a *alertsv1.Alert) bool {
		return a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_OPEN
	})
	if a.GetErrorClass() != connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT {
		t.Fatalf("alert %v, want a transient one", a)
	}
	eventually(t, 20*time.Second, "the retry schedule", func() bool {
		return count(w.retryEvents(orderRef(o)), "RetryScheduled") >= 1
	})

	if err := w.wmsAdm.ClearFailure(t.Context(), wmsConn); err != nil {
		t.Fatal(err)
	}
	o = w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, 30*time.Second)
	_, hist := w.order(id)
	attempts := messagesOf[*ordersv1.OrderDeliveryAttempted](hist)
	last := attempts[len(attempts)-1]
	if last.GetTrigger() != ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY {
		t.Fatalf("delivered by a %v attempt, want the retry service's", last.GetTrigger())
	}
	if o.GetWmsOrderId() == "" || len(w.sb.WMS.Orders(wmsConn)) != 1 {
		t.Fatalf("the WMS holds %d orders, order %v", len(w.sb.WMS.Orders(wmsConn)), o)
	}
	w.waitAlert(id, connectorv1.RecordKind_RECORD_KIND_ORDER, "resolved", func(a *alertsv1.Alert) bool {
		return a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_RESOLVED
	})
}

// An order whose ship method code is not mapped is held before anything is sent: no attempt
// reaches the WMS, none is made due, and its alert is flagged for immediate notification. Saving
// the mapping releases every order held on that code at once (not those on another code), and
// each is delivered and its alert resolved.
func TestDelivery_unmappedShipMethodHeldThenReleased(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	const code = "GROUND_SAVER"
	var ids []string
	for i := range 6 {
		ids = append(ids, w.submit(w.submission("#20"+string(rune('0'+i)), code)).GetOrder().GetOrderId())
	}
	other := w.submit(w.submission("#2100", "DRONE")).GetOrder().GetOrderId()
	for _, id := range append(ids, other) {
		o := w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_ERROR, 20*time.Second)
		if o.GetHeldReason() != "ship_method_unmapped" || o.GetLastFailure().GetSent() {
			t.Fatalf("order %s: %v", id, o)
		}
		a := w.waitAlert(id, connectorv1.RecordKind_RECORD_KIND_ORDER, "ship_method_unmapped", func(a *alertsv1.Alert) bool {
			return a.GetAlertType() == "ship_method_unmapped"
		})
		if !a.GetImmediate() || a.GetErrorClass() != connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION {
			t.Fatalf("alert %v, want an immediate manual-action alert", a)
		}
		o, _ = w.order(id)
		eventually(t, 20*time.Second, "the retry schedule to hold "+id, func() bool {
			return count(w.retryEvents(orderRef(o)), "RetryHeld") == 1
		})
	}
	if st := w.sb.WMS.Stats(); st.Requests != 0 {
		t.Fatalf("the WMS received %d requests while the orders were held", st.Requests)
	}
	for _, id := range ids {
		o, _ := w.order(id)
		if n := count(w.retryEvents(orderRef(o)), "RetryAttemptDue"); n != 0 {
			t.Fatalf("order %s: %d attempts made due while held", id, n)
		}
	}

	mappedAt := time.Now()
	w.mapCode(code, "UPS_GROUND")
	for _, id := range ids {
		o := w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, 20*time.Second)
		if o.GetWmsShipMethod() != "UPS_GROUND" {
			t.Fatalf("order %s sent with %q", id, o.GetWmsShipMethod())
		}
	}
	if took := time.Since(mappedAt); took > 10*time.Second {
		t.Fatalf("the release took %s", took)
	}
	for _, id := range ids {
		w.waitAlert(id, connectorv1.RecordKind_RECORD_KIND_ORDER, "resolved", func(a *alertsv1.Alert) bool {
			return a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_RESOLVED
		})
		_, hist := w.order(id)
		if n := countRecords(hist, "OrderDeliveryAttempted"); n != 1 {
			t.Fatalf("order %s: %d attempts after the release, want 1", id, n)
		}
	}
	if o, _ := w.order(other); o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_ERROR {
		t.Fatalf("the order held on another code is %v", o.GetStatus())
	}
	if got := len(w.sb.WMS.Orders(wmsConn)); got != len(ids) {
		t.Fatalf("the WMS holds %d orders, want %d", got, len(ids))
	}
}

// An address the WMS refuses (422 INVALID_ADDRESS) holds the order; editing the address releases
// it, the retry service attempts it at once, and the alert resolves.
func TestDelivery_invalidAddressHeldThenEdited(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.mapStandard()
	req := w.submission("#3001", mapped)
	req.ShipTo.PostalCode = ""
	id := w.submit(req).GetOrder().GetOrderId()
	o := w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_ERROR, 20*time.Second)
	if o.GetHeldReason() != "address_invalid" || o.GetLastFailure().GetHttpStatus() != 422 || o.GetLastFailure().GetCode() != "INVALID_ADDRESS" {
		t.Fatalf("held order %v", o)
	}
	w.waitAlert(id, connectorv1.RecordKind_RECORD_KIND_ORDER, "address_invalid", func(a *alertsv1.Alert) bool {
		return a.GetAlertType() == "address_invalid" && a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_OPEN
	})
	eventually(t, 20*time.Second, "the retry schedule to hold it", func() bool { return count(w.retryEvents(orderRef(o)), "RetryHeld") == 1 })

	fixed := address()
	edited, err := w.api.EditOrder(w.as("merchant"), &ordersv1.EditOrderRequest{AccountId: w.account, OrderId: id, ShipTo: fixed})
	if err != nil {
		t.Fatal(err)
	}
	if edited.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_NEW {
		t.Fatalf("after the edit: %v", edited.GetOrder().GetStatus())
	}
	o = w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, 20*time.Second)
	stored := w.sb.WMS.Orders(wmsConn)
	if len(stored) != 1 || stored[0].Order.ShipTo.PostalCode != fixed.GetPostalCode() {
		t.Fatalf("the WMS holds %+v", stored)
	}
	_, hist := w.order(id)
	attempts := messagesOf[*ordersv1.OrderDeliveryAttempted](hist)
	if len(attempts) != 2 || attempts[1].GetTrigger() != ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY {
		t.Fatalf("attempts %v: want the first and one made due by the retry service after the edit", attempts)
	}
	w.waitAlert(id, connectorv1.RecordKind_RECORD_KIND_ORDER, "resolved", func(a *alertsv1.Alert) bool {
		return a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_RESOLVED
	})
}

// When the retries run out (5 s on wms-short) the order is skipped and its alert escalates;
// Resend to WMS sends it again, and it goes through.
func TestDelivery_retriesExhaustedSkippedThenResent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.mapStandard()
	w.setWMS(shortWMSConn, sandbox.Failure{Mode: sandbox.ModeHTTP500})
	req := w.submission("#4001", mapped)
	req.WmsConnectionId = shortWMSConn
	id := w.submit(req).GetOrder().GetOrderId()
	o := w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_SKIPPED, 30*time.Second)
	if o.GetSkipReason() != ordersv1.SkipReason_SKIP_REASON_MAX_AGE {
		t.Fatalf("skipped for %v", o.GetSkipReason())
	}
	w.waitAlert(id, connectorv1.RecordKind_RECORD_KIND_ORDER, "escalated", func(a *alertsv1.Alert) bool {
		return a.GetEscalated() && a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_OPEN
	})

	if err := w.wmsAdm.ClearFailure(t.Context(), shortWMSConn); err != nil {
		t.Fatal(err)
	}
	if _, err := w.api.ResendToWMS(w.as("merchant"), &ordersv1.ResendToWMSRequest{AccountId: w.account, OrderId: id}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, 20*time.Second)
	w.waitAlert(id, connectorv1.RecordKind_RECORD_KIND_ORDER, "resolved", func(a *alertsv1.Alert) bool {
		return a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_RESOLVED
	})
	if got := len(w.sb.WMS.Orders(shortWMSConn)); got != 1 {
		t.Fatalf("the WMS holds %d orders", got)
	}
}

// A 429 with Retry-After: the next attempt waits for it, although the cadence (2 s) is shorter.
func TestDelivery_rateLimitedWaitsForRetryAfter(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.mapStandard()
	w.setWMS(wmsConn, sandbox.Failure{Mode: sandbox.ModeHTTP429, RetryAfter: sandbox.Duration(5 * time.Second), Times: 1})
	id := w.submit(w.submission("#5001", mapped)).GetOrder().GetOrderId()
	w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, 30*time.Second)
	_, hist := w.order(id)
	failures := messagesOf[*ordersv1.OrderDeliveryFailed](hist)
	attempts := messagesOf[*ordersv1.OrderDeliveryAttempted](hist)
	if len(failures) != 1 || len(attempts) != 2 {
		t.Fatalf("%d failures and %d attempts, want 1 and 2", len(failures), len(attempts))
	}
	f := failures[0].GetFailure()
	if f.GetHttpStatus() != 429 || f.GetRetryAfter().AsDuration() != 5*time.Second {
		t.Fatalf("failure %v", f)
	}
	notBefore := f.GetFailedAt().AsTime().Add(5 * time.Second)
	if at := attempts[1].GetAttemptedAt().AsTime(); at.Before(notBefore) {
		t.Fatalf("the retry started at %s, before Retry-After allowed (%s)", at, notBefore)
	}
	if st := w.sb.WMS.Stats(); st.Requests != 2 {
		t.Fatalf("the WMS received %d requests, want 2", st.Requests)
	}
}

// The same order submitted several times at once is one order, received once and sent once. A
// WMS whose acknowledgement was lost (it took longer than the connection's timeout, but created
// the order) answers the retry with the same WMS order, marked duplicate: it holds one copy.
func TestDelivery_duplicatesAndLostAcknowledgement(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{wmsTimeout: 500 * time.Millisecond})
	w.mapStandard()

	outcomes := make(chan ordersv1.SubmitOutcome, 5)
	req := w.submission("#6001", mapped)
	for range 5 {
		go func() {
			resp, err := w.api.SubmitOrder(w.as("merchant"), req)
			if err != nil {
				t.Error(err)
				outcomes <- 0
				return
			}
			outcomes <- resp.GetOutcome()
		}()
	}
	received := 0
	for range 5 {
		if <-outcomes == ordersv1.SubmitOutcome_SUBMIT_OUTCOME_RECEIVED {
			received++
		}
	}
	if received != 1 {
		t.Fatalf("%d submissions received the order, want 1", received)
	}
	id := w.submit(req).GetOrder().GetOrderId()
	w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, 20*time.Second)
	_, hist := w.order(id)
	if n := countRecords(hist, "OrderReceived"); n != 1 {
		t.Fatalf("%d OrderReceived", n)
	}
	if n := len(w.sb.WMS.Orders(wmsConn)); n != 1 {
		t.Fatalf("the WMS holds %d orders", n)
	}

	// The lost acknowledgement.
	w.setWMS(wmsConn, sandbox.Failure{Mode: sandbox.ModeSlow, Delay: sandbox.Duration(2 * time.Second), Times: 1})
	id2 := w.submit(w.submission("#6002", mapped)).GetOrder().GetOrderId()
	o := w.waitStatus(id2, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, 30*time.Second)
	_, hist = w.order(id2)
	failures := messagesOf[*ordersv1.OrderDeliveryFailed](hist)
	accepted := messagesOf[*ordersv1.OrderAcceptedByWMS](hist)
	if len(failures) != 1 || failures[0].GetFailure().GetCode() != "timeout" {
		t.Fatalf("failures %v, want one timeout", failures)
	}
	if len(accepted) != 1 || !accepted[0].GetDuplicate() {
		t.Fatalf("accepted %v, want the WMS's duplicate answer", accepted)
	}
	var copies int
	for _, so := range w.sb.WMS.Orders(wmsConn) {
		if so.Order.OrderID == id2 {
			copies++
			if so.WMSOrderID != o.GetWmsOrderId() || so.Duplicates != 1 {
				t.Fatalf("the WMS holds %+v, the order says %s", so, o.GetWmsOrderId())
			}
		}
	}
	if copies != 1 {
		t.Fatalf("the WMS holds %d copies of the order", copies)
	}
}
