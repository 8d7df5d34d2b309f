package service_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
	alertsrm "github.com/reboundhq/rebound/projections/alerts"
	"github.com/reboundhq/rebound/projections/projectiontest"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/server"
	"github.com/reboundhq/rebound/services/alerts/inbound/consumers"
	"github.com/reboundhq/rebound/services/alerts/service"
)

// tenantWorld is a running alerts service with the read models, a gRPC server and a key per
// tenant: merchants "a" and "b" of warehouse "w", merchant "c" of warehouse "x", the warehouse
// "w" itself, and "admin". Accounts are the keys' names mapped to unique ids in acct; "ghost"
// is an account that never has anything.
type tenantWorld struct {
	*env
	run    *running
	db     *projections.DB
	alerts alertsv1.AlertServiceClient
	keys   map[string]string // key name -> plain key
	acct   map[string]string // tenant name -> account id
}

// tenantKeys are the callers of the isolation matrix, by name.
var tenantKeys = []string{"a", "b", "c", "w", "admin"}

func startTenantWorld(t *testing.T, cfg service.Config) *tenantWorld {
	t.Helper()
	e := newEnv(t)
	w := &tenantWorld{env: e, keys: map[string]string{}, acct: map[string]string{
		"a": unique("ma"), "b": unique("mb"), "c": unique("mc"), "w": unique("wh"), "x": unique("wx"), "ghost": unique("gh"),
	}}
	w.db = projectiontest.NewSQLite(t).Open(t)
	e.readModels = w.db
	w.run = e.start(cfg)
	store := auth.NewMemStore()
	for _, k := range []struct {
		name    string
		scope   auth.Scope
		account string
	}{
		{"a", auth.ScopeMerchant, w.acct["a"]},
		{"b", auth.ScopeMerchant, w.acct["b"]},
		{"c", auth.ScopeMerchant, w.acct["c"]},
		{"w", auth.ScopeWarehouse, w.acct["w"]},
		{"admin", auth.ScopeAdmin, ""},
	} {
		plain, _, err := auth.IssueKey(t.Context(), store, k.scope, k.account, k.name)
		if err != nil {
			t.Fatal(err)
		}
		w.keys[k.name] = plain
	}
	srv, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second}, store, e.log, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.run.svc.Register(srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	addr, _ := srv.Addrs()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	w.alerts = alertsv1.NewAlertServiceClient(conn)
	return w
}

// as returns a context that calls with the named key.
func (w *tenantWorld) as(key string) context.Context {
	ctx, cancel := context.WithTimeout(w.t.Context(), 30*time.Second)
	w.t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+w.keys[key])
}

// sees reports whether the named caller may see the tenant's data.
func (w *tenantWorld) sees(key, tenant string) bool {
	switch key {
	case "admin":
		return tenant != "ghost"
	case "w":
		return tenant == "a" || tenant == "b" || tenant == "w"
	}
	return key == tenant
}

// tenantOf returns the tenant name of an account id.
func (w *tenantWorld) tenantOf(account string) string {
	for name, id := range w.acct {
		if id == account {
			return name
		}
	}
	return ""
}

// ref returns a record of the tenant: merchants a and b belong to warehouse w, c to x, and w's
// own records have no warehouse.
func (w *tenantWorld) ref(tenant, conn, id string) *connectorv1.RecordRef {
	r := &connectorv1.RecordRef{
		AccountId: w.acct[tenant], AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		ConnectionId: conn, SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id, OrderNumber: "#" + id,
	}
	switch tenant {
	case "a", "b":
		r.WarehouseId = w.acct["w"]
	case "c":
		r.WarehouseId = w.acct["x"]
	case "w":
		r.AccountKind = connectorv1.AccountKind_ACCOUNT_KIND_WAREHOUSE
	}
	return r
}

