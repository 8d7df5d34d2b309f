package order_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/services/orders/domain"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

func TestReceive_isIdempotentAndAChangedPayloadIsAnEdit(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := received(t, "#1001", c)
	if o.ID() != order.ID(account, cartID, "#1001") || !strings.HasPrefix(o.ID(), "ord_") {
		t.Fatalf("order id %q", o.ID())
	}
	st := o.Snapshot()
	if st.GetStatus() != stNew || st.GetOrderNumber() != "#1001" || st.GetCart().GetConnectionId() != cartID ||
		st.GetWms().GetConnectionId() != wmsID || len(st.GetLines()) != 2 || !st.GetReceivedAt().AsTime().Equal(t0) {
		t.Fatalf("received state %v", st)
	}

	// The same submission again changes nothing.
	n := len(o.Changes())
	r, err := o.Receive(submission("#1001"), c.Advance(time.Minute))
	must(t, err)
	if r != order.Unchanged || len(o.Changes()) != n {
		t.Fatalf("resubmission: %s, raised %v", r, types(o.Changes()[n:]))
	}

	// A changed payload is an edit by the cart; routing changes are ignored.
	sub := submission("#1001")
	sub.ShipTo.PostalCode = "N1 9GV"
	sub.Lines = sub.Lines[:1]
	sub.WMS = &ordersv1.Connection{ConnectionId: "other-wms", System: "x"}
	r, err = o.Receive(sub, c.Advance(time.Minute))
	must(t, err)
	if r != order.Edited {
		t.Fatalf("receipt %s, want edited", r)
	}
	got := o.Changes()[n:]
	wantTypes(t, got, "OrderEdited")
	e := got[0].(*ordersv1.OrderEdited)
	if e.GetSource() != ordersv1.EditSource_EDIT_SOURCE_CART || e.GetActor() != "cart:shop-1" ||
		!slices.Equal(e.GetChangedFields(), []string{"ship_to.postal_code", "lines"}) {
		t.Fatalf("edit %v", e)
	}
	st = o.Snapshot()
	if st.GetShipTo().GetPostalCode() != "N1 9GV" || len(st.GetLines()) != 1 || st.GetEdits() != 1 || st.GetWms().GetConnectionId() != wmsID {
		t.Fatalf("state after the edit %v", st)
	}
	checkFold(t, o)
}

func TestReceive_validatesEveryField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*order.Submission)
		fields []string
	}{
		{"no account", func(s *order.Submission) { s.AccountID = "" }, []string{"account_id"}},
		{"bad account", func(s *order.Submission) { s.AccountID = "a b" }, []string{"account_id"}},
		{"no account kind", func(s *order.Submission) { s.AccountKind = 0 }, []string{"account_kind"}},
		{"no cart", func(s *order.Submission) { s.Cart = nil }, []string{"cart"}},
		{"bad wms", func(s *order.Submission) { s.WMS = &ordersv1.Connection{ConnectionId: "w/1"} }, []string{"wms.connection_id", "wms.system"}},
		{"no number", func(s *order.Submission) { s.OrderNumber = " " }, []string{"order_number"}},
		{"no ship method", func(s *order.Submission) { s.ShipMethodCode = "" }, []string{"ship_method_code"}},
		{"bad currency", func(s *order.Submission) { s.Currency = "usd" }, []string{"currency"}},
		{"no ship to", func(s *order.Submission) { s.ShipTo = nil }, []string{"ship_to"}},
		{"long city", func(s *order.Submission) { s.ShipTo.City = strings.Repeat("x", 300) }, []string{"ship_to.city"}},
		{"no lines", func(s *order.Submission) { s.Lines = nil }, []string{"lines"}},
		{"bad lines", func(s *order.Submission) {
			s.Lines = []*ordersv1.OrderLine{{Sku: "", Quantity: 0, UnitPrice: "1,5"}}
		}, []string{"lines[0].sku", "lines[0].quantity", "lines[0].unit_price"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := submission("#V1")
			tt.change(&s)
			o := order.New(order.StreamOf(account, cartID, "#V1"))
			_, err := o.Receive(s, t0)
			wantInvalid(t, err, tt.fields...)
			if o.Exists() {
				t.Fatal("an invalid submission was received")
			}
		})
	}
	t.Run("another stream", func(t *testing.T) {
		t.Parallel()
		o := order.New(order.StreamOf(account, cartID, "#V2"))
		_, err := o.Receive(submission("#V3"), t0)
		wantInvalid(t, err, "order_number")
	})
}

