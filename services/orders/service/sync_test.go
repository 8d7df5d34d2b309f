package service_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/outbound/wms"
	"github.com/reboundhq/rebound/services/orders/sandbox"
	"github.com/reboundhq/rebound/services/orders/service"
)

// settled waits until the consumers on a stream have nothing pending or unacknowledged.
func (w *world) settled(stream string, names ...string) {
	w.t.Helper()
	for _, name := range names {
		eventually(w.t, 30*time.Second, name+" to settle", func() bool {
			c, err := w.js.Consumer(w.t.Context(), stream, name)
			if err != nil {
				return false
			}
			info, err := c.Info(w.t.Context())
			return err == nil && info.NumPending == 0 && info.NumAckPending == 0
		})
	}
}

func trackingRef(o *ordersv1.Order) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: o.GetAccountId(), ConnectionId: o.GetCart().GetConnectionId(), SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART,
		RecordKind: connectorv1.RecordKind_RECORD_KIND_TRACKING, RecordId: o.GetOrderId(),
	}
}

// A shipment read in a sync cycle is pushed to the cart at once. When the cart fails (500), the
// push is retried on the connection's next sync cycle and not before: the cart sees no other
// request until then, however long it takes. Then the order is confirmed and the alert resolves.
func TestTracking_failedPushRetriedOnNextSyncCycle(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.mapStandard()
	id := w.submit(w.submission("#7001", mapped)).GetOrder().GetOrderId()
	o := w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, 20*time.Second)

	if _, err := w.cartAdm.SetFailure(t.Context(), cartConn, sandbox.Failure{Mode: sandbox.ModeHTTP500}); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.sb.WMS.Ship(o.GetWmsOrderId(), sandbox.ShipRequest{Carrier: "UPS", TrackingNumber: "1Z999"}); !ok {
		t.Fatal("the sandbox WMS does not know the order")
	}
	res, err := w.orders.SyncNow(t.Context(), w.account, cartConn)
	if err != nil || res.Shipments != 1 {
		t.Fatalf("first cycle: %+v, %v", res, err)
	}
	eventually(t, 20*time.Second, "the failed push", func() bool {
		o, _ = w.order(id)
		return o.GetStatus() == ordersv1.OrderStatus_ORDER_STATUS_SHIPPED && o.GetLastTrackingFailure() != nil
	})
	if f := o.GetLastTrackingFailure(); f.GetHttpStatus() != 500 || o.GetTracking().GetTrackingNumber() != "1Z999" {
		t.Fatalf("order after the failed push: %v", o)
	}
	eventually(t, 20*time.Second, "the retry to wait for the next cycle", func() bool {
		return count(w.retryEvents(trackingRef(o)), "RetryWaitingForSync") == 1
	})
	w.waitAlert(id, connectorv1.RecordKind_RECORD_KIND_TRACKING, "open", func(a *alertsv1.Alert) bool {
		return a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_OPEN
	})
	if err := w.cartAdm.ClearFailure(t.Context(), cartConn); err != nil {
		t.Fatal(err)
	}
	// Everything that could act on the failure has: still one request, still shipped.
	w.settled("EVENTS", "orders-tracking", "orders-reports", "retry-records", "retry-due")
	w.settled("RETRY_DUE", "orders-due")
	if n := w.sb.Cart.Stats().Requests; n != 1 {
		t.Fatalf("the cart received %d requests before the next cycle, want 1", n)
	}
	if o, _ = w.order(id); o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_SHIPPED {
		t.Fatalf("before the next cycle the order is %v", o.GetStatus())
	}

	if _, err := w.orders.SyncNow(t.Context(), w.account, cartConn); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED, 20*time.Second)
	fs := w.sb.Cart.Fulfillments(cartConn)
	if len(fs) != 1 || fs[0].Fulfillment.TrackingNumber != "1Z999" || fs[0].Fulfillment.OrderNumber != "#7001" {
		t.Fatalf("the cart holds %+v", fs)
	}
	w.waitAlert(id, connectorv1.RecordKind_RECORD_KIND_TRACKING, "resolved", func(a *alertsv1.Alert) bool {
		return a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_RESOLVED
	})
}