// seed raises alerts: a three (one resolved, one needing attention), b two, c two, w one.
func (w *tenantWorld) seed() {
	w.t.Helper()
	now := time.Now().UTC()
	at := func(i int) time.Time { return now.Add(time.Duration(i) * time.Second) }
	w.report(unavailable(w.ref("a", "wms-1", "a1"), "t1", at(1)))
	w.report(shipMethod(w.ref("a", "wms-1", "a2"), "t1", at(2)))
	w.report(unavailable(w.ref("a", "wms-1", "a3"), "t1", at(3)))
	w.report(unavailable(w.ref("b", "wms-1", "b1"), "t1", at(4)))
	w.report(shipMethod(w.ref("b", "wms-2", "b2"), "t1", at(5)))
	w.report(unavailable(w.ref("c", "wms-1", "c1"), "t1", at(6)))
	w.report(unavailable(w.ref("c", "wms-1", "c2"), "t1", at(7)))
	w.report(unavailable(w.ref("w", "wms-w", "w1"), "t1", at(8)))
	w.settled(consumers.RecordsHandler)
	w.report(succeeded(w.ref("a", "wms-1", "a3"), "t2", at(9)))
	w.settled(consumers.RecordsHandler)
	w.project()
}

// project brings the alerts read model up to date with the store.
func (w *tenantWorld) project() {
	w.t.Helper()
	projectiontest.Project(w.t, w.db, w.store, alertsrm.New())
}