func TestReceive_changedPayloadAfterTheWMSAcceptedIsRefused(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := inStatus(t, stAtWMS, c)
	sub := submission("#T-at_wms")
	r, err := o.Receive(sub, c.Now())
	must(t, err)
	if r != order.Unchanged {
		t.Fatalf("receipt %s", r)
	}
	sub.ShipMethodCode = "Overnight"
	_, err = o.Receive(sub, c.Now())
	wantWrongState(t, err)
}

func TestAttemptDelivery_mappedStartsAnAttemptAndRepeatsAreNoOps(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := received(t, "#A1", c)
	id := o.NextAttemptID()
	if id != o.ID()+"-d1" {
		t.Fatalf("first attempt id %q", id)
	}
	sm := domain.ShipMethod{Code: code, WMSMethod: code, PassThrough: true}
	got := raised(t, o, func() error {
		return o.AttemptDelivery(id, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, sm, c.Now())
	})
	wantTypes(t, got, "OrderDeliveryAttempted")
	a := got[0].(*ordersv1.OrderDeliveryAttempted)
	if a.GetAttempt() != 1 || a.GetWmsShipMethod() != code || !a.GetShipMethodPassedThrough() || a.GetRecord().GetRecordId() != o.ID() {
		t.Fatalf("attempt %v", a)
	}
	if p, ok := o.Pending(); !ok || p != id {
		t.Fatalf("pending %q %v", p, ok)
	}
	if o.NextAttemptID() != o.ID()+"-d2" {
		t.Fatalf("next attempt id %q", o.NextAttemptID())
	}
	wantTypes(t, raised(t, o, func() error {
		return o.AttemptDelivery(id, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY, mapped(), c.Now())
	}))
	// A retry's own id replaces an attempt whose outcome never came.
	wantTypes(t, raised(t, o, func() error {
		return o.AttemptDelivery("rec_x-w1-a1", ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY, mapped(), c.Advance(time.Hour))
	}), "OrderDeliveryAttempted")
	if p, _ := o.Pending(); p != "rec_x-w1-a1" || o.Snapshot().GetAttempts() != 2 || o.Snapshot().GetWmsShipMethod() != "UPS_GROUND" {
		t.Fatalf("state %v", o.Snapshot())
	}
	wantInvalid(t, o.AttemptDelivery("a9", ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY, domain.ShipMethod{Code: "Other", WMSMethod: "X"}, c.Now()), "ship_method.code")
	wantInvalid(t, o.AttemptDelivery("", 0, mapped(), c.Now()), "attempt_id", "trigger")
	checkFold(t, o)
}

func TestAttemptDelivery_unmappedShipMethodHoldsBeforeSending(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := received(t, "#A2", c)
	id := o.NextAttemptID()
	got := raised(t, o, func() error {
		return o.AttemptDelivery(id, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, unmapped(), c.Now())
	})
	wantTypes(t, got, "OrderDeliveryFailed", "OrderHeld")
	f := got[0].(*ordersv1.OrderDeliveryFailed).GetFailure()
	if f.GetSent() || f.GetCode() != order.CodeShipMethodUnmapped || f.GetAttemptId() != id ||
		f.GetClass() != connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION || f.GetAlertType() != "ship_method_unmapped" ||
		!strings.Contains(f.GetMessage(), `"Express Shipping"`) || !strings.Contains(f.GetMessage(), "shop-1") {
		t.Fatalf("failure %v", f)
	}
	held := got[1].(*ordersv1.OrderHeld)
	if held.GetReason() != order.ReasonShipMethodUnmapped || held.GetShipMethodCode() != code {
		t.Fatalf("held %v", held)
	}
	wantStatus(t, o, stError)
	if _, ok := o.Pending(); ok {
		t.Fatal("an order held before sending has an attempt in flight")
	}
	// It counts as an attempt, so the next own attempt id differs.
	if o.NextAttemptID() != o.ID()+"-d2" || o.HeldReason() != "ship_method_unmapped" {
		t.Fatalf("next id %q, held reason %q", o.NextAttemptID(), o.HeldReason())
	}
	// Held orders are not retried.
	wantWrongState(t, o.AttemptDelivery("rec_x-w1-a1", ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY, mapped(), c.Now()))
	checkFold(t, o)
}

