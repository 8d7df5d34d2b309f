package order_test

import (
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/internal/golden"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// Golden histories: testdata/<name>.events.jsonl is a recorded event history (one event a line:
// its type and its protojson payload) and testdata/<name>.state.json the state it must rebuild.
// Histories are never rewritten: a change that rebuilds different state from them fails.
//
//	go test ./domain/order -run TestGolden -record   # record histories of new scenarios
//	go test ./domain/order -run TestGolden -update   # accept new expected states (review the diff!)
var (
	recordGolden = flag.Bool("record", false, "record the golden histories of scenarios that have none yet")
	updateGolden = flag.Bool("update", false, "rewrite the expected states of the golden histories")
)

// goldenScenarios are the command sequences the golden histories were recorded from.
var goldenScenarios = map[string]func(t *testing.T) *order.Order{
	"unmapped_mapped_shipped_confirmed": func(t *testing.T) *order.Order {
		c := newClock()
		o := received(t, "#G1", c)
		must(t, o.AttemptDelivery(o.NextAttemptID(), ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, unmapped(), c.Advance(time.Second)))
		must(t, o.ReleaseShipMethod(mapped(), "ops@example.com", c.Advance(2*time.Hour)))
		id := attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_SHIP_METHOD_MAPPED, c)
		must(t, o.RecordAccepted(id, "WMS-0000001", false, c.Advance(300*time.Millisecond)))
		must(t, o.Ship(order.Shipment{WMSOrderID: "WMS-0000001", Tracking: trackingSent}, c.Advance(48*time.Hour)))
		must(t, o.RecordTrackingPushFailure(failure(o.NextTrackingAttemptID(), 503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable", c.Advance(time.Second)), transient, c.Now()))
		must(t, o.RecordTrackingPushed(o.NextTrackingAttemptID(), "FUL-0000001", c.Advance(24*time.Hour), c.Advance(200*time.Millisecond)))
		return o
	},
	"address_held_edited_accepted_duplicate": func(t *testing.T) *order.Order {
		c := newClock()
		o := received(t, "#G2", c)
		id := attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, c)
		must(t, o.RecordFailure(failure(id, 0, "timeout", "no answer from POST http://127.0.0.1:8091/wms/wms-1/v1/orders within 30s (timeout)", c.Advance(30*time.Second)), transient, c.Now()))
		must(t, o.AttemptDelivery("rec_g2-w1-a1", ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RETRY, mapped(), c.Advance(time.Hour)))
		must(t, o.RecordFailure(failure("rec_g2-w1-a1", 422, "INVALID_ADDRESS", "Ship-to address is invalid: postal code is missing", c.Advance(time.Second)), badAddress, c.Now()))
		a := address()
		a.PostalCode = "N1 9GU"
		a.Address2 = "Flat 3"
		must(t, o.Edit(order.Edit{ShipTo: a}, "ops@example.com", c.Advance(3*time.Hour)))
		must(t, o.AttemptDelivery("rec_g2-w2-a1", ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_EDITED, mapped(), c.Advance(time.Second)))
		must(t, o.RecordAccepted("rec_g2-w2-a1", "WMS-0000042", true, c.Advance(time.Second)))
		return o
	},
	"rejected_resent_rate_limited_canceled": func(t *testing.T) *order.Order {
		c := newClock()
		o := received(t, "#G3", c)
		id := attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, c)
		must(t, o.RecordFailure(failure(id, 422, "VALIDATION_FAILED", "Order is invalid: lines[0].quantity must be at least 1", c.Advance(time.Second)), rejected, c.Now()))
		must(t, o.RequestResend("ops@example.com", c.Advance(24*time.Hour)))
		id = attempt(t, o, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RESEND_REQUESTED, c)
		f := failure(id, 429, "RATE_LIMITED", "Too many requests: rate limit exceeded, retry after 30 seconds", c.Advance(time.Second))
		f.RetryAfter = 30 * time.Second
		must(t, o.RecordFailure(f, rateLimited, c.Now()))
		must(t, o.CancelSending("ops@example.com", "customer cancelled", c.Advance(time.Minute)))
		return o
	},
	"resubmitted_skipped_shipped": func(t *testing.T) *order.Order {
		c := newClock()
		o := received(t, "#G4", c)
		sub := submission("#G4")
		sub.ShipMethodCode = "Overnight"
		sub.Lines = append(sub.Lines, &ordersv1.OrderLine{Sku: "CAP", Quantity: 1, UnitPrice: "9.99"})
		if _, err := o.Receive(sub, c.Advance(time.Minute)); err != nil {
			t.Fatal(err)
		}
		id := o.NextAttemptID()
		must(t, o.AttemptDelivery(id, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_EDITED, domainShipMethod("Overnight", "UPS_NEXT_DAY_AIR"), c.Now()))
		must(t, o.RecordFailure(failure(id, 401, "UNAUTHORIZED", "Invalid or expired API token", c.Advance(time.Second)), authFailed, c.Now()))
		must(t, o.Skip(ordersv1.SkipReason_SKIP_REASON_MAX_CONSECUTIVE_FAILURES, c.Advance(15*24*time.Hour)))
		must(t, o.Ship(order.Shipment{WMSOrderID: "WMS-0000077", Tracking: trackingSent}, c.Advance(time.Hour)))
		return o
	},
}

var goldenRegistry = events.NewRegistry(order.EventTypes()...)

func TestGolden_historiesRebuildTheRecordedState(t *testing.T) {
	t.Parallel()
	if *recordGolden {
		for name, run := range goldenScenarios {
			o := run(t)
			checkFold(t, o)
			golden.Write(t, name, o.Changes(), o.Snapshot())
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.events.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden histories in testdata (%v); record them with -record", err)
	}
	for name := range goldenScenarios {
		if !slices.Contains(files, golden.HistoryPath(name)) {
			t.Errorf("scenario %s has no golden history; record it with -record", name)
		}
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".events.jsonl")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			msgs := golden.Read(t, file, goldenRegistry)
			first, ok := msgs[0].(*ordersv1.OrderReceived)
			if !ok {
				t.Fatalf("history starts with %s, want OrderReceived", events.TypeName(msgs[0]))
			}
			o := order.New(order.Stream(first.GetAccountId(), first.GetOrderId()))
			for i, rec := range golden.Records(msgs) {
				if err := o.Apply(rec); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
			}
			if *updateGolden {
				golden.WriteState(t, golden.StatePath(name), o.Snapshot())
				return
			}
			golden.EqualState(t, golden.StatePath(name), o.Snapshot())
		})
	}
}

// The scenarios still raise the histories recorded from them, so the histories stay what the code
// writes, not only what it reads.
func TestGolden_scenariosStillRaiseTheRecordedHistories(t *testing.T) {
	t.Parallel()
	for name, run := range goldenScenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := golden.Read(t, golden.HistoryPath(name), goldenRegistry)
			got := run(t).Changes()
			if len(got) != len(want) {
				t.Fatalf("the scenario raises %v, the history holds %v", types(got), types(want))
			}
			for i := range got {
				if !proto.Equal(got[i], want[i]) {
					t.Fatalf("event %d: the scenario raises\n%s\nthe history holds\n%s", i+1, golden.Indent(t, got[i]), golden.Indent(t, want[i]))
				}
			}
		})
	}
}
