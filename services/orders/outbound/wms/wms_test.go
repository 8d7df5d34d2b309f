package wms_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/services/orders/outbound/remote"
	"github.com/reboundhq/rebound/services/orders/outbound/wms"
	"github.com/reboundhq/rebound/services/orders/sandbox"
	"github.com/reboundhq/rebound/services/orders/sandbox/sandboxtest"
)

func newOrder(id string) wms.Order {
	return wms.Order{
		OrderID: id, OrderNumber: "#" + id, MerchantID: "m1", Currency: "USD",
		ShipTo:     wms.Address{Name: "Ada Lovelace", Address1: "12 Analytical Row", City: "London", PostalCode: "N1 9GU", CountryCode: "GB"},
		ShipMethod: "UPS_GROUND",
		Lines:      []wms.Line{{SKU: "MUG-RED", Quantity: 2, UnitPrice: "12.50"}},
	}
}

func clientOf(t *testing.T, sb *sandbox.Sandbox, conn string, timeout time.Duration) *wms.Client {
	t.Helper()
	c, err := wms.New(remote.Config{BaseURL: sb.WMSBaseURL(conn), Token: "any", Timeout: timeout}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func admin(sb *sandbox.Sandbox) *sandbox.AdminClient { return sandbox.NewAdminClient(sb.WMSURL(), nil) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func orderRef(conn, id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: "m1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, ConnectionId: conn,
		SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id, OrderNumber: "#" + id,
	}
}

func TestSendOrder_theIdempotencyKeyPreventsASecondCopy(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	ctx := context.Background()
	c := clientOf(t, sb, "wms-1", 5*time.Second)
	first, err := c.SendOrder(ctx, newOrder("ord_1"))
	must(t, err)
	if first.Duplicate || !strings.HasPrefix(first.WMSOrderID, "WMS-") {
		t.Fatalf("first answer %+v", first)
	}
	again, err := c.SendOrder(ctx, newOrder("ord_1"))
	must(t, err)
	if !again.Duplicate || again.WMSOrderID != first.WMSOrderID {
		t.Fatalf("repeat answered %+v, want duplicate %s", again, first.WMSOrderID)
	}
	// The same order id on another connection is another order.
	other, err := clientOf(t, sb, "wms-2", 5*time.Second).SendOrder(ctx, newOrder("ord_1"))
	must(t, err)
	if other.Duplicate || other.WMSOrderID == first.WMSOrderID {
		t.Fatalf("another connection answered %+v", other)
	}
	stored, err := admin(sb).Orders(ctx, "wms-1")
	must(t, err)
	if len(stored) != 1 || stored[0].IdempotencyKey != "ord_1" || stored[0].Duplicates != 1 || stored[0].Order.Lines[0].UnitPrice != "12.50" {
		t.Fatalf("stored %+v", stored)
	}
}

// A WMS that accepted an order whose acknowledgement was lost (the caller timed out) answers the
// retry with the same order, marked as a duplicate: it never holds a second copy.
func TestSendOrder_aLostAcknowledgementIsNotASecondOrder(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	ctx := context.Background()
	_, err := admin(sb).SetFailure(ctx, "wms-slow", sandbox.Failure{Mode: sandbox.ModeSlow, Delay: sandbox.Duration(time.Minute), Times: 1})
	must(t, err)
	c := clientOf(t, sb, "wms-slow", 200*time.Millisecond)
	_, err = c.SendOrder(ctx, newOrder("ord_lost"))
	f, ok := remote.AsFailure(err)
	if !ok || f.Code != remote.CodeTimeout || f.HTTPStatus != 0 {
		t.Fatalf("slow answer: %v, want a timeout failure", err)
	}
	stored, err := admin(sb).Orders(ctx, "wms-slow")
	must(t, err)
	if len(stored) != 1 {
		t.Fatalf("the WMS holds %d orders after the lost acknowledgement, want 1", len(stored))
	}
	a, err := c.SendOrder(ctx, newOrder("ord_lost")) // the mode was for one request only
	must(t, err)
	if !a.Duplicate || a.WMSOrderID != stored[0].WMSOrderID {
		t.Fatalf("retry answered %+v, want the duplicate %s", a, stored[0].WMSOrderID)
	}
	if stored, _ = admin(sb).Orders(ctx, "wms-slow"); len(stored) != 1 {
		t.Fatalf("the WMS holds %d orders after the retry, want 1", len(stored))
	}
}

// Every failure mode, and every refusal the sandbox makes on its own, maps to the report a
// connector must send — status, code, message, Retry-After — and the default rules classify it
// as DESIGN.md says.
func TestSendOrder_everyOutcomeMapsToItsReport(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	classifier := classify.Default()
	tests := []struct {
		name      string
		mode      sandbox.Failure
		order     func(wms.Order) wms.Order
		timeout   time.Duration
		status    int
		code      string
		message   string
		retry     time.Duration
		class     connectorv1.ErrorClass
		alertType string
	}{
		{name: "down", mode: sandbox.Failure{Mode: sandbox.ModeDown}, code: remote.CodeConnectionReset, message: "",
			class: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, alertType: classify.TypeConnectionRefused},
		{name: "slow", mode: sandbox.Failure{Mode: sandbox.ModeSlow, Delay: sandbox.Duration(time.Minute)}, timeout: 100 * time.Millisecond,
			code: remote.CodeTimeout, message: "within 100ms", class: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, alertType: classify.TypeTimeout},
		{name: "http-500", mode: sandbox.Failure{Mode: sandbox.ModeHTTP500}, status: 500, code: "INTERNAL_ERROR", message: "Internal server error",
			class: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, alertType: classify.TypeServerError},
		{name: "http-429", mode: sandbox.Failure{Mode: sandbox.ModeHTTP429, RetryAfter: sandbox.Duration(7 * time.Second)}, status: 429, code: "RATE_LIMITED",
			message: "retry after 7 seconds", retry: 7 * time.Second, class: connectorv1.ErrorClass_ERROR_CLASS_RATE_LIMITED, alertType: classify.TypeRateLimited},
		{name: "http-401", mode: sandbox.Failure{Mode: sandbox.ModeHTTP401}, status: 401, code: "UNAUTHORIZED", message: "Invalid or expired API token",
			class: connectorv1.ErrorClass_ERROR_CLASS_AUTH, alertType: classify.TypeAuthFailed},
		{name: "invalid-address", mode: sandbox.Failure{Mode: sandbox.ModeInvalidAddress}, status: 422, code: "INVALID_ADDRESS", message: "Ship-to address is invalid",
			class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION, alertType: classify.TypeAddressInvalid},
		{name: "unknown-ship-method", mode: sandbox.Failure{Mode: sandbox.ModeUnknownShipMethod}, status: 422, code: "SHIP_METHOD_UNKNOWN", message: `Unknown ship method "UPS_GROUND"`,
			class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION, alertType: classify.TypeShipMethodUnmapped},
		{name: "flaky always", mode: sandbox.Failure{Mode: sandbox.ModeFlaky, Probability: 1}, status: 503, code: "SERVICE_UNAVAILABLE", message: "temporarily unavailable",
			class: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, alertType: classify.TypeWMSUnavailable},
		{name: "missing postal code", order: func(o wms.Order) wms.Order { o.ShipTo.PostalCode = ""; return o }, status: 422, code: "INVALID_ADDRESS",
			message: "Ship-to address is invalid: postal code is missing", class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION, alertType: classify.TypeAddressInvalid},
		{name: "bad country", order: func(o wms.Order) wms.Order { o.ShipTo.CountryCode = "Britain"; return o }, status: 422, code: "INVALID_ADDRESS",
			message: `country code "Britain" is not an ISO 3166-1 alpha-2 code`, class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION, alertType: classify.TypeAddressInvalid},
		{name: "ship method not in the list", order: func(o wms.Order) wms.Order { o.ShipMethod = "TELEPORT"; return o }, status: 422, code: "SHIP_METHOD_UNKNOWN",
			message: `Unknown ship method "TELEPORT": this warehouse ships with UPS_GROUND`, class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION, alertType: classify.TypeShipMethodUnmapped},
		{name: "no lines", order: func(o wms.Order) wms.Order { o.Lines = nil; return o }, status: 422, code: "VALIDATION_FAILED",
			message: "an order needs at least one line", class: connectorv1.ErrorClass_ERROR_CLASS_REJECTED, alertType: classify.TypeValidationFailed},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			conn := fmt.Sprintf("wms-mode-%d", i)
			if tt.mode.Mode != "" {
				_, err := admin(sb).SetFailure(ctx, conn, tt.mode)
				must(t, err)
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			o := newOrder("ord_" + conn)
			if tt.order != nil {
				o = tt.order(o)
			}
			attempted := time.Now()
			_, err := clientOf(t, sb, conn, timeout).SendOrder(ctx, o)
			f, ok := remote.AsFailure(err)
			if !ok {
				t.Fatalf("err = %v, want a *remote.Failure", err)
			}
			if f.HTTPStatus != tt.status || f.Code != tt.code || !strings.Contains(f.Message, tt.message) || f.RetryAfter != tt.retry {
				t.Fatalf("failure %+v, want status %d, code %s, message containing %q, retry after %s", *f, tt.status, tt.code, tt.message, tt.retry)
			}
			report := f.Report(orderRef(conn, o.OrderID), "a1", attempted, time.Now())
			if err := connector.ValidateFailed(report); err != nil {
				t.Fatalf("report %v: %v", report, err)
			}
			got := classifier.Classify(report)
			if got.Class != tt.class || got.AlertType != tt.alertType {
				t.Fatalf("classified %s/%s, want %s/%s", got.Class, got.AlertType, tt.class, tt.alertType)
			}
			if stored, _ := admin(sb).Orders(ctx, conn); len(stored) != 0 && tt.mode.Mode != sandbox.ModeSlow {
				t.Fatalf("a refused order was stored: %+v", stored)
			}
		})
	}
}

func TestSendOrder_connectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	root := "http://" + ln.Addr().String()
	must(t, ln.Close())
	c, err := wms.New(remote.Config{BaseURL: sandbox.WMSBaseURL(root, "wms-1")}, nil)
	must(t, err)
	_, err = c.SendOrder(context.Background(), newOrder("ord_refused"))
	f, ok := remote.AsFailure(err)
	if !ok || f.Code != remote.CodeConnectionRefused || f.HTTPStatus != 0 {
		t.Fatalf("err = %v, want connection_refused", err)
	}
	if got := classify.Default().Classify(f.Report(orderRef("wms-1", "ord_refused"), "a1", time.Now(), time.Now())); got.AlertType != classify.TypeConnectionRefused {
		t.Fatalf("classified %+v", got)
	}
}