// A sync cycle reports SyncCycleStarted and pushes the WMS's stock levels; a level the cart
// refused is pushed again by the retry service's command on the next cycle (the cycle itself
// pushes only what changed), reported with the command's attempt id.
func TestSyncCycle_pushesInventoryAndRetriesFailedLevels(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.sb.WMS.SetStock(wmsConn, wms.InventoryLevel{SKU: "SKU-1", Available: 5}, wms.InventoryLevel{SKU: "SKU 2/blue", Available: 7})
	if _, err := w.cartAdm.SetFailure(t.Context(), cartConn, sandbox.Failure{Mode: sandbox.ModeHTTP500}); err != nil {
		t.Fatal(err)
	}
	res, err := w.orders.SyncNow(t.Context(), w.account, cartConn)
	if err != nil || res.InventoryFailed != 2 {
		t.Fatalf("first cycle: %+v, %v", res, err)
	}
	cycles, err := w.store.Load(t.Context(), connector.ConnectionStream(w.account, cartConn), 0)
	if err != nil || len(cycles.Events) != 1 {
		t.Fatalf("sync cycles stored: %v, %v", cycles.Events, err)
	}
	for _, sku := range []string{"SKU-1", "SKU 2/blue"} {
		w.waitAlert(sku, connectorv1.RecordKind_RECORD_KIND_INVENTORY, "open", func(a *alertsv1.Alert) bool {
			return a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_OPEN && a.GetRecord().GetSku() == sku
		})
		ref := &connectorv1.RecordRef{AccountId: w.account, ConnectionId: cartConn, RecordKind: connectorv1.RecordKind_RECORD_KIND_INVENTORY, RecordId: sku}
		eventually(t, 20*time.Second, "the retry of "+sku+" to wait for the next cycle", func() bool {
			return count(w.retryEvents(ref), "RetryWaitingForSync") == 1
		})
	}
	if err := w.cartAdm.ClearFailure(t.Context(), cartConn); err != nil {
		t.Fatal(err)
	}
	res, err = w.orders.SyncNow(t.Context(), w.account, cartConn)
	if err != nil || res.InventoryPushed+res.InventoryFailed != 0 {
		t.Fatalf("second cycle pushed unchanged levels itself: %+v, %v", res, err)
	}
	eventually(t, 20*time.Second, "the levels in the cart", func() bool { return len(w.sb.Cart.Inventory(cartConn)) == 2 })
	for _, sku := range []string{"SKU-1", "SKU 2/blue"} {
		w.waitAlert(sku, connectorv1.RecordKind_RECORD_KIND_INVENTORY, "resolved", func(a *alertsv1.Alert) bool {
			return a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_RESOLVED
		})
		ref := &connectorv1.RecordRef{AccountId: w.account, ConnectionId: cartConn, RecordKind: connectorv1.RecordKind_RECORD_KIND_INVENTORY, RecordId: sku}
		loaded, err := w.store.Load(t.Context(), connector.RecordStream(ref), 0)
		if err != nil {
			t.Fatal(err)
		}
		last := loaded.Events[len(loaded.Events)-1].Message.(*connectorv1.RecordSucceeded)
		if !strings.Contains(last.GetAttemptId(), "-w") {
			t.Fatalf("the success of %s was reported with %q, not the retry command's attempt id", sku, last.GetAttemptId())
		}
	}
	// A changed level is pushed by the cycle itself.
	w.sb.WMS.SetStock(wmsConn, wms.InventoryLevel{SKU: "SKU-1", Available: 4})
	res, err = w.orders.SyncNow(t.Context(), w.account, cartConn)
	if err != nil || res.InventoryPushed != 1 {
		t.Fatalf("third cycle: %+v, %v", res, err)
	}
}

// The scheduler runs each cart connection's cycles on its interval.
func TestSyncCycle_runsOnTheConnectionsInterval(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{orders: service.Config{SyncTick: 100 * time.Millisecond}, noRetrySvcs: true})
	w.configure(&connectionsv1.ConnectionSettings{
		ConnectionId: cartConn, AccountId: w.account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "sandbox-cart", BaseUrl: w.sb.CartBaseURL(cartConn),
		SyncInterval: durationpb.New(time.Second), WmsConnectionId: wmsConn,
	})
	start := time.Now()
	var cycles []events.Record
	eventually(t, 20*time.Second, "three sync cycles", func() bool {
		loaded, err := w.store.Load(t.Context(), connector.ConnectionStream(w.account, cartConn), 0)
		cycles = loaded.Events
		return err == nil && len(cycles) >= 3
	})
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Fatalf("three cycles of a 1 s interval within %s", took)
	}
	c, err := w.conns.GetConnection(w.as("merchant"), &connectionsv1.GetConnectionRequest{AccountId: w.account, ConnectionId: cartConn})
	if err != nil {
		t.Fatal(err)
	}
	if h := c.GetConnection().GetHealth(); h.GetLastSyncStartedAt() == nil || h.GetNextSyncAt() == nil {
		t.Fatalf("health %v", h)
	}
}
