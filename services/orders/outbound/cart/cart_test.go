package cart_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/services/orders/outbound/cart"
	"github.com/reboundhq/rebound/services/orders/outbound/remote"
	"github.com/reboundhq/rebound/services/orders/sandbox"
	"github.com/reboundhq/rebound/services/orders/sandbox/sandboxtest"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func clientOf(t *testing.T, sb *sandbox.Sandbox, conn string, timeout time.Duration) *cart.Client {
	t.Helper()
	c, err := cart.New(remote.Config{BaseURL: sb.CartBaseURL(conn), Token: "any", Timeout: timeout}, nil)
	must(t, err)
	return c
}

func shippedOrder(id string) *ordersv1.Order {
	return &ordersv1.Order{
		OrderId: id, OrderNumber: "#" + id, CartOrderId: "gid-" + id,
		Tracking: &ordersv1.Tracking{Carrier: "UPS", Service: "Ground", TrackingNumber: "1Z" + id, TrackingUrl: "https://t/1Z",
			ShippedAt: timestamppb.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))},
	}
}

func trackingRef(conn, id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: "m1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, ConnectionId: conn,
		SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "sandbox-cart",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_TRACKING, RecordId: id, OrderNumber: "#" + id,
	}
}

func TestPushTracking_recordsOnceAndAnswersRepeatsWithTheSameFulfillment(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	ctx := context.Background()
	c := clientOf(t, sb, "shop-1", 5*time.Second)
	f := cart.FulfillmentOf(shippedOrder("ord_1"))
	if f.TrackingNumber != "1Zord_1" || f.ShippedAt == nil || f.IdempotencyKey() != "ord_1:1Zord_1" {
		t.Fatalf("fulfillment %+v", f)
	}
	first, err := c.PushTracking(ctx, f)
	must(t, err)
	again, err := c.PushTracking(ctx, f)
	must(t, err)
	if first.Duplicate || !again.Duplicate || again.FulfillmentID != first.FulfillmentID {
		t.Fatalf("answers %+v then %+v", first, again)
	}
	// A corrected tracking number is a new fulfillment.
	f.TrackingNumber = "1Zfixed"
	fixed, err := c.PushTracking(ctx, f)
	must(t, err)
	if fixed.Duplicate || fixed.FulfillmentID == first.FulfillmentID {
		t.Fatalf("correction answered %+v", fixed)
	}
	stored, err := sandbox.NewAdminClient(sb.CartURL(), nil).Fulfillments(ctx, "shop-1")
	must(t, err)
	if len(stored) != 2 || stored[0].Duplicates != 1 || stored[0].Fulfillment.Carrier != "UPS" || stored[1].Fulfillment.TrackingNumber != "1Zfixed" {
		t.Fatalf("stored %+v", stored)
	}
}

func TestPushInventory_storesTheLastLevel(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	ctx := context.Background()
	c := clientOf(t, sb, "shop-1", 5*time.Second)
	for _, n := range []int64{5, 3, -1} {
		got, err := c.PushInventory(ctx, cart.InventoryLevel{SKU: "MUG-RED", Available: n})
		must(t, err)
		if got.SKU != "MUG-RED" || got.Available != n || got.UpdatedAt == nil {
			t.Fatalf("answer %+v", got)
		}
	}
	levels, err := sandbox.NewAdminClient(sb.CartURL(), nil).Inventory(ctx, "")
	must(t, err)
	if len(levels) != 1 || levels[0].Available != -1 || levels[0].Updates != 3 || levels[0].Connection != "shop-1" {
		t.Fatalf("levels %+v", levels)
	}
}

func TestCart_failuresMapToReports(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	ctx := context.Background()
	adm := sandbox.NewAdminClient(sb.CartURL(), nil)
	classifier := classify.Default()
	tests := []struct {
		name      string
		conn      string
		mode      sandbox.Failure
		push      func(*cart.Client) error
		status    int
		code      string
		message   string
		retry     time.Duration
		alertType string
	}{
		{name: "rate limited tracking", conn: "shop-429", mode: sandbox.Failure{Mode: sandbox.ModeHTTP429, RetryAfter: sandbox.Duration(1500 * time.Millisecond)},
			push: func(c *cart.Client) error {
				_, err := c.PushTracking(ctx, cart.FulfillmentOf(shippedOrder("ord_r")))
				return err
			}, status: 429, code: "RATE_LIMITED", message: "retry after 2 seconds", retry: 2 * time.Second, alertType: classify.TypeRateLimited},
		{name: "cart down", conn: "shop-down", mode: sandbox.Failure{Mode: sandbox.ModeDown},
			push: func(c *cart.Client) error {
				_, err := c.PushInventory(ctx, cart.InventoryLevel{SKU: "S", Available: 1})
				return err
			}, code: remote.CodeConnectionReset, alertType: classify.TypeConnectionRefused},
		{name: "cart flaky", conn: "shop-flaky", mode: sandbox.Failure{Mode: sandbox.ModeFlaky, Probability: 1},
			push: func(c *cart.Client) error {
				_, err := c.PushTracking(ctx, cart.FulfillmentOf(shippedOrder("ord_f")))
				return err
			}, status: 503, code: "SERVICE_UNAVAILABLE", message: "temporarily unavailable", alertType: classify.TypeCartUnavailable},
		{name: "no tracking number", conn: "shop-422",
			push: func(c *cart.Client) error {
				f := cart.FulfillmentOf(shippedOrder("ord_v"))
				f.TrackingNumber = ""
				_, err := c.PushTracking(ctx, f)
				return err
			}, status: 422, code: "VALIDATION_FAILED", message: "tracking_number is required", alertType: classify.TypeValidationFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.mode.Mode != "" {
				_, err := adm.SetFailure(ctx, tt.conn, tt.mode)
				must(t, err)
			}
			err := tt.push(clientOf(t, sb, tt.conn, 5*time.Second))
			f, ok := remote.AsFailure(err)
			if !ok {
				t.Fatalf("err = %v, want a *remote.Failure", err)
			}
			if f.HTTPStatus != tt.status || f.Code != tt.code || !strings.Contains(f.Message, tt.message) || f.RetryAfter != tt.retry {
				t.Fatalf("failure %+v", *f)
			}
			report := f.Report(trackingRef(tt.conn, "ord_1"), "t1", time.Now(), time.Now())
			must(t, connector.ValidateFailed(report))
			if got := classifier.Classify(report); got.AlertType != tt.alertType {
				t.Fatalf("classified %+v, want %s", got, tt.alertType)
			}
		})
	}
}
