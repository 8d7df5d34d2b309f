package service_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/projections/connhealth"
	ordersrm "github.com/reboundhq/rebound/projections/orders"
	"github.com/reboundhq/rebound/projections/projectiontest"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/server"
	"github.com/reboundhq/rebound/services/orders/domain/order"
	"github.com/reboundhq/rebound/services/orders/sandbox"
	"github.com/reboundhq/rebound/services/orders/service"
)

// The connections of the isolation matrix: every merchant has a cart (its ship method code
// STANDARD mapped), a WMS that accepts orders and one that answers 500; the warehouse has a WMS
// of its own.
const (
	matrixCart   = "shop-1"
	matrixWMS    = "wms-ok"
	matrixBadWMS = "wms-bad"
	matrixOwnWMS = "wms-w"
)

// tenantsOf are the accounts of the isolation matrix by name: merchants a and b of warehouse w,
// merchant c of warehouse x, the warehouse w itself, and ghost, which never has anything.
type tenantsOf map[string]string

func (ts tenantsOf) name(account string) string {
	for n, id := range ts {
		if id == account {
			return n
		}
	}
	return ""
}

func (ts tenantsOf) warehouse(tenant string) string {
	switch tenant {
	case "a", "b":
		return ts["w"]
	case "c":
		return ts["x"]
	}
	return ""
}

// sees reports whether the named caller may see the tenant's data.
func sees(key, tenant string) bool {
	switch key {
	case "admin":
		return tenant != "ghost"
	case "w":
		return tenant == "a" || tenant == "b" || tenant == "w"
	}
	return key == tenant
}

// checkDenied fails unless err is nil (want false) or exactly the PermissionDenied every
// refused caller gets, which says nothing about the account.
func checkDenied(t *testing.T, what string, err error, want bool) {
	t.Helper()
	st := status.Convert(err)
	switch {
	case !want && err != nil:
		t.Errorf("%s: %v", what, err)
	case want && (st.Code() != codes.PermissionDenied || st.Message() != "permission denied" || len(st.Details()) != 0):
		t.Errorf("%s: %v, want the bare PermissionDenied", what, err)
	}
}

// pages reads every page of a list (one item per page, so that paging is exercised) and fails
// on an item listed twice.
func pages(t *testing.T, list func(token string) ([]string, string, error)) ([]string, error) {
	t.Helper()
	var out []string
	token := ""
	for range 100 {
		items, next, err := list(token)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if slices.Contains(out, it) {
				t.Fatalf("%s listed twice", it)
			}
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		token = next
	}
	t.Fatal("more than 100 pages")
	return nil, nil
}

