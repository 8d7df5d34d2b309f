package order_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// Every delivery outcome is a valid connector report on the order's (or its tracking's) record,
// stored through the ingest path like any connector's, so alerts and retries see orders as they
// see any record.
func TestConnectorReport_everyOutcomeIsAValidReport(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := received(t, "#C1", c)
	must(t, o.AttemptDelivery(o.NextAttemptID(), ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, unmapped(), c.Now()))
	must(t, o.ReleaseShipMethod(mapped(), "ops@example.com", c.Advance(time.Minute)))
	id := attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_SHIP_METHOD_MAPPED, c)
	f := failure(id, 429, "RATE_LIMITED", "Too many requests", c.Advance(time.Second))
	f.RetryAfter = time.Minute
	must(t, o.RecordFailure(f, rateLimited, c.Now()))
	id = attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY, c)
	must(t, o.RecordFailure(failure(id, 422, "INVALID_ADDRESS", "postal code is missing", c.Advance(time.Second)), badAddress, c.Now()))
	must(t, o.Edit(order.Edit{ShipTo: address()}, "ops@example.com", c.Now())) // no change
	a := address()
	a.PostalCode = "N1 9GX"
	must(t, o.Edit(order.Edit{ShipTo: a}, "ops@example.com", c.Advance(time.Minute)))
	must(t, o.CancelSending("ops@example.com", "", c.Advance(time.Minute)))
	must(t, o.RequestResend("ops@example.com", c.Advance(time.Minute)))
	id = attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RESEND_REQUESTED, c)
	must(t, o.RecordAccepted(id, "WMS-1", false, c.Advance(time.Second)))
	must(t, o.Ship(order.Shipment{Tracking: trackingSent}, c.Advance(time.Hour)))
	must(t, o.RecordTrackingPushFailure(failure(o.NextTrackingAttemptID(), 0, "timeout", "no answer", c.Advance(time.Second)), transient, c.Now()))
	must(t, o.RecordTrackingPushed(o.NextTrackingAttemptID(), "FUL-1", c.Now(), c.Advance(time.Second)))

	var reports []proto.Message
	for _, ev := range o.Changes() {
		if r, ok := order.ConnectorReport(ev); ok {
			reports = append(reports, r)
		}
	}
	wantTypes(t, reports,
		"RecordFailed",    // held before sending
		"RecordUpdated",   // released by the mapping
		"RecordFailed",    // 429
		"RecordFailed",    // 422 address
		"RecordUpdated",   // edited
		"RecordUpdated",   // canceled
		"RecordUpdated",   // resend requested
		"RecordSucceeded", // accepted
		"RecordFailed",    // tracking push failed
		"RecordSucceeded", // tracking confirmed
	)
	orderKey, trackingKey := connector.RecordKeyOf(o.RecordRef()), connector.RecordKeyOf(o.TrackingRef())
	store := memstore.New(ingest.Registry())
	in, err := ingest.New(store)
	must(t, err)
	ctx := context.Background()
	for i, r := range reports {
		var validate error
		var ref *connectorv1.RecordRef
		switch m := r.(type) {
		case *connectorv1.RecordFailed:
			validate, ref = connector.ValidateFailed(m), m.GetRecord()
		case *connectorv1.RecordSucceeded:
			validate, ref = connector.ValidateSucceeded(m), m.GetRecord()
		case *connectorv1.RecordUpdated:
			validate, ref = connector.ValidateUpdated(m), m.GetRecord()
		}
		if validate != nil {
			t.Fatalf("report %d (%s) is invalid: %v", i, events.TypeName(r), validate)
		}
		wantKey := orderKey
		if i >= 8 {
			wantKey = trackingKey
		}
		if got := connector.RecordKeyOf(ref); got != wantKey {
			t.Fatalf("report %d is on record %s, want %s", i, got, wantKey)
		}
		if _, err := in.Report(ctx, r, events.Metadata{}); err != nil {
			t.Fatalf("ingesting report %d: %v", i, err)
		}
	}
	stored, err := store.Load(ctx, connector.RecordStream(o.RecordRef()), 0)
	must(t, err)
	if len(stored.Events) != 8 {
		t.Fatalf("%d reports stored on the order record, want 8", len(stored.Events))
	}
	up := reports[1].(*connectorv1.RecordUpdated)
	if up.GetChange() != connectorv1.RecordChange_RECORD_CHANGE_EDITED || !slices.Equal(up.GetChangedFields(), []string{"ship_method"}) {
		t.Fatalf("mapping release report %v", up)
	}
	if rf := reports[2].(*connectorv1.RecordFailed); rf.GetRetryAfter().AsDuration() != time.Minute || rf.GetHttpStatus() != 429 {
		t.Fatalf("429 report %v", rf)
	}
	if rs := reports[7].(*connectorv1.RecordSucceeded); rs.GetExternalId() != "WMS-1" || rs.GetAttemptedAt() == nil {
		t.Fatalf("success report %v", rs)
	}
	if ref := o.RecordRef(); ref.GetOrderNumber() != "#C1" || ref.GetRecordId() != o.ID() || ref.GetWarehouseId() != "3pl-1" || ref.GetSystem() != "sandbox-wms" {
		t.Fatalf("order record %v", ref)
	}
}

// The failure that holds an order before sending classifies, with the default rules, as the
// manual-action ship_method_unmapped alert, notified at once.
func TestConnectorReport_unmappedShipMethodClassifiesAsShipMethodUnmapped(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := received(t, "#C2", c)
	must(t, o.AttemptDelivery(o.NextAttemptID(), ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, unmapped(), c.Now()))
	r, ok := order.ConnectorReport(o.Changes()[1])
	if !ok {
		t.Fatal("no report for the failure")
	}
	got := classify.Default().Classify(r.(*connectorv1.RecordFailed))
	if got.Class != connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION || got.AlertType != classify.TypeShipMethodUnmapped || !got.Immediate {
		t.Fatalf("classified %+v", got)
	}
}