func TestSendOrder_callerCancellationIsNotAFailure(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	_, err := admin(sb).SetFailure(ctx, "wms-1", sandbox.Failure{Mode: sandbox.ModeSlow, Delay: sandbox.Duration(time.Minute)})
	must(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := clientOf(t, sb, "wms-1", time.Minute).SendOrder(ctx, newOrder("ord_c"))
		done <- err
	}()
	cancel()
	err = <-done
	if _, isFailure := remote.AsFailure(err); isFailure || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled and no Failure", err)
	}
}

// Flaky mode fails each request with the given probability, drawn from a seeded generator: the
// same seed fails the same requests, and about the given share of them.
func TestSendOrder_flakyFailsAtTheGivenProbability(t *testing.T) {
	t.Parallel()
	const n, p = 1000, 0.3
	pattern := func(seed uint64) string {
		sb := sandboxtest.Start(t, sandbox.Config{Seed: seed})
		ctx := context.Background()
		_, err := admin(sb).SetFailure(ctx, sandbox.AllConnections, sandbox.Failure{Mode: sandbox.ModeFlaky, Probability: p})
		must(t, err)
		c := clientOf(t, sb, "wms-flaky", 10*time.Second)
		var b strings.Builder
		for i := range n {
			_, err := c.SendOrder(ctx, newOrder(fmt.Sprint("ord_", i)))
			switch f, ok := remote.AsFailure(err); {
			case err == nil:
				b.WriteByte('.')
			case ok && f.HTTPStatus == 503:
				b.WriteByte('x')
			default:
				t.Fatalf("request %d: %v", i, err)
			}
		}
		stats, err := admin(sb).Stats(ctx)
		must(t, err)
		if fails := strings.Count(b.String(), "x"); stats.Injected != int64(fails) || stats.Created != int64(n-fails) {
			t.Fatalf("stats %+v for %d failures", stats, fails)
		}
		return b.String()
	}
	first, again, other := pattern(42), pattern(42), pattern(43)
	fails := strings.Count(first, "x")
	if lo, hi := int(0.25*n), int(0.35*n); fails < lo || fails > hi {
		t.Fatalf("%d of %d requests failed, want about %.0f%% (%d-%d)", fails, n, p*100, lo, hi)
	}
	if first != again {
		t.Fatal("the same seed failed different requests")
	}
	if first == other {
		t.Fatal("another seed failed the same requests")
	}
}

