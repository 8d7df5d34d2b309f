package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/services/orders/outbound/remote"
	"github.com/reboundhq/rebound/services/orders/outbound/wms"
	"github.com/reboundhq/rebound/services/orders/sandbox"
	"github.com/reboundhq/rebound/services/orders/sandbox/sandboxtest"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestParseMode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]sandbox.Mode{
		"down": sandbox.ModeDown, "SLOW": sandbox.ModeSlow, "500": sandbox.ModeHTTP500, "http-500": sandbox.ModeHTTP500,
		"429": sandbox.ModeHTTP429, "rate-limited": sandbox.ModeHTTP429, "401": sandbox.ModeHTTP401, "unauthorized": sandbox.ModeHTTP401,
		"invalid-address": sandbox.ModeInvalidAddress, "unknown-ship-method": sandbox.ModeUnknownShipMethod,
		"flaky": sandbox.ModeFlaky, "ok": sandbox.ModeNone, "none": sandbox.ModeNone,
	} {
		got, err := sandbox.ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := sandbox.ParseMode("explode"); err == nil || !strings.Contains(err.Error(), "unknown-ship-method") {
		t.Fatalf("unknown mode: %v", err)
	}
}

func TestAdmin_setsListsAndClearsModes(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	ctx := context.Background()
	adm := sandbox.NewAdminClient(sb.WMSURL(), nil)

	got, err := adm.SetFailure(ctx, "wms-1", sandbox.Failure{Mode: "429"})
	must(t, err)
	if got.Mode != sandbox.ModeHTTP429 || time.Duration(got.RetryAfter) != sandbox.DefaultRetryAfter {
		t.Fatalf("stored %+v", got)
	}
	got, err = adm.SetFailure(ctx, sandbox.AllConnections, sandbox.Failure{Mode: sandbox.ModeFlaky})
	must(t, err)
	if got.Probability != sandbox.DefaultFlakyProbability {
		t.Fatalf("stored %+v", got)
	}
	got, err = adm.SetFailure(ctx, "wms-2", sandbox.Failure{Mode: sandbox.ModeSlow})
	must(t, err)
	if time.Duration(got.Delay) != sandbox.DefaultSlowDelay {
		t.Fatalf("stored %+v", got)
	}
	fs, err := adm.Failures(ctx)
	must(t, err)
	if fs.Default.Mode != sandbox.ModeFlaky || len(fs.Connections) != 2 || fs.Connections["wms-1"].Mode != sandbox.ModeHTTP429 {
		t.Fatalf("failures %+v", fs)
	}
	must(t, adm.ClearFailure(ctx, "wms-1"))
	must(t, adm.ClearFailure(ctx, sandbox.AllConnections))
	fs, err = adm.Failures(ctx)
	must(t, err)
	if fs.Default.Mode != sandbox.ModeNone || len(fs.Connections) != 1 {
		t.Fatalf("after clearing: %+v", fs)
	}
	must(t, adm.ClearFailures(ctx))
	if fs, _ = adm.Failures(ctx); len(fs.Connections) != 0 {
		t.Fatalf("after clearing all: %+v", fs)
	}

	for _, bad := range []sandbox.Failure{
		{Mode: "explode"}, {Mode: sandbox.ModeFlaky, Probability: 2}, {Mode: sandbox.ModeSlow, Delay: sandbox.Duration(time.Hour)},
		{Mode: sandbox.ModeHTTP500, Times: -1},
	} {
		_, err := adm.SetFailure(ctx, "wms-1", bad)
		var ae *sandbox.AdminError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != "INVALID_FAILURE_MODE" {
			t.Errorf("mode %+v: %v", bad, err)
		}
	}
	// Order-refusing modes are the WMS's.
	_, err = sandbox.NewAdminClient(sb.CartURL(), nil).SetFailure(ctx, "shop-1", sandbox.Failure{Mode: sandbox.ModeInvalidAddress})
	var ae *sandbox.AdminError
	if !errors.As(err, &ae) || !strings.Contains(ae.Message, "WMS only") {
		t.Fatalf("invalid-address on the cart: %v", err)
	}
}