func TestRecordFailure_classDecidesWhatFollows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		class  order.Classification
		status ordersv1.OrderStatus
		types  []string
	}{
		{"transient", transient, stNew, []string{"OrderDeliveryFailed"}},
		{"rate limited", rateLimited, stNew, []string{"OrderDeliveryFailed"}},
		{"auth", authFailed, stNew, []string{"OrderDeliveryFailed"}},
		{"manual action", badAddress, stError, []string{"OrderDeliveryFailed", "OrderHeld"}},
		{"manual action without alert type", order.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION}, stError, []string{"OrderDeliveryFailed", "OrderHeld"}},
		{"rejected", rejected, stSkipped, []string{"OrderDeliveryFailed", "OrderSkipped"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := received(t, "#F-"+tt.name, c)
			id := attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, c)
			f := failure(id, 422, "INVALID_ADDRESS", "Ship-to address is invalid: postal code is missing", c.Advance(2*time.Second))
			f.RetryAfter = 30 * time.Second
			got := raised(t, o, func() error { return o.RecordFailure(f, tt.class, c.Now()) })
			wantTypes(t, got, tt.types...)
			wantStatus(t, o, tt.status)
			lf := o.Snapshot().GetLastFailure()
			if !lf.GetSent() || lf.GetHttpStatus() != 422 || lf.GetRetryAfter().AsDuration() != 30*time.Second ||
				!lf.GetAttemptedAt().AsTime().Equal(t0) || lf.GetClass() != tt.class.Class {
				t.Fatalf("last failure %v", lf)
			}
			if _, ok := o.Pending(); ok {
				t.Fatal("the failed attempt is still in flight")
			}
			if tt.status == stError {
				want := tt.class.AlertType
				if want == "" {
					want = order.ReasonManualAction
				}
				if o.HeldReason() != want {
					t.Fatalf("held reason %q, want %q", o.HeldReason(), want)
				}
			}
			if tt.status == stSkipped && o.Snapshot().GetSkipReason() != ordersv1.SkipReason_SKIP_REASON_REJECTED {
				t.Fatalf("skip reason %s", o.Snapshot().GetSkipReason())
			}
			// The same failure again is not the attempt in flight any more.
			wantTypes(t, raised(t, o, func() error { return o.RecordFailure(f, tt.class, c.Now()) }))
			checkFold(t, o)
		})
	}
}

func TestRecordFailure_validates(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := received(t, "#F-v", c)
	id := attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, c)
	wantInvalid(t, o.RecordFailure(order.Failure{AttemptID: id}, transient, c.Now()), "message")
	wantInvalid(t, o.RecordFailure(failure(id, 999, "", "x", c.Now()), transient, c.Now()), "http_status")
	wantInvalid(t, o.RecordFailure(failure(id, 500, "", "x", c.Now()), order.Classification{}, c.Now()), "class")
	wantInvalid(t, o.RecordFailure(failure("", 500, "", "x", c.Now()), transient, c.Now()), "attempt_id")
	if _, ok := o.Pending(); !ok {
		t.Fatal("an invalid failure ended the attempt")
	}
}

// Edits, resends and cancellations end the attempt in flight: its late failure is stale, its
// late acceptance still counts.
func TestOrder_lateOutcomes(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := received(t, "#L1", c)
	first := attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, c)
	must(t, o.Edit(order.Edit{ShipMethodCode: "Overnight"}, "ops@example.com", c.Advance(time.Second)))
	if _, ok := o.Pending(); ok {
		t.Fatal("the edit left the attempt in flight")
	}
	if s := o.Snapshot(); s.GetWmsShipMethod() != "" || s.GetShipMethodCode() != "Overnight" {
		t.Fatalf("after a ship method edit: %q → %q", s.GetShipMethodCode(), s.GetWmsShipMethod())
	}
	wantTypes(t, raised(t, o, func() error {
		return o.RecordFailure(failure(first, 422, "INVALID_ADDRESS", "bad", c.Now()), badAddress, c.Now())
	}))
	wantStatus(t, o, stNew)

	must(t, o.CancelSending("ops@example.com", "", c.Advance(time.Second)))
	got := raised(t, o, func() error { return o.RecordAccepted(first, "WMS-7", false, c.Advance(time.Second)) })
	wantTypes(t, got, "OrderAcceptedByWMS")
	if a := got[0].(*ordersv1.OrderAcceptedByWMS); !a.GetAttemptedAt().AsTime().Equal(t0) || a.GetWmsOrderId() != "WMS-7" {
		t.Fatalf("accepted %v", a)
	}
	wantStatus(t, o, stAtWMS)
	if s := o.Snapshot(); s.GetCanceledAt() != nil || s.GetWmsOrderId() != "WMS-7" {
		t.Fatalf("state %v", s)
	}
	checkFold(t, o)
}

