package service_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
)

// wantCode checks err's code and, for InvalidArgument, that the BadRequest names field.
func wantCode(t *testing.T, what string, err error, code codes.Code, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Errorf("%s: %v, want %s", what, err, code)
		return
	}
	if field == "" {
		return
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Errorf("%s: %v does not name the field %s", what, err, field)
}

// Bad input to every RPC is InvalidArgument naming the field, and stores nothing.
func TestAPI_badInputIsInvalidArgumentAndStoresNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{noRetrySvcs: true})
	w.mapStandard()
	id := w.submit(w.submission("#8001", mapped)).GetOrder().GetOrderId()
	w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, 20*time.Second)
	w.settled("EVENTS", "orders-delivery", "orders-reports", "orders-holds")
	before, err := w.store.LastPosition(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	sub := func(mod func(*ordersv1.SubmitOrderRequest)) *ordersv1.SubmitOrderRequest {
		r := w.submission("#8002", mapped)
		mod(r)
		return r
	}
	ctx := w.as("merchant")
	type call struct {
		name  string
		run   func() error
		field string
	}
	calls := []call{
		{"SubmitOrder without account", func() error {
			_, err := w.api.SubmitOrder(ctx, sub(func(r *ordersv1.SubmitOrderRequest) { r.AccountId = "" }))
			return err
		}, "account_id"},
		{"SubmitOrder with a bad cart connection id", func() error {
			_, err := w.api.SubmitOrder(ctx, sub(func(r *ordersv1.SubmitOrderRequest) { r.CartConnectionId = "a b" }))
			return err
		}, "cart_connection_id"},
		{"SubmitOrder of an unknown cart connection", func() error {
			_, err := w.api.SubmitOrder(ctx, sub(func(r *ordersv1.SubmitOrderRequest) { r.CartConnectionId = "nope" }))
			return err
		}, "cart_connection_id"},
		{"SubmitOrder to an unknown WMS connection", func() error {
			_, err := w.api.SubmitOrder(ctx, sub(func(r *ordersv1.SubmitOrderRequest) { r.WmsConnectionId = "nope" }))
			return err
		}, "wms_connection_id"},
		{"SubmitOrder without order number", func() error {
			_, err := w.api.SubmitOrder(ctx, sub(func(r *ordersv1.SubmitOrderRequest) { r.OrderNumber = "" }))
			return err
		}, "order_number"},
		{"SubmitOrder without lines", func() error {
			_, err := w.api.SubmitOrder(ctx, sub(func(r *ordersv1.SubmitOrderRequest) { r.Lines = nil }))
			return err
		}, "lines"},
		{"SubmitOrder with a line without quantity", func() error {
			_, err := w.api.SubmitOrder(ctx, sub(func(r *ordersv1.SubmitOrderRequest) { r.Lines[0].Quantity = 0 }))
			return err
		}, "lines[0].quantity"},
		{"SubmitOrder with a bad price", func() error {
			_, err := w.api.SubmitOrder(ctx, sub(func(r *ordersv1.SubmitOrderRequest) { r.Lines[0].UnitPrice = "12,50" }))
			return err
		}, "lines[0].unit_price"},
		{"SubmitOrder without ship method", func() error {
			_, err := w.api.SubmitOrder(ctx, sub(func(r *ordersv1.SubmitOrderRequest) { r.ShipMethodCode = "" }))
			return err
		}, "ship_method_code"},
		{"SubmitOrder without ship-to", func() error {
			_, err := w.api.SubmitOrder(ctx, sub(func(r *ordersv1.SubmitOrderRequest) { r.ShipTo = nil }))
			return err
		}, "ship_to"},
		{"SubmitOrder with a bad currency", func() error {
			_, err := w.api.SubmitOrder(ctx, sub(func(r *ordersv1.SubmitOrderRequest) { r.Currency = "pounds" }))
			return err
		}, "currency"},
		{"GetOrder without id", func() error {
			_, err := w.api.GetOrder(ctx, &ordersv1.GetOrderRequest{AccountId: w.account})
			return err
		}, "order_id"},
		{"GetOrder with a bad id", func() error {
			_, err := w.api.GetOrder(ctx, &ordersv1.GetOrderRequest{AccountId: w.account, Order: &ordersv1.GetOrderRequest_OrderId{OrderId: "a.b"}})
			return err
		}, "order_id"},
		{"GetOrder by number without number", func() error {
			_, err := w.api.GetOrder(ctx, &ordersv1.GetOrderRequest{AccountId: w.account, Order: &ordersv1.GetOrderRequest_ByNumber{ByNumber: &ordersv1.OrderNumberRef{CartConnectionId: cartConn}}})
			return err
		}, "by_number.order_number"},
		{"GetOrder with too long a history", func() error {
			_, err := w.api.GetOrder(ctx, &ordersv1.GetOrderRequest{AccountId: w.account, Order: &ordersv1.GetOrderRequest_OrderId{OrderId: id}, HistoryLimit: 5000})
			return err
		}, "history_limit"},
		{"EditOrder without changes", func() error {
			_, err := w.api.EditOrder(ctx, &ordersv1.EditOrderRequest{AccountId: w.account, OrderId: id})
			return err
		}, "ship_to"},
		{"EditOrder with empty lines", func() error {
			_, err := w.api.EditOrder(ctx, &ordersv1.EditOrderRequest{AccountId: w.account, OrderId: id, Lines: &ordersv1.OrderLines{}})
			return err
		}, "lines"},
		{"EditOrder without order id", func() error {
			_, err := w.api.EditOrder(ctx, &ordersv1.EditOrderRequest{AccountId: w.account, ShipMethodCode: "X"})
			return err
		}, "order_id"},
		{"ResendToWMS without account", func() error {
			_, err := w.api.ResendToWMS(ctx, &ordersv1.ResendToWMSRequest{OrderId: id})
			return err
		}, "account_id"},
		{"CancelSending with too long a reason", func() error {
			_, err := w.api.CancelSending(ctx, &ordersv1.CancelSendingRequest{AccountId: w.account, OrderId: id, Reason: string(make([]byte, 2000))})
			return err
		}, "reason"},
		{"SetShipMethodMapping without code", func() error {
			_, err := w.api.SetShipMethodMapping(ctx, &ordersv1.SetShipMethodMappingRequest{AccountId: w.account, CartConnectionId: cartConn, WmsShipMethod: "UPS_GROUND"})
			return err
		}, "ship_method_code"},
		{"SetShipMethodMapping without WMS method", func() error {
			_, err := w.api.SetShipMethodMapping(ctx, &ordersv1.SetShipMethodMappingRequest{AccountId: w.account, CartConnectionId: cartConn, ShipMethodCode: "X"})
			return err
		}, "wms_ship_method"},
		{"SetShipMethodMapping of a bad connection id", func() error {
			_, err := w.api.SetShipMethodMapping(ctx, &ordersv1.SetShipMethodMappingRequest{AccountId: w.account, CartConnectionId: "a/b", PassThrough: proto.Bool(true)})
			return err
		}, "cart_connection_id"},
		{"ListShipMethodMappings without connection", func() error {
			_, err := w.api.ListShipMethodMappings(ctx, &ordersv1.ListShipMethodMappingsRequest{AccountId: w.account})
			return err
		}, "cart_connection_id"},
		{"UpsertConnection without settings", func() error {
			_, err := w.conns.UpsertConnection(ctx, &connectionsv1.UpsertConnectionRequest{})
			return err
		}, "settings"},
		{"UpsertConnection with a bad URL", func() error {
			_, err := w.conns.UpsertConnection(ctx, &connectionsv1.UpsertConnectionRequest{Settings: &connectionsv1.ConnectionSettings{
				ConnectionId: "c9", AccountId: w.account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
				SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "x", BaseUrl: "ftp://x",
			}})
			return err
		}, "settings.base_url"},
		{"UpsertConnection with a short sync interval", func() error {
			_, err := w.conns.UpsertConnection(ctx, &connectionsv1.UpsertConnectionRequest{Settings: &connectionsv1.ConnectionSettings{
				ConnectionId: "c9", AccountId: w.account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
				SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "x", BaseUrl: "http://x", SyncInterval: durationpb.New(time.Millisecond),
			}})
			return err
		}, "settings.sync_interval"},
		{"UpsertConnection with token and password", func() error {
			_, err := w.conns.UpsertConnection(ctx, &connectionsv1.UpsertConnectionRequest{Settings: &connectionsv1.ConnectionSettings{
				ConnectionId: "c9", AccountId: w.account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
				SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "x", BaseUrl: "http://x",
			}, Credentials: &connectionsv1.Credentials{Token: "t", Username: "u", Password: "p"}})
			return err
		}, "credentials"},
		{"GetConnection without id", func() error {
			_, err := w.conns.GetConnection(ctx, &connectionsv1.GetConnectionRequest{AccountId: w.account})
			return err
		}, "connection_id"},
		{"ListConnections with too big a page", func() error {
			_, err := w.conns.ListConnections(ctx, &connectionsv1.ListConnectionsRequest{PageSize: 5000})
			return err
		}, "page_size"},
		{"ListConnections with a forged token", func() error {
			_, err := w.conns.ListConnections(ctx, &connectionsv1.ListConnectionsRequest{PageToken: "!!"})
			return err
		}, "page_token"},
	}
	for _, c := range calls {
		wantCode(t, c.name, c.run(), codes.InvalidArgument, c.field)
	}
	after, err := w.store.LastPosition(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("bad calls stored %d events", after-before)
	}
	if n := len(w.sb.WMS.Orders(wmsConn)); n != 1 {
		t.Fatalf("the WMS holds %d orders", n)
	}
}