func TestAdmin_durationsReadAsStringsOrSeconds(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	resp, err := http.DefaultClient.Do(mustRequest(t, http.MethodPut, sb.WMSURL()+"/admin/failures/wms-1", `{"mode":"429","retry_after":2.5}`))
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"retry_after":"3s"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, err = http.DefaultClient.Do(mustRequest(t, http.MethodPut, sb.WMSURL()+"/admin/failures/wms-1", `{"mode":"slow","delay":"soon"}`))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("a bad duration answered %d", resp.StatusCode)
	}
}

func TestAdmin_resetForgetsEverything(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	ctx := context.Background()
	adm := sandbox.NewAdminClient(sb.WMSURL(), nil)
	c, err := wms.New(remote.Config{BaseURL: sb.WMSBaseURL("wms-1")}, nil)
	must(t, err)
	a, err := c.SendOrder(ctx, wms.Order{OrderID: "ord_1", OrderNumber: "#1", ShipMethod: "UPS_GROUND", Lines: []wms.Line{{SKU: "S", Quantity: 1}},
		ShipTo: wms.Address{Name: "N", Address1: "A", City: "C", PostalCode: "P", CountryCode: "US"}})
	must(t, err)
	if _, err := adm.Ship(ctx, "WMS-404", sandbox.ShipRequest{}); err == nil {
		t.Fatal("shipping an unknown order succeeded")
	}
	s, err := adm.Ship(ctx, a.WMSOrderID, sandbox.ShipRequest{})
	must(t, err)
	if s.OrderID != "ord_1" || s.TrackingNumber == "" || s.TrackingURL == "" {
		t.Fatalf("shipment %+v", s)
	}
	_, err = adm.SetFailure(ctx, "wms-1", sandbox.Failure{Mode: sandbox.ModeDown})
	must(t, err)
	st, err := adm.Stats(ctx)
	must(t, err)
	if st.Requests != 1 || st.Created != 1 {
		t.Fatalf("stats %+v", st)
	}
	must(t, adm.Reset(ctx))
	orders, err := adm.Orders(ctx, "")
	must(t, err)
	fs, err := adm.Failures(ctx)
	must(t, err)
	st, err = adm.Stats(ctx)
	must(t, err)
	if len(orders) != 0 || len(fs.Connections) != 0 || st != (sandbox.Stats{}) {
		t.Fatalf("after reset: orders %v, failures %+v, stats %+v", orders, fs, st)
	}
}

func TestWMS_answersBadRequestsClearly(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{Seed: 1})
	for _, tt := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{http.MethodPost, "/wms/wms-1/v1/orders", "{not json", 400, "INVALID_REQUEST"},
		{http.MethodPost, "/wms/wms-1/v1/orders", `{"order_id":"","lines":[{"sku":"","quantity":0}]}`, 422, "VALIDATION_FAILED"},
		{http.MethodGet, "/wms/wms-1/v1/orders/WMS-9", "", 404, "ORDER_NOT_FOUND"},
		{http.MethodGet, "/wms/wms-1/v1/shipments?limit=0", "", 400, "INVALID_REQUEST"},
	} {
		resp, err := http.DefaultClient.Do(mustRequest(t, tt.method, sb.WMSURL()+tt.path, tt.body))
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(body), `"code":"`+tt.code+`"`) {
			t.Errorf("%s %s: %d %s", tt.method, tt.path, resp.StatusCode, body)
		}
	}
}

// Run ends when its context does, also with a slow request in flight, and frees its ports.
func TestRun_stopsPromptlyWithSlowRequestsInFlight(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.Listen(sandbox.Config{WMSAddr: "127.0.0.1:0", CartAddr: "127.0.0.1:0", Seed: 1}, nil)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sb.Run(ctx) }()
	_, err = sandbox.NewAdminClient(sb.WMSURL(), nil).SetFailure(ctx, sandbox.AllConnections, sandbox.Failure{Mode: sandbox.ModeSlow, Delay: sandbox.Duration(10 * time.Minute)})
	must(t, err)
	c, err := wms.New(remote.Config{BaseURL: sb.WMSBaseURL("wms-1"), Timeout: 10 * time.Minute}, nil)
	must(t, err)
	sent := make(chan error, 1)
	go func() {
		_, err := c.SendOrder(context.Background(), wms.Order{OrderID: "ord_1"})
		sent <- err
	}()
	for {
		st := sb.WMS.Stats()
		if st.Requests > 0 {
			break
		}
		select {
		case err := <-sent:
			t.Fatalf("the slow request ended early: %v", err)
		default:
		}
		waitABit()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	<-sent // answered or cut when the server stopped; either way it did not wait 10 minutes
	if _, err := http.Get(sb.WMSURL() + "/healthz"); err == nil {
		t.Fatal("the WMS still answers after Run returned")
	}
}