// listAll reads every page of ListAlerts and fails on a repeated alert.
func (w *tenantWorld) listAll(t *testing.T, key string, req *alertsv1.ListAlertsRequest) ([]*alertsv1.Alert, error) {
	t.Helper()
	req = proto.CloneOf(req)
	var out []*alertsv1.Alert
	seen := map[string]bool{}
	for page := 0; ; page++ {
		resp, err := w.alerts.ListAlerts(w.as(key), req)
		if err != nil {
			return nil, err
		}
		for _, a := range resp.GetAlerts() {
			k := fmt.Sprintf("%s/%d", a.GetAlertId(), a.GetIncarnation())
			if seen[k] {
				t.Fatalf("%s: alert %s listed twice", key, k)
			}
			seen[k] = true
		}
		out = append(out, resp.GetAlerts()...)
		if resp.GetNextPageToken() == "" {
			return out, nil
		}
		if page > 100 {
			t.Fatalf("%s: more than 100 pages", key)
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// alertIDs returns the sorted ids of alerts.
func alertIDs(alerts []*alertsv1.Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.GetAlertId())
	}
	slices.Sort(out)
	return out
}

// watched is what a watch delivered.
type watched struct {
	positions []uint64
	accounts  []string
	last      uint64 // the last position received (events and heartbeats)
}

// watch reads the stream until it has received n events and then a heartbeat (the watch found
// nothing more for a quiet interval), or fails on an error or a timeout.
func watch(t *testing.T, stream grpc.ServerStreamingClient[alertsv1.WatchAlertsResponse], n int) (watched, error) {
	t.Helper()
	var w watched
	first := true
	for {
		m, err := stream.Recv()
		if err != nil {
			return w, err
		}
		w.last = m.GetPosition()
		if m.GetHeartbeatAt() != nil {
			if !first && len(w.positions) >= n {
				return w, nil
			}
			first = false
			continue
		}
		first = false
		if m.GetEvent() == nil || m.GetEvent().GetPayload() == nil || m.GetAccountId() == "" || m.GetAlertId() == "" {
			t.Fatalf("event message without its event: %v", m)
		}
		w.positions = append(w.positions, m.GetPosition())
		w.accounts = append(w.accounts, m.GetAccountId())
	}
}

// alertEvents returns, in order, the positions of the store's alert events of the tenant ("" for
// every tenant) that the named caller may see.
func (w *tenantWorld) alertEvents(key, tenant string) []uint64 {
	w.t.Helper()
	var out []uint64
	err := w.store.Read(w.t.Context(), events.ReadOptions{Filters: []string{"evt.alert.>"}}, func(_ context.Context, r events.Record) error {
		if name := w.tenantOf(r.Account); (tenant == "" || name == tenant) && w.sees(key, name) {
			out = append(out, r.Position)
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// TestListAPIs_tenantIsolationMatrix checks ListAlerts, CountAlerts and WatchAlerts for every
// caller (merchants a and b of warehouse w, merchant c of another warehouse, w's key, admin)
// and every account they can name: each sees exactly its own, and asking for another tenant's
// account is refused the same way whether or not the account exists.
func TestListAPIs_tenantIsolationMatrix(t *testing.T) {
	t.Parallel()
	w := startTenantWorld(t, service.Config{WatchHeartbeat: 300 * time.Millisecond})
	w.seed()

	all, err := w.listAll(t, "admin", &alertsv1.ListAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	byTenant := map[string][]string{}
	for _, a := range all {
		tenant := w.tenantOf(a.GetRecord().GetAccountId())
		byTenant[tenant] = append(byTenant[tenant], a.GetAlertId())
	}
	for tenant, n := range map[string]int{"a": 3, "b": 2, "c": 2, "w": 1} {
		if len(byTenant[tenant]) != n {
			t.Fatalf("admin lists %d alerts of %s, want %d (all: %v)", len(byTenant[tenant]), tenant, n, alertIDs(all))
		}
		slices.Sort(byTenant[tenant])
	}
	want := func(key, tenant string) []string {
		var out []string
		for _, name := range []string{"a", "b", "c", "w"} {
			if w.sees(key, name) && (tenant == "" || tenant == name) {
				out = append(out, byTenant[name]...)
			}
		}
		slices.Sort(out)
		return out
	}

	for _, key := range tenantKeys {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			// Every account the caller may see, then each account by name.
			for _, tenant := range []string{"", "a", "b", "c", "w", "ghost"} {
				account := w.acct[tenant]
				// A merchant naming another account is refused; everyone else gets exactly the
				// rows of that account that it may see (none for another warehouse's merchant or
				// an account that does not exist).
				denied := tenant != "" && (key == "a" || key == "b" || key == "c") && tenant != key
				wantIDs := want(key, tenant)
				if tenant == "ghost" {
					wantIDs = nil
				}

				got, err := w.listAll(t, key, &alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{AccountId: account}, PageSize: 2})
				checkDenied(t, "ListAlerts "+key+" for "+tenant, err, denied)
				if !denied && !slices.Equal(alertIDs(got), wantIDs) {
					t.Errorf("ListAlerts as %s for %q = %v, want %v", key, tenant, alertIDs(got), wantIDs)
				}

				counts, err := w.alerts.CountAlerts(w.as(key), &alertsv1.CountAlertsRequest{Filter: &alertsv1.AlertFilter{AccountId: account}})
				checkDenied(t, "CountAlerts "+key+" for "+tenant, err, denied)
				if !denied && counts.GetTotal() != uint64(len(wantIDs)) {
					t.Errorf("CountAlerts as %s for %q = %v, want total %d", key, tenant, counts, len(wantIDs))
				}

				ctx, cancel := context.WithCancel(w.as(key))
				stream, err := w.alerts.WatchAlerts(ctx, &alertsv1.WatchAlertsRequest{AccountId: account, AfterPosition: proto.Uint64(0)})
				if err != nil {
					t.Fatal(err)
				}
				wantPos := w.alertEvents(key, tenant)
				seen, err := watch(t, stream, len(wantPos))
				cancel()
				checkDenied(t, "WatchAlerts "+key+" for "+tenant, err, denied)
				if !denied && !slices.Equal(seen.positions, wantPos) {
					t.Errorf("WatchAlerts as %s for %q delivered positions %v, want %v", key, tenant, seen.positions, wantPos)
				}
				for _, acc := range seen.accounts {
					if !w.sees(key, w.tenantOf(acc)) {
						t.Errorf("WatchAlerts as %s delivered an event of %s", key, acc)
					}
				}
			}
		})
	}
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

// TestListAlerts_filtersPagesAndCounts checks what each filter selects, that pages return every
// alert once in order, the counts, and that bad requests are InvalidArgument naming the field.
func TestListAlerts_filtersPagesAndCounts(t *testing.T) {
	t.Parallel()
	w := startTenantWorld(t, service.Config{})
	w.seed()

	ids := func(t *testing.T, key string, f *alertsv1.AlertFilter) []string {
		t.Helper()
		got, err := w.listAll(t, key, &alertsv1.ListAlertsRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range got {
			out = append(out, a.GetRecord().GetRecordId())
		}
		slices.Sort(out)
		return out
	}
	future := timestamppb.New(time.Now().Add(24 * time.Hour))
	t.Run("filters", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			key  string
			f    *alertsv1.AlertFilter
			want []string
		}{
			{"everything", "admin", nil, []string{"a1", "a2", "a3", "b1", "b2", "c1", "c2", "w1"}},
			{"warehouse scope", "w", nil, []string{"a1", "a2", "a3", "b1", "b2", "w1"}},
			{"resolved", "admin", &alertsv1.AlertFilter{Statuses: []alertsv1.AlertStatus{alertsv1.AlertStatus_ALERT_STATUS_RESOLVED}}, []string{"a3"}},
			{"open of a", "a", &alertsv1.AlertFilter{Statuses: []alertsv1.AlertStatus{alertsv1.AlertStatus_ALERT_STATUS_OPEN}}, []string{"a1", "a2"}},
			{"type", "admin", &alertsv1.AlertFilter{AlertTypes: []string{"ship_method_unmapped"}}, []string{"a2", "b2"}},
			{"class", "w", &alertsv1.AlertFilter{ErrorClasses: []connectorv1.ErrorClass{connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION}}, []string{"a2", "b2"}},
			{"connection", "admin", &alertsv1.AlertFilter{ConnectionIds: []string{"wms-2", "wms-w"}}, []string{"b2", "w1"}},
			{"record kind", "admin", &alertsv1.AlertFilter{RecordKinds: []connectorv1.RecordKind{connectorv1.RecordKind_RECORD_KIND_PRODUCT}}, nil},
			{"order number", "admin", &alertsv1.AlertFilter{OrderNumber: "#c2"}, []string{"c2"}},
			{"order number of another tenant", "a", &alertsv1.AlertFilter{OrderNumber: "#c2"}, nil},
			{"sku", "admin", &alertsv1.AlertFilter{Sku: "none"}, nil},
			{"needs attention", "admin", &alertsv1.AlertFilter{NeedsAttention: proto.Bool(true)}, []string{"a2", "b2"}},
			{"no attention needed", "b", &alertsv1.AlertFilter{NeedsAttention: proto.Bool(false)}, []string{"b1"}},
			{"from the future", "admin", &alertsv1.AlertFilter{FromTime: future}, nil},
			{"until the future", "admin", &alertsv1.AlertFilter{ToTime: future, TimeField: alertsv1.AlertTimeField_ALERT_TIME_FIELD_FIRST_SEEN}, []string{"a1", "a2", "a3", "b1", "b2", "c1", "c2", "w1"}},
		}
		for _, tt := range tests {
			if got := ids(t, tt.key, tt.f); !slices.Equal(got, tt.want) {
				t.Errorf("%s: ListAlerts as %s = %v, want %v", tt.name, tt.key, got, tt.want)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		t.Parallel()
		for _, sortBy := range []alertsv1.AlertTimeField{alertsv1.AlertTimeField_ALERT_TIME_FIELD_LAST_SEEN, alertsv1.AlertTimeField_ALERT_TIME_FIELD_FIRST_SEEN} {
			for _, asc := range []bool{false, true} {
				one, err := w.listAll(t, "admin", &alertsv1.ListAlertsRequest{SortBy: sortBy, Ascending: asc})
				if err != nil {
					t.Fatal(err)
				}
				paged, err := w.listAll(t, "admin", &alertsv1.ListAlertsRequest{SortBy: sortBy, Ascending: asc, PageSize: 3})
				if err != nil {
					t.Fatal(err)
				}
				if len(one) != 8 || len(paged) != 8 {
					t.Fatalf("%s asc=%v: %d alerts in one page, %d in pages of 3, want 8", sortBy, asc, len(one), len(paged))
				}
				for i := range one {
					if one[i].GetAlertId() != paged[i].GetAlertId() {
						t.Fatalf("%s asc=%v: paged order differs at %d", sortBy, asc, i)
					}
					if i == 0 {
						continue
					}
					prev, cur := one[i-1].GetLastSeenAt().AsTime(), one[i].GetLastSeenAt().AsTime()
					if sortBy == alertsv1.AlertTimeField_ALERT_TIME_FIELD_FIRST_SEEN {
						prev, cur = one[i-1].GetFirstSeenAt().AsTime(), one[i].GetFirstSeenAt().AsTime()
					}
					if (asc && cur.Before(prev)) || (!asc && cur.After(prev)) {
						t.Errorf("%s asc=%v: alert %d (%s) is out of order after %s", sortBy, asc, i, cur, prev)
					}
				}
			}
		}
	})

	t.Run("counts", func(t *testing.T) {
		t.Parallel()
		c, err := w.alerts.CountAlerts(w.as("w"), &alertsv1.CountAlertsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus := []*alertsv1.AlertStatusCount{
			{Status: alertsv1.AlertStatus_ALERT_STATUS_OPEN, Count: 5},
			{Status: alertsv1.AlertStatus_ALERT_STATUS_RESOLVED, Count: 1},
		}
		if c.GetTotal() != 6 || len(c.GetByStatus()) != 2 || !proto.Equal(c.GetByStatus()[0], wantStatus[0]) || !proto.Equal(c.GetByStatus()[1], wantStatus[1]) ||
			c.GetByAlertType()["wms_unavailable"] != 4 || c.GetByAlertType()["ship_method_unmapped"] != 2 ||
			c.GetByConnection()["wms-1"] != 4 || c.GetByConnection()["wms-2"] != 1 || c.GetByConnection()["wms-w"] != 1 {
			t.Errorf("CountAlerts as w = %v", c)
		}
		c, err = w.alerts.CountAlerts(w.as("admin"), &alertsv1.CountAlertsRequest{Filter: &alertsv1.AlertFilter{OrderNumber: "#a2"}})
		if err != nil || c.GetTotal() != 1 || c.GetByAlertType()["ship_method_unmapped"] != 1 {
			t.Errorf("CountAlerts by order number = %v, %v", c, err)
		}
	})

	t.Run("validation", func(t *testing.T) {
		t.Parallel()
		list := func(req *alertsv1.ListAlertsRequest) func(ctx context.Context) error {
			return func(ctx context.Context) error { _, err := w.alerts.ListAlerts(ctx, req); return err }
		}
		count := func(f *alertsv1.AlertFilter) func(ctx context.Context) error {
			return func(ctx context.Context) error {
				_, err := w.alerts.CountAlerts(ctx, &alertsv1.CountAlertsRequest{Filter: f})
				return err
			}
		}
		watchReq := func(req *alertsv1.WatchAlertsRequest) func(ctx context.Context) error {
			return func(ctx context.Context) error {
				stream, err := w.alerts.WatchAlerts(ctx, req)
				if err != nil {
					return err
				}
				_, err = stream.Recv()
				return err
			}
		}
		past := timestamppb.New(time.Now().Add(-24 * time.Hour))
		many := make([]string, 101)
		for i := range many {
			many[i] = "wms-1"
		}
		tests := []struct {
			name  string
			call  func(ctx context.Context) error
			field string
		}{
			{"page size", list(&alertsv1.ListAlertsRequest{PageSize: 501}), "page_size"},
			{"page token", list(&alertsv1.ListAlertsRequest{PageToken: "!!not a token"}), "page_token"},
			{"sort", list(&alertsv1.ListAlertsRequest{SortBy: 7}), "sort_by"},
			{"status", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{Statuses: []alertsv1.AlertStatus{9}}}), "filter.statuses[0]"},
			{"unspecified status", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{Statuses: []alertsv1.AlertStatus{0}}}), "filter.statuses[0]"},
			{"alert type", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{AlertTypes: []string{"ok", "Not A Type"}}}), "filter.alert_types[1]"},
			{"class", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{ErrorClasses: []connectorv1.ErrorClass{42}}}), "filter.error_classes[0]"},
			{"record kind", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{RecordKinds: []connectorv1.RecordKind{42}}}), "filter.record_kinds[0]"},
			{"connection", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{ConnectionIds: []string{"a b"}}}), "filter.connection_ids[0]"},
			{"too many connections", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{ConnectionIds: many}}), "filter.connection_ids"},
			{"account", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{AccountId: "a.b"}}), "filter.account_id"},
			{"order number", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{OrderNumber: string(make([]byte, 300))}}), "filter.order_number"},
			{"inverted times", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{FromTime: future, ToTime: past}}), "filter.to_time"},
			{"bad time", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{FromTime: &timestamppb.Timestamp{Nanos: -1}}}), "filter.from_time"},
			{"time field", list(&alertsv1.ListAlertsRequest{Filter: &alertsv1.AlertFilter{TimeField: 5}}), "filter.time_field"},
			{"count: inverted times", count(&alertsv1.AlertFilter{FromTime: future, ToTime: past}), "filter.to_time"},
			{"count: status", count(&alertsv1.AlertFilter{Statuses: []alertsv1.AlertStatus{9}}), "filter.statuses[0]"},
			{"watch: account", watchReq(&alertsv1.WatchAlertsRequest{AccountId: "a b"}), "account_id"},
			{"watch: ahead", watchReq(&alertsv1.WatchAlertsRequest{AfterPosition: proto.Uint64(1 << 40)}), "after_position"},
			{"watch: event type", watchReq(&alertsv1.WatchAlertsRequest{EventTypes: []string{"AlertRaised", "RecordFailed"}}), "event_types[1]"},
			{"watch: event type of another package", watchReq(&alertsv1.WatchAlertsRequest{EventTypes: []string{"rebound.orders.v1.AlertRaised"}}), "event_types[0]"},
			{"watch: class", watchReq(&alertsv1.WatchAlertsRequest{ErrorClasses: []connectorv1.ErrorClass{0}}), "error_classes[0]"},
		}
		for _, tt := range tests {
			for _, key := range []string{"a", "admin"} {
				wantCode(t, tt.name+" as "+key, tt.call(w.as(key)), codes.InvalidArgument, tt.field)
			}
		}
		// A page token of another sort order is refused too.
		resp, err := w.alerts.ListAlerts(w.as("admin"), &alertsv1.ListAlertsRequest{PageSize: 1})
		if err != nil || resp.GetNextPageToken() == "" {
			t.Fatalf("ListAlerts = %v, %v", resp, err)
		}
		_, err = w.alerts.ListAlerts(w.as("admin"), &alertsv1.ListAlertsRequest{PageSize: 1, Ascending: true, PageToken: resp.GetNextPageToken()})
		wantCode(t, "page token of another order", err, codes.InvalidArgument, "page_token")
	})
}