func TestSendOrder_modesArePerConnectionAndLimitedByTimes(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	ctx := context.Background()
	_, err := admin(sb).SetFailure(ctx, "wms-a", sandbox.Failure{Mode: sandbox.ModeHTTP500, Times: 2})
	must(t, err)
	a, b := clientOf(t, sb, "wms-a", 5*time.Second), clientOf(t, sb, "wms-b", 5*time.Second)
	var outcomes []string
	for i := range 3 {
		if _, err := b.SendOrder(ctx, newOrder(fmt.Sprint("ord_b", i))); err != nil {
			t.Fatalf("another connection failed: %v", err)
		}
		_, err := a.SendOrder(ctx, newOrder(fmt.Sprint("ord_a", i)))
		if f, ok := remote.AsFailure(err); ok {
			outcomes = append(outcomes, fmt.Sprint(f.HTTPStatus))
		} else {
			must(t, err)
			outcomes = append(outcomes, "ok")
		}
	}
	if fmt.Sprint(outcomes) != "[500 500 ok]" {
		t.Fatalf("outcomes %v, want two failures then success", outcomes)
	}
	if fs, err := admin(sb).Failures(ctx); err != nil || fs.Connections["wms-a"].Mode != sandbox.ModeNone {
		t.Fatalf("modes after the limit: %+v, %v", fs, err)
	}
}