func TestEdit_releasesHeldAndSkippedOrders(t *testing.T) {
	t.Parallel()
	for _, from := range []ordersv1.OrderStatus{stError, stSkipped} {
		t.Run(order.StatusWord(from), func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := inStatus(t, from, c)
			got := raised(t, o, func() error {
				return o.Edit(order.Edit{Lines: lines()[:1]}, "ops@example.com", c.Advance(time.Hour))
			})
			wantTypes(t, got, "OrderEdited", "OrderReleased")
			e, r := got[0].(*ordersv1.OrderEdited), got[1].(*ordersv1.OrderReleased)
			if e.GetSource() != ordersv1.EditSource_EDIT_SOURCE_PERSON || !slices.Equal(e.GetChangedFields(), []string{"lines"}) ||
				!proto.Equal(e.GetShipTo(), address()) || e.GetShipMethodCode() != code {
				t.Fatalf("edit %v", e)
			}
			if r.GetCause() != ordersv1.ReleaseCause_RELEASE_CAUSE_EDITED || r.GetPreviousStatus() != from {
				t.Fatalf("release %v", r)
			}
			wantStatus(t, o, stNew)
			if s := o.Snapshot(); s.GetHeldReason() != "" || s.GetHeldAt() != nil || s.GetSkipReason() != 0 || s.GetSkippedAt() != nil {
				t.Fatalf("hold or skip left over: %v", s)
			}
			// An edit that changes nothing raises nothing.
			wantTypes(t, raised(t, o, func() error { return o.Edit(order.Edit{Lines: lines()[:1]}, "", c.Now()) }))
			checkFold(t, o)
		})
	}
}

func TestEdit_validates(t *testing.T) {
	t.Parallel()
	o := received(t, "#E-v", newClock())
	wantInvalid(t, o.Edit(order.Edit{Lines: []*ordersv1.OrderLine{}}, "", t0), "lines")
	wantInvalid(t, o.Edit(order.Edit{ShipTo: &ordersv1.Address{Name: "\xff"}}, strings.Repeat("a", 300), t0), "ship_to.name", "actor")
}

func TestResendAndCancel_recordWhoAndWhy(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := inStatus(t, stSkipped, c)
	got := raised(t, o, func() error { return o.RequestResend("ops@example.com", c.Advance(time.Hour)) })
	wantTypes(t, got, "OrderResendRequested")
	if r := got[0].(*ordersv1.OrderResendRequested); r.GetPreviousStatus() != stSkipped || r.GetActor() != "ops@example.com" {
		t.Fatalf("resend %v", r)
	}
	got = raised(t, o, func() error { return o.CancelSending("ops@example.com", "duplicate order", c.Advance(time.Hour)) })
	wantTypes(t, got, "OrderSendingCanceled")
	if e := got[0].(*ordersv1.OrderSendingCanceled); e.GetPreviousStatus() != stNew || e.GetReason() != "duplicate order" {
		t.Fatalf("cancel %v", e)
	}
	if !o.Snapshot().GetCanceledAt().AsTime().Equal(c.Now()) {
		t.Fatalf("canceled_at %v", o.Snapshot().GetCanceledAt())
	}
	checkFold(t, o)
}