// TestWatchAlerts_liveResumeAndShutdown checks that live watches receive the alert events as
// they are stored, in order, each caller only its own; that a watch resumed from a position
// continues without a gap or a repeat; and that watches end with UNAVAILABLE when the service
// stops.
func TestWatchAlerts_liveResumeAndShutdown(t *testing.T) {
	t.Parallel()
	w := startTenantWorld(t, service.Config{WatchHeartbeat: 300 * time.Millisecond})
	// Something older than the watches, which live watches do not see.
	w.report(unavailable(w.ref("a", "wms-1", "old"), "t1", time.Now().UTC()))
	w.settled(consumers.RecordsHandler)

	type live struct {
		stream grpc.ServerStreamingClient[alertsv1.WatchAlertsResponse]
		start  uint64
	}
	streams := map[string]live{}
	for _, key := range tenantKeys {
		stream, err := w.alerts.WatchAlerts(w.as(key), &alertsv1.WatchAlertsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		hello, err := stream.Recv()
		if err != nil || hello.GetHeartbeatAt() == nil || hello.GetEvent() != nil {
			t.Fatalf("first message of %s's watch = %v, %v; want a heartbeat", key, hello, err)
		}
		streams[key] = live{stream: stream, start: hello.GetPosition()}
	}

	now := time.Now().UTC()
	for i, tenant := range []string{"a", "c", "b", "a", "w", "c", "b", "a"} {
		w.report(unavailable(w.ref(tenant, "wms-1", fmt.Sprint("r", i)), "t1", now.Add(time.Duration(i)*time.Millisecond)))
	}
	w.report(succeeded(w.ref("a", "wms-1", "r0"), "t2", now.Add(time.Second)))
	w.settled(consumers.RecordsHandler)

	for _, key := range tenantKeys {
		var want []uint64
		for _, p := range w.alertEvents(key, "") {
			if p > streams[key].start {
				want = append(want, p)
			}
		}
		got, err := watch(t, streams[key].stream, len(want))
		if err != nil {
			t.Fatalf("%s's watch: %v", key, err)
		}
		if !slices.Equal(got.positions, want) || len(want) == 0 {
			t.Errorf("%s's live watch delivered %v, want %v", key, got.positions, want)
		}
	}

	// Resume: read part of everything, stop, and go on from the last position received.
	everything := w.alertEvents("admin", "")
	ctx, cancel := context.WithCancel(w.as("admin"))
	first, err := w.alerts.WatchAlerts(ctx, &alertsv1.WatchAlertsRequest{AfterPosition: proto.Uint64(0)})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for len(got) < 5 {
		m, err := first.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.GetEvent() != nil {
			got = append(got, m.GetPosition())
		}
	}
	cancel()
	for {
		if _, err := first.Recv(); err != nil {
			if status.Code(err) != codes.Canceled {
				t.Errorf("a cancelled watch ends with %v", err)
			}
			break
		}
	}
	resumed, err := w.alerts.WatchAlerts(w.as("admin"), &alertsv1.WatchAlertsRequest{AfterPosition: proto.Uint64(got[len(got)-1])})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := watch(t, resumed, len(everything)-len(got))
	if err != nil {
		t.Fatal(err)
	}
	if got = append(got, rest.positions...); !slices.Equal(got, everything) {
		t.Errorf("watched, then resumed: %v, want %v", got, everything)
	}

	// Filters narrow a watch; a merchant's filters never widen it.
	filtered, err := w.alerts.WatchAlerts(w.as("a"), &alertsv1.WatchAlertsRequest{
		AfterPosition: proto.Uint64(0), EventTypes: []string{"rebound.alerts.v1.AlertResolved"}, AlertTypes: []string{"wms_unavailable"},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := watch(t, filtered, 1)
	if err != nil || len(res.positions) != 1 || res.accounts[0] != w.acct["a"] {
		t.Errorf("a's watch of resolutions = %+v, %v; want a's one resolution", res, err)
	}

	// Stopping the service ends the live watches; the server stays up for other calls.
	w.run.stop()
	for _, key := range tenantKeys {
		for {
			_, err := streams[key].stream.Recv()
			if err == nil {
				continue
			}
			if status.Code(err) != codes.Unavailable {
				t.Errorf("%s's watch ended with %v, want UNAVAILABLE", key, err)
			}
			break
		}
	}
}

// Without the read models, the list queries say so; the watch does not need them.
func TestListAlerts_withoutReadModels(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	_, err := a.alerts.ListAlerts(a.as("merchant"), &alertsv1.ListAlertsRequest{})
	wantCode(t, "ListAlerts", err, codes.FailedPrecondition, "")
	_, err = a.alerts.CountAlerts(a.as("admin"), &alertsv1.CountAlertsRequest{})
	wantCode(t, "CountAlerts", err, codes.FailedPrecondition, "")
	stream, err := a.alerts.WatchAlerts(a.as("merchant"), &alertsv1.WatchAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.GetHeartbeatAt() == nil {
		t.Errorf("WatchAlerts = %v, %v; want its first heartbeat", m, err)
	}
}