func TestSendOrder_requiresTheConfiguredToken(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1, Token: "s3cret"})
	ctx := context.Background()
	_, err := clientOf(t, sb, "wms-1", 5*time.Second).SendOrder(ctx, newOrder("ord_t"))
	if f, ok := remote.AsFailure(err); !ok || f.HTTPStatus != 401 || f.Code != "UNAUTHORIZED" {
		t.Fatalf("wrong token: %v", err)
	}
	c, err := wms.New(remote.Config{BaseURL: sb.WMSBaseURL("wms-1"), Token: "s3cret"}, nil)
	must(t, err)
	if _, err := c.SendOrder(ctx, newOrder("ord_t")); err != nil {
		t.Fatalf("right token: %v", err)
	}
}

func TestShipments_feedShipmentsInOrder(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	ctx := context.Background()
	c := clientOf(t, sb, "wms-1", 5*time.Second)
	page, err := c.Shipments(ctx, "", 10)
	must(t, err)
	if len(page.Shipments) != 0 || page.Next != "0" {
		t.Fatalf("empty feed %+v", page)
	}
	var ids []string
	for i := range 3 {
		a, err := c.SendOrder(ctx, newOrder(fmt.Sprint("ord_s", i)))
		must(t, err)
		ids = append(ids, a.WMSOrderID)
	}
	_, err = admin(sb).Ship(ctx, ids[1], sandbox.ShipRequest{Carrier: "FedEx", TrackingNumber: "7712"})
	must(t, err)
	_, err = admin(sb).Ship(ctx, ids[0], sandbox.ShipRequest{})
	must(t, err)
	page, err = c.Shipments(ctx, "", 1)
	must(t, err)
	if len(page.Shipments) != 1 || page.Shipments[0].WMSOrderID != ids[1] || page.Shipments[0].OrderID != "ord_s1" || page.Next != "1" {
		t.Fatalf("first page %+v", page)
	}
	tr := page.Shipments[0].Tracking()
	if tr.GetCarrier() != "FedEx" || tr.GetTrackingNumber() != "7712" || tr.GetWmsShipmentId() == "" || tr.GetShippedAt() == nil {
		t.Fatalf("tracking %v", tr)
	}
	page, err = c.Shipments(ctx, page.Next, 10)
	must(t, err)
	if len(page.Shipments) != 1 || page.Shipments[0].WMSOrderID != ids[0] || page.Shipments[0].Carrier != "UPS" || page.Next != "2" {
		t.Fatalf("second page %+v", page)
	}
	if page, err = c.Shipments(ctx, "2", 10); err != nil || len(page.Shipments) != 0 || page.Next != "2" {
		t.Fatalf("end of feed %+v, %v", page, err)
	}
	_, err = c.Shipments(ctx, "x", 10)
	if f, ok := remote.AsFailure(err); !ok || f.HTTPStatus != 400 {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestOrderOf_convertsAnOrdersState(t *testing.T) {
	t.Parallel()
	placed := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	o := &ordersv1.Order{
		OrderId: "ord_1", OrderNumber: "#1", AccountId: "m1", CartOrderId: "c1", Currency: "EUR", PlacedAt: timestamppb.New(placed),
		ShipTo: &ordersv1.Address{Name: "N", Address1: "A1", City: "C", PostalCode: "P", CountryCode: "DE", Phone: "1"},
		Lines:  []*ordersv1.OrderLine{{Sku: "S", Name: "n", Quantity: 3, UnitPrice: "1.5"}}, ShipMethodCode: "Express",
	}
	got := wms.OrderOf(o, "DHL_EXPRESS")
	if got.OrderID != "ord_1" || got.MerchantID != "m1" || got.ShipMethod != "DHL_EXPRESS" || !got.PlacedAt.Equal(placed) ||
		got.ShipTo.Phone != "1" || got.Lines[0] != (wms.Line{SKU: "S", Name: "n", Quantity: 3, UnitPrice: "1.5"}) {
		t.Fatalf("converted %+v", got)
	}
}

// BenchmarkSendOrder measures orders delivered per second to the sandbox WMS over HTTP, with
// GOMAXPROCS parallel senders.
func BenchmarkSendOrder(b *testing.B) {
	sb := sandboxtest.Start(b, sandbox.Config{Seed: 1})
	c, err := wms.New(remote.Config{BaseURL: sb.WMSBaseURL("wms-bench")}, nil)
	if err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.SendOrder(context.Background(), newOrder(fmt.Sprint("ord_", seq.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "orders/s")
}