func TestReleaseShipMethod_onlyReleasesOrdersHeldOnThatCode(t *testing.T) {
	t.Parallel()
	c := newClock()
	held := inStatus(t, stError, c)
	wantTypes(t, raised(t, held, func() error { return held.ReleaseShipMethod(unmapped(), "", c.Now()) }))
	wantTypes(t, raised(t, held, func() error {
		return held.ReleaseShipMethod(domain.ShipMethod{Code: "Other", WMSMethod: "UPS_GROUND"}, "", c.Now())
	}))
	got := raised(t, held, func() error {
		return held.ReleaseShipMethod(domain.ShipMethod{Code: code, WMSMethod: code, PassThrough: true}, "ops@example.com", c.Now())
	})
	wantTypes(t, got, "OrderReleased")
	if r := got[0].(*ordersv1.OrderReleased); r.GetCause() != ordersv1.ReleaseCause_RELEASE_CAUSE_SHIP_METHOD_MAPPED ||
		r.GetWmsShipMethod() != code || !r.GetShipMethodPassedThrough() {
		t.Fatalf("release %v", r)
	}
	if s := held.Snapshot(); s.GetStatus() != stNew || s.GetWmsShipMethod() != code || !s.GetShipMethodPassedThrough() {
		t.Fatalf("state %v", s)
	}

	// An order held on its address is not released by a mapping of its code.
	addr := received(t, "#R2", c)
	id := attempt(t, addr, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, c)
	must(t, addr.RecordFailure(failure(id, 422, "INVALID_ADDRESS", "bad address", c.Now()), badAddress, c.Now()))
	wantTypes(t, raised(t, addr, func() error { return addr.ReleaseShipMethod(mapped(), "", c.Now()) }))
	wantStatus(t, addr, stError)

	// An order the WMS refused for its ship method (held on ship_method_unmapped) is released by
	// a corrected mapping.
	wms := received(t, "#R3", c)
	id = attempt(t, wms, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, c)
	smu := order.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION, AlertType: "ship_method_unmapped"}
	must(t, wms.RecordFailure(failure(id, 422, "SHIP_METHOD_UNKNOWN", `Unknown ship method "UPS_GROUND"`, c.Now()), smu, c.Now()))
	wantTypes(t, raised(t, wms, func() error {
		return wms.ReleaseShipMethod(domain.ShipMethod{Code: code, WMSMethod: "FEDEX_GROUND"}, "", c.Now())
	}), "OrderReleased")
	checkFold(t, held)
	checkFold(t, wms)
}

func TestShip_acceptsAnUnacknowledgedOrderAndRecordsCorrections(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := received(t, "#S1", c)
	id := attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, c)
	got := raised(t, o, func() error {
		return o.Ship(order.Shipment{WMSOrderID: "WMS-3", Tracking: trackingSent}, c.Advance(time.Hour))
	})
	wantTypes(t, got, "OrderAcceptedByWMS", "OrderShipped")
	if a := got[0].(*ordersv1.OrderAcceptedByWMS); !a.GetViaShipment() || a.GetAttemptId() != id || a.GetWmsOrderId() != "WMS-3" {
		t.Fatalf("accepted %v", a)
	}
	s := got[1].(*ordersv1.OrderShipped)
	if s.GetTrackingRecord().GetRecordKind() != connectorv1.RecordKind_RECORD_KIND_TRACKING ||
		s.GetTrackingRecord().GetConnectionId() != cartID || s.GetTrackingRecord().GetSystemKind() != connectorv1.SystemKind_SYSTEM_KIND_CART {
		t.Fatalf("tracking record %v", s.GetTrackingRecord())
	}
	must(t, o.RecordTrackingPushFailure(failure(o.NextTrackingAttemptID(), 429, "RATE_LIMITED", "slow down", c.Advance(time.Second)), rateLimited, c.Now()))
	if o.NextTrackingAttemptID() != o.ID()+"-t2" || o.Snapshot().GetLastTrackingFailure().GetHttpStatus() != 429 {
		t.Fatalf("after a tracking failure: %v", o.Snapshot())
	}
	must(t, o.RecordTrackingPushed(o.NextTrackingAttemptID(), "FUL-9", c.Now(), c.Advance(time.Second)))
	wantStatus(t, o, stConfirmed)

	// A corrected tracking number is shipped again and must be confirmed again.
	fixed := proto.CloneOf(trackingSent)
	fixed.TrackingNumber = "1Z1000"
	wantTypes(t, raised(t, o, func() error { return o.Ship(order.Shipment{Tracking: fixed}, c.Advance(time.Hour)) }), "OrderShipped")
	if s := o.Snapshot(); s.GetStatus() != stShipped || s.GetConfirmedAt() != nil || s.GetWmsOrderId() != "WMS-3" || s.GetTracking().GetTrackingNumber() != "1Z1000" {
		t.Fatalf("after a correction: %v", s)
	}
	wantInvalid(t, o.Ship(order.Shipment{Tracking: &ordersv1.Tracking{}}, c.Now()), "tracking.carrier", "tracking.tracking_number")
	checkFold(t, o)
}

func TestStatusWord(t *testing.T) {
	t.Parallel()
	want := map[ordersv1.OrderStatus]string{
		0: "not received", stNew: "new", stAtWMS: "at_wms", stError: "error", stSkipped: "skipped",
		stCanceled: "canceled", stShipped: "shipped", stConfirmed: "confirmed",
	}
	for s, w := range want {
		if got := order.StatusWord(s); got != w {
			t.Errorf("StatusWord(%s) = %q, want %q", s, got, w)
		}
	}
}