// TestListAPIs_tenantIsolationMatrix checks ListOrders and ListConnections (with the
// connection-health read model) for every caller (merchants a and b of warehouse w, merchant c
// of another warehouse, w's key, admin) and every account they can name: each sees exactly its
// own, every item once across pages, and asking for another tenant's account is refused the
// same way whether or not the account exists. It also checks the status selections, the filters
// and the validation.
func TestListAPIs_tenantIsolationMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{readModels: true})
	// "m" is the world's own merchant, with the connections every world configures.
	ts := tenantsOf{"a": unique("ma"), "b": unique("mb"), "c": unique("mc"), "w": unique("wh"), "x": unique("wx"), "ghost": unique("gh"), "m": w.account}
	for name, k := range map[string]struct {
		scope   auth.Scope
		account string
	}{
		"a": {auth.ScopeMerchant, ts["a"]}, "b": {auth.ScopeMerchant, ts["b"]}, "c": {auth.ScopeMerchant, ts["c"]},
		"w": {auth.ScopeWarehouse, ts["w"]},
	} {
		plain, _, err := auth.IssueKey(t.Context(), w.keyStore, k.scope, k.account, name)
		if err != nil {
			t.Fatal(err)
		}
		w.keys[name] = plain
	}
	w.setWMS(matrixBadWMS, sandbox.Failure{Mode: sandbox.ModeHTTP500})
	upsert := func(s *connectionsv1.ConnectionSettings) {
		t.Helper()
		s.Timeout = durationpb.New(5 * time.Second)
		if _, err := w.conns.UpsertConnection(w.as("admin"), &connectionsv1.UpsertConnectionRequest{Settings: s}); err != nil {
			t.Fatalf("UpsertConnection %s/%s: %v", s.GetAccountId(), s.GetConnectionId(), err)
		}
	}
	upsert(&connectionsv1.ConnectionSettings{
		ConnectionId: matrixOwnWMS, AccountId: ts["w"], AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_WAREHOUSE,
		SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms", BaseUrl: w.sb.WMSBaseURL(matrixOwnWMS),
	})
	// Each merchant: an order the WMS accepts (o1), one its failing WMS keeps failing (o2, new
	// and retried) and one held on an unmapped ship method (o3).
	var ids []struct{ account, id string }
	for _, tenant := range []string{"a", "b", "c"} {
		merchant := func(id string, kind connectorv1.SystemKind, base string) *connectionsv1.ConnectionSettings {
			return &connectionsv1.ConnectionSettings{
				ConnectionId: id, AccountId: ts[tenant], AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
				WarehouseId: ts.warehouse(tenant), SystemKind: kind, BaseUrl: base,
			}
		}
		cart := merchant(matrixCart, connectorv1.SystemKind_SYSTEM_KIND_CART, w.sb.CartBaseURL(matrixCart))
		cart.System, cart.WmsConnectionId = "sandbox-cart", matrixWMS
		upsert(cart)
		for _, id := range []string{matrixWMS, matrixBadWMS} {
			s := merchant(id, connectorv1.SystemKind_SYSTEM_KIND_WMS, w.sb.WMSBaseURL(id))
			s.System = "sandbox-wms"
			upsert(s)
		}
		if _, err := w.api.SetShipMethodMapping(w.as(tenant), &ordersv1.SetShipMethodMappingRequest{
			AccountId: ts[tenant], CartConnectionId: matrixCart, ShipMethodCode: mapped, WmsShipMethod: "UPS_GROUND",
		}); err != nil {
			t.Fatal(err)
		}
		for _, o := range []struct{ number, code, wms string }{
			{"o1-" + tenant, mapped, ""}, {"o2-" + tenant, mapped, matrixBadWMS}, {"o3-" + tenant, "GROUND_SAVER", ""},
		} {
			req := w.submission(o.number, o.code)
			req.AccountId, req.CartConnectionId, req.WmsConnectionId = ts[tenant], matrixCart, o.wms
			resp, err := w.api.SubmitOrder(w.as(tenant), req)
			if err != nil {
				t.Fatalf("SubmitOrder %s: %v", o.number, err)
			}
			ids = append(ids, struct{ account, id string }{ts[tenant], resp.GetOrder().GetOrderId()})
		}
	}
	// Wait for the deliveries, the failure and the hold, then for the read models to show them
	// with the failing WMS's alerts.
	for _, o := range ids {
		eventually(t, 30*time.Second, "order "+o.id+" to settle", func() bool {
			loaded, err := w.store.Load(t.Context(), order.Stream(o.account, o.id), 0)
			if err != nil {
				return false
			}
			ord := order.New(order.Stream(o.account, o.id))
			for _, r := range loaded.Events {
				if err := ord.Apply(r); err != nil {
					t.Fatal(err)
				}
			}
			s := ord.Snapshot()
			switch {
			case strings.HasPrefix(s.GetOrderNumber(), "o1-"):
				return s.GetStatus() == ordersv1.OrderStatus_ORDER_STATUS_AT_WMS
			case strings.HasPrefix(s.GetOrderNumber(), "o2-"):
				return s.GetLastFailure() != nil
			}
			return s.GetStatus() == ordersv1.OrderStatus_ORDER_STATUS_ERROR
		})
	}
	eventually(t, 30*time.Second, "the failing WMS's health in the read model", func() bool {
		projectiontest.Project(t, w.db, w.store, ordersrm.New(), connhealth.New())
		resp, err := w.conns.ListConnections(w.as("admin"), &connectionsv1.ListConnectionsRequest{FailingOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		failing := 0
		for _, c := range resp.GetConnections() {
			if c.GetSettings().GetConnectionId() == matrixBadWMS {
				failing++
			}
		}
		return failing == 3
	})

	listOrders := func(key, account string, req *ordersv1.ListOrdersRequest) ([]string, error) {
		return pages(t, func(token string) ([]string, string, error) {
			r := proto.CloneOf(req)
			r.AccountId, r.PageSize, r.PageToken = account, 1, token
			resp, err := w.api.ListOrders(w.as(key), r)
			var out []string
			for _, o := range resp.GetOrders() {
				out = append(out, o.GetOrderNumber())
			}
			return out, resp.GetNextPageToken(), err
		})
	}
	listConns := func(key, account string, req *connectionsv1.ListConnectionsRequest) ([]*connectionsv1.Connection, error) {
		var all []*connectionsv1.Connection
		_, err := pages(t, func(token string) ([]string, string, error) {
			r := proto.CloneOf(req)
			r.AccountId, r.PageSize, r.PageToken = account, 1, token
			resp, err := w.conns.ListConnections(w.as(key), r)
			var out []string
			for _, c := range resp.GetConnections() {
				if c.GetAlertHealth() == nil {
					t.Errorf("connection %v has no alert health", c.GetSettings())
				}
				all = append(all, c)
				out = append(out, c.GetSettings().GetAccountId()+"/"+c.GetSettings().GetConnectionId())
			}
			return out, resp.GetNextPageToken(), err
		})
		return all, err
	}
	connNames := func(cs []*connectionsv1.Connection) []string {
		var out []string
		for _, c := range cs {
			out = append(out, ts.name(c.GetSettings().GetAccountId())+"/"+c.GetSettings().GetConnectionId())
		}
		slices.Sort(out)
		return out
	}
	wantOrders := func(key, tenant string) []string {
		var out []string
		for _, tn := range []string{"a", "b", "c"} {
			if sees(key, tn) && (tenant == "" || tenant == tn) {
				out = append(out, "o1-"+tn, "o2-"+tn, "o3-"+tn)
			}
		}
		slices.Sort(out)
		return out
	}
	wantConns := func(key, tenant string) []string {
		var out []string
		for _, tn := range []string{"a", "b", "c", "w", "m"} {
			if !sees(key, tn) || (tenant != "" && tenant != tn) {
				continue
			}
			switch tn {
			case "w":
				out = append(out, "w/"+matrixOwnWMS)
				continue
			case "m":
				out = append(out, "m/"+cartConn, "m/"+wmsConn, "m/"+shortWMSConn)
				continue
			}
			out = append(out, tn+"/"+matrixBadWMS, tn+"/"+matrixCart, tn+"/"+matrixWMS)
		}
		slices.Sort(out)
		return out
	}

	for _, key := range []string{"a", "b", "c", "w", "admin"} {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			for _, tenant := range []string{"", "a", "b", "c", "w", "ghost"} {
				denied := tenant != "" && (key == "a" || key == "b" || key == "c") && tenant != key
				what := key + " for " + tenant
				got, err := listOrders(key, ts[tenant], &ordersv1.ListOrdersRequest{})
				checkDenied(t, "ListOrders "+what, err, denied)
				if want := wantOrders(key, tenant); !denied && !slices.Equal(slices.Sorted(slices.Values(got)), want) {
					t.Errorf("ListOrders as %s = %v, want %v", what, got, want)
				}
				conns, err := listConns(key, ts[tenant], &connectionsv1.ListConnectionsRequest{})
				checkDenied(t, "ListConnections "+what, err, denied)
				if want := wantConns(key, tenant); !denied && !slices.Equal(connNames(conns), want) {
					t.Errorf("ListConnections as %s = %v, want %v", what, connNames(conns), want)
				}
				// The failing connections are those with open alerts, and the failing WMS is one.
				failing, err := listConns(key, ts[tenant], &connectionsv1.ListConnectionsRequest{FailingOnly: true})
				checkDenied(t, "ListConnections failing "+what, err, denied)
				var want []*connectionsv1.Connection
				for _, c := range conns {
					if c.GetAlertHealth().GetOpenAlerts() > 0 {
						want = append(want, c)
					}
					if c.GetSettings().GetConnectionId() == matrixBadWMS {
						h := c.GetAlertHealth()
						if h.GetOpenAlerts() == 0 || h.GetFailingRecords() != 1 || h.GetLastFailureAt() == nil ||
							h.GetStatus() != alertsv1.ConnectionStatus_CONNECTION_STATUS_UP {
							t.Errorf("health of %s = %v", connNames([]*connectionsv1.Connection{c}), h)
						}
					}
				}
				if !denied && !slices.Equal(connNames(failing), connNames(want)) {
					t.Errorf("failing connections as %s = %v, want %v", what, connNames(failing), connNames(want))
				}
			}
		})
	}

	t.Run("selections and filters", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			req  *ordersv1.ListOrdersRequest
			want []string
		}{
			{"any", &ordersv1.ListOrdersRequest{Status: ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_ANY}, []string{"o1-a", "o2-a", "o3-a"}},
			{"new", &ordersv1.ListOrdersRequest{Status: ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_NEW}, []string{"o2-a"}},
			{"at_wms", &ordersv1.ListOrdersRequest{Status: ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_AT_WMS}, []string{"o1-a"}},
			{"error", &ordersv1.ListOrdersRequest{Status: ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_ERROR}, []string{"o3-a"}},
			{"new_or_at_wms", &ordersv1.ListOrdersRequest{Status: ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_NEW_OR_AT_WMS}, []string{"o1-a", "o2-a"}},
			{"shipped_or_confirmed", &ordersv1.ListOrdersRequest{Status: ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_SHIPPED_OR_CONFIRMED}, nil},
			{"skipped", &ordersv1.ListOrdersRequest{Status: ordersv1.OrderStatusSelection_ORDER_STATUS_SELECTION_SKIPPED}, nil},
			{"wms connection", &ordersv1.ListOrdersRequest{ConnectionId: matrixBadWMS}, []string{"o2-a"}},
			{"cart connection", &ordersv1.ListOrdersRequest{ConnectionId: matrixCart}, []string{"o1-a", "o2-a", "o3-a"}},
			{"order number", &ordersv1.ListOrdersRequest{OrderNumber: "o3-a"}, []string{"o3-a"}},
			{"order number of another tenant", &ordersv1.ListOrdersRequest{OrderNumber: "o3-b"}, nil},
		}
		for _, tt := range tests {
			got, err := listOrders("a", "", tt.req)
			if err != nil || !slices.Equal(slices.Sorted(slices.Values(got)), tt.want) {
				t.Errorf("%s: ListOrders as a = %v, %v; want %v", tt.name, got, err, tt.want)
			}
		}
		// Newest received first.
		resp, err := w.api.ListOrders(w.as("admin"), &ordersv1.ListOrdersRequest{})
		if err != nil || len(resp.GetOrders()) != 9 {
			t.Fatalf("ListOrders as admin = %v, %v", resp, err)
		}
		for i := 1; i < len(resp.GetOrders()); i++ {
			if resp.GetOrders()[i].GetReceivedAt().AsTime().After(resp.GetOrders()[i-1].GetReceivedAt().AsTime()) {
				t.Errorf("order %d was received after the one before it", i)
			}
		}
		down, err := w.conns.ListConnections(w.as("admin"), &connectionsv1.ListConnectionsRequest{DownOnly: true})
		if err != nil || len(down.GetConnections()) != 0 {
			t.Errorf("connections down = %v, %v; want none", down, err)
		}
		got, err := w.conns.GetConnection(w.as("w"), &connectionsv1.GetConnectionRequest{AccountId: ts["a"], ConnectionId: matrixBadWMS})
		if err != nil || got.GetConnection().GetAlertHealth().GetOpenAlerts() == 0 {
			t.Errorf("GetConnection = %v, %v; want its open alerts", got, err)
		}
	})

	t.Run("validation", func(t *testing.T) {
		t.Parallel()
		list := func(req *ordersv1.ListOrdersRequest) func(ctx context.Context) error {
			return func(ctx context.Context) error { _, err := w.api.ListOrders(ctx, req); return err }
		}
		tests := []struct {
			name  string
			call  func(ctx context.Context) error
			field string
		}{
			{"status", list(&ordersv1.ListOrdersRequest{Status: 99}), "status"},
			{"page size", list(&ordersv1.ListOrdersRequest{PageSize: 501}), "page_size"},
			{"account", list(&ordersv1.ListOrdersRequest{AccountId: "a b"}), "account_id"},
			{"connection", list(&ordersv1.ListOrdersRequest{ConnectionId: "x/y"}), "connection_id"},
			{"order number", list(&ordersv1.ListOrdersRequest{OrderNumber: strings.Repeat("9", 300)}), "order_number"},
			{"page token", list(&ordersv1.ListOrdersRequest{PageToken: "not-a-token"}), "page_token"},
		}
		for _, tt := range tests {
			for _, key := range []string{"a", "admin"} {
				wantCode(t, tt.name+" as "+key, tt.call(w.as(key)), codes.InvalidArgument, tt.field)
			}
		}
	})

	t.Run("without read models", func(t *testing.T) {
		t.Parallel()
		svc, err := service.New(service.Deps{Store: w.store, JS: w.js, Ingester: w.in}, service.Config{ManualSync: true, HandlerPrefix: "bare"})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}, w.keyStore, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		svc.Register(srv)
		ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		addr, _ := srv.Addrs()
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		// The service does not run (its connection directory neither), so only calls that need
		// no connection are made.
		admin := w.as("admin")
		_, err = ordersv1.NewOrderServiceClient(conn).ListOrders(admin, &ordersv1.ListOrdersRequest{})
		wantCode(t, "ListOrders", err, codes.FailedPrecondition, "")
		_, err = connectionsv1.NewConnectionServiceClient(conn).ListConnections(admin, &connectionsv1.ListConnectionsRequest{DownOnly: true})
		wantCode(t, "ListConnections down only", err, codes.FailedPrecondition, "")
	})
}