func TestListen_refusesBadConfigAndTakenPorts(t *testing.T) {
	t.Parallel()
	if _, err := sandbox.Listen(sandbox.Config{WMSAddr: "nonsense", CartAddr: "127.0.0.1:0"}, nil); err == nil {
		t.Fatal("a bad address was accepted")
	}
	if _, err := sandbox.Listen(sandbox.Config{WMSAddr: "127.0.0.1:0", CartAddr: "127.0.0.1:0", ShipMethods: []string{""}}, nil); err == nil {
		t.Fatal("an empty ship method was accepted")
	}
	sb, err := sandbox.Listen(sandbox.Config{WMSAddr: "127.0.0.1:0", CartAddr: "127.0.0.1:0"}, nil)
	must(t, err)
	defer sb.Close()
	taken := strings.TrimPrefix(sb.WMSURL(), "http://")
	if _, err := sandbox.Listen(sandbox.Config{WMSAddr: taken, CartAddr: "127.0.0.1:0"}, nil); err == nil {
		t.Fatal("a taken port was accepted")
	}
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewBufferString(body))
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	return req
}

// waitABit yields for a moment while polling (a tick, not a sleep on an outcome).
func waitABit() { <-time.After(time.Millisecond) }

// The WMS answers its inventory API with the stock set through the admin API, per connection;
// shipments name the order's merchant.
func TestWMS_inventoryAndShipments(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, sandbox.Config{})
	ctx := context.Background()
	adm := sandbox.NewAdminClient(sb.WMSURL(), nil)
	levels, err := adm.SetStock(ctx, "wms-1", wms.InventoryLevel{SKU: "B", Available: 2}, wms.InventoryLevel{SKU: "A", Available: -1})
	must(t, err)
	if len(levels) != 2 || levels[0].SKU != "A" {
		t.Fatalf("stock %+v", levels)
	}
	c, err := wms.New(remote.Config{BaseURL: sb.WMSBaseURL("wms-1")}, nil)
	must(t, err)
	got, err := c.Inventory(ctx)
	must(t, err)
	if len(got) != 2 || got[0] != (wms.InventoryLevel{SKU: "A", Available: -1}) || got[1].Available != 2 {
		t.Fatalf("inventory %+v", got)
	}
	other, err := wms.New(remote.Config{BaseURL: sb.WMSBaseURL("wms-2")}, nil)
	must(t, err)
	if got, err := other.Inventory(ctx); err != nil || len(got) != 0 {
		t.Fatalf("another connection's inventory: %+v, %v", got, err)
	}
	if _, err := adm.SetStock(ctx, "wms-1", wms.InventoryLevel{}); err == nil {
		t.Fatal("a level without SKU was stored")
	}
	acc, err := c.SendOrder(ctx, wms.Order{OrderID: "o1", OrderNumber: "#1", MerchantID: "m1", ShipMethod: "UPS_GROUND",
		ShipTo: wms.Address{Name: "A", Address1: "1 St", City: "C", PostalCode: "1", CountryCode: "US"},
		Lines:  []wms.Line{{SKU: "A", Quantity: 1}}})
	must(t, err)
	if _, ok := sb.WMS.Ship(acc.WMSOrderID, sandbox.ShipRequest{}); !ok {
		t.Fatal("ship")
	}
	page, err := c.Shipments(ctx, "", 10)
	must(t, err)
	if len(page.Shipments) != 1 || page.Shipments[0].MerchantID != "m1" || page.Shipments[0].OrderID != "o1" {
		t.Fatalf("shipments %+v", page)
	}
}