// The same rules as every service: keys, accounts, missing orders, wrong states.
func TestAPI_authNotFoundAndWrongState(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{noRetrySvcs: true})
	w.mapStandard()
	id := w.submit(w.submission("#9001", mapped)).GetOrder().GetOrderId()
	w.waitStatus(id, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, 20*time.Second)
	get := func(ctx context.Context, orderID string) error {
		_, err := w.api.GetOrder(ctx, &ordersv1.GetOrderRequest{AccountId: w.account, Order: &ordersv1.GetOrderRequest_OrderId{OrderId: orderID}})
		return err
	}
	wantCode(t, "no key", get(w.as(""), id), codes.Unauthenticated, "")
	wantCode(t, "another merchant", get(w.as("other"), id), codes.PermissionDenied, "")
	wantCode(t, "another merchant, missing order", get(w.as("other"), "ord_nope"), codes.PermissionDenied, "")
	wantCode(t, "missing order", get(w.as("merchant"), "ord_nope"), codes.NotFound, "")
	_, err := w.api.EditOrder(w.as("merchant"), &ordersv1.EditOrderRequest{AccountId: w.account, OrderId: id, ShipMethodCode: "OTHER"})
	wantCode(t, "edit an order at the WMS", err, codes.FailedPrecondition, "")
	_, err = w.api.CancelSending(w.as("merchant"), &ordersv1.CancelSendingRequest{AccountId: w.account, OrderId: id})
	wantCode(t, "cancel an order at the WMS", err, codes.FailedPrecondition, "")
	_, err = w.api.SubmitOrder(w.as("other"), w.submission("#9002", mapped))
	wantCode(t, "submit for another merchant", err, codes.PermissionDenied, "")
	_, err = w.api.ListShipMethodMappings(w.as("merchant"), &ordersv1.ListShipMethodMappingsRequest{AccountId: w.account, CartConnectionId: "nope"})
	wantCode(t, "mappings of an unknown connection", err, codes.NotFound, "")

	resp, err := w.api.GetOrder(w.as("admin"), &ordersv1.GetOrderRequest{AccountId: w.account, Order: &ordersv1.GetOrderRequest_ByNumber{
		ByNumber: &ordersv1.OrderNumberRef{CartConnectionId: cartConn, OrderNumber: "#9001"}}, HistoryLimit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetOrder().GetOrderId() != id || len(resp.GetHistory()) != 2 || resp.GetNextHistoryVersion() != 3 ||
		resp.GetHistory()[0].GetEventType() != "rebound.orders.v1.OrderReceived" {
		t.Fatalf("GetOrder: %v", resp)
	}
	m, err := w.api.ListShipMethodMappings(w.as("merchant"), &ordersv1.ListShipMethodMappingsRequest{AccountId: w.account, CartConnectionId: cartConn})
	if err != nil || len(m.GetMappings().GetMappings()) != 1 || m.GetMappings().GetMappings()[0].GetWmsShipMethod() != "UPS_GROUND" {
		t.Fatalf("ListShipMethodMappings: %v, %v", m, err)
	}
}

// Connections: secrets go to the secrets bucket and never into an event or an answer; an unchanged
// configuration stores nothing; lists show only what the caller may see, with health.
func TestConnectionService_secretsStayOutOfEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{noRetrySvcs: true})
	settings := &connectionsv1.ConnectionSettings{
		ConnectionId: "wms-9", AccountId: w.account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms", BaseUrl: w.sb.WMSBaseURL("wms-9"),
	}
	const secret = "tok-very-secret-123"
	up, err := w.conns.UpsertConnection(w.as("merchant"), &connectionsv1.UpsertConnectionRequest{Settings: settings, Credentials: &connectionsv1.Credentials{Token: secret}})
	if err != nil || !up.GetChanged() || up.GetConnection().GetCredentials().GetKind() != connectionsv1.CredentialsKind_CREDENTIALS_KIND_BEARER_TOKEN {
		t.Fatalf("UpsertConnection: %v, %v", up, err)
	}
	again, err := w.conns.UpsertConnection(w.as("merchant"), &connectionsv1.UpsertConnectionRequest{Settings: settings, Credentials: &connectionsv1.Credentials{Token: secret}})
	if err != nil || again.GetChanged() || again.GetConnection().GetVersion() != 1 {
		t.Fatalf("the same configuration again: %v, %v", again, err)
	}
	var leaked bool
	err = w.store.Read(t.Context(), events.ReadOptions{}, func(_ context.Context, r events.Record) error {
		if bytesContains(r.Data, secret) {
			leaked = true
		}
		return nil
	})
	if err != nil || leaked {
		t.Fatalf("a secret is in the event store (%v)", err)
	}
	if w.logs.Contains(secret) {
		t.Fatal("a secret is in the log")
	}
	kv, err := w.js.KeyValue(t.Context(), "CONNECTION_SECRETS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(t.Context(), w.account+".wms-9"); err != nil {
		t.Fatalf("the secret is not in its bucket: %v", err)
	}
	list, err := w.conns.ListConnections(w.as("merchant"), &connectionsv1.ListConnectionsRequest{})
	if err != nil || len(list.GetConnections()) != 4 {
		t.Fatalf("ListConnections: %d, %v", len(list.GetConnections()), err)
	}
	for _, c := range list.GetConnections() {
		if bytesContains(mustMarshal(t, c), "secret-") {
			t.Fatal("a listed connection carries a secret")
		}
	}
	other, err := w.conns.ListConnections(w.as("other"), &connectionsv1.ListConnectionsRequest{})
	if err != nil || len(other.GetConnections()) != 0 {
		t.Fatalf("another merchant lists %d connections (%v)", len(other.GetConnections()), err)
	}
	page, err := w.conns.ListConnections(w.as("admin"), &connectionsv1.ListConnectionsRequest{PageSize: 3})
	if err != nil || len(page.GetConnections()) != 3 || page.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v", page, err)
	}
	rest, err := w.conns.ListConnections(w.as("admin"), &connectionsv1.ListConnectionsRequest{PageSize: 3, PageToken: page.GetNextPageToken()})
	if err != nil || len(rest.GetConnections()) != 1 || rest.GetNextPageToken() != "" {
		t.Fatalf("second page: %v, %v", rest, err)
	}
	_, err = w.conns.GetConnection(w.as("other"), &connectionsv1.GetConnectionRequest{AccountId: w.account, ConnectionId: "wms-9"})
	wantCode(t, "another merchant's connection", err, codes.PermissionDenied, "")
	_, err = w.conns.GetConnection(w.as("merchant"), &connectionsv1.GetConnectionRequest{AccountId: w.account, ConnectionId: "nope"})
	wantCode(t, "a missing connection", err, codes.NotFound, "")
	settings.SystemKind = connectorv1.SystemKind_SYSTEM_KIND_CART
	_, err = w.conns.UpsertConnection(w.as("merchant"), &connectionsv1.UpsertConnectionRequest{Settings: settings})
	wantCode(t, "a WMS connection turned into a cart", err, codes.InvalidArgument, "settings.system_kind")
}

func bytesContains(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
