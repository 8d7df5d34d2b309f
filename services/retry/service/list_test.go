package service_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/projections/projectiontest"
	"github.com/reboundhq/rebound/projections/retryqueue"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/services/retry/service"
)

// listPolicies keep every pending order pending for the whole test.
const listPolicies = `
kinds:
  order: {interval: 1h, jitter: 0, max_age: 24h}
`

// tenants are the accounts of the isolation matrix: merchants a and b of warehouse w, merchant c
// of warehouse x, the warehouse w itself, and ghost, which never has anything.
type tenants map[string]string

func newTenants() tenants {
	return tenants{"a": unique("ma"), "b": unique("mb"), "c": unique("mc"), "w": unique("wh"), "x": unique("wx"), "ghost": unique("gh")}
}

// ref returns a record of the tenant: a and b are w's merchants, c is x's, w's own records have
// no warehouse.
func (ts tenants) ref(tenant, conn string, kind connectorv1.RecordKind, id string) *connectorv1.RecordRef {
	r := &connectorv1.RecordRef{
		AccountId: ts[tenant], AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		ConnectionId: conn, SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: kind, RecordId: id, OrderNumber: "#" + id,
	}
	if kind == connectorv1.RecordKind_RECORD_KIND_TRACKING {
		r.SystemKind, r.System = connectorv1.SystemKind_SYSTEM_KIND_CART, "shopify"
	}
	switch tenant {
	case "a", "b":
		r.WarehouseId = ts["w"]
	case "c":
		r.WarehouseId = ts["x"]
	case "w":
		r.AccountKind = connectorv1.AccountKind_ACCOUNT_KIND_WAREHOUSE
	}
	return r
}

// sees reports whether the named caller may see the tenant's records.
func sees(key, tenant string) bool {
	switch key {
	case "admin":
		return tenant != "ghost"
	case "w":
		return tenant == "a" || tenant == "b" || tenant == "w"
	}
	return key == tenant
}

// listPages reads every page of a list (page size 1, so that paging is exercised) and fails on a
// record listed twice. list returns a page's record ids and the next token.
func listPages(t *testing.T, list func(token string) ([]string, string, error)) ([]string, error) {
	t.Helper()
	var out []string
	token := ""
	for range 100 {
		ids, next, err := list(token)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if slices.Contains(out, id) {
				t.Fatalf("record %s listed twice", id)
			}
		}
		out = append(out, ids...)
		if next == "" {
			return out, nil
		}
		token = next
	}
	t.Fatal("more than 100 pages")
	return nil, nil
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

// TestListAPIs_tenantIsolationMatrix checks ListRetries (pending and held) and
// ListSkippedRecords for every caller (merchants a and b of warehouse w, merchant c of another
// warehouse, w's key, admin) and every account they can name: each sees exactly its own records,
// every record once across pages, and asking for another tenant's account is refused the same way
// whether or not the account exists. It also checks the filters and the validation.
func TestListAPIs_tenantIsolationMatrix(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, "")
	pc, err := service.ParsePolicies([]byte(listPolicies))
	if err != nil {
		t.Fatal(err)
	}
	db := projectiontest.NewSQLite(t).Open(t)
	e := startReading(t, srv.ClientURL(), service.Config{Policies: &pc, Workers: 4}, db)
	client, keys := rpcServer(t, e.svc)
	ts := newTenants()
	key := map[string]string{
		"a": issue(t, keys, auth.ScopeMerchant, ts["a"]), "b": issue(t, keys, auth.ScopeMerchant, ts["b"]),
		"c": issue(t, keys, auth.ScopeMerchant, ts["c"]), "w": issue(t, keys, auth.ScopeWarehouse, ts["w"]),
		"admin": issue(t, keys, auth.ScopeAdmin, ""),
	}
	ctxAs := func(name string) context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		t.Cleanup(cancel)
		return as(ctx, key[name])
	}

	// Each tenant: a pending order (503), a held order (unmapped ship method) and a skipped one
	// (rejected); a also has a tracking record waiting for its connection's next sync cycle.
	order := connectorv1.RecordKind_RECORD_KIND_ORDER
	var refs []*connectorv1.RecordRef
	for _, tenant := range []string{"a", "b", "c", "w"} {
		pending, held, skipped := ts.ref(tenant, "wms-1", order, "p-"+tenant), ts.ref(tenant, "wms-1", order, "h-"+tenant), ts.ref(tenant, "wms-2", order, "s-"+tenant)
		e.fail(t, failure(pending, "t1"))
		hf := failure(held, "t1")
		hf.HttpStatus, hf.Code, hf.Message = 422, "SHIP_METHOD_NOT_MAPPED", "Ship method 'UPS Ground Saver' is not mapped"
		e.fail(t, hf)
		sf := failure(skipped, "t1")
		sf.HttpStatus, sf.Message = 400, "Bad Request"
		e.fail(t, sf)
		refs = append(refs, pending, held, skipped)
	}
	tracking := ts.ref("a", "cart-1", connectorv1.RecordKind_RECORD_KIND_TRACKING, "tr-a")
	e.fail(t, failure(tracking, "t1"))
	for _, r := range refs {
		want := map[byte]retryv1.RetryStatus{'p': retryv1.RetryStatus_RETRY_STATUS_SCHEDULED, 'h': retryv1.RetryStatus_RETRY_STATUS_HELD, 's': retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED}[r.GetRecordId()[0]]
		e.waitStatus(t, r, want)
	}
	e.waitStatus(t, tracking, retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC)
	projectiontest.Project(t, db, e.store, retryqueue.New())

	pending := func(name, account string, req *retryv1.ListRetriesRequest) ([]string, error) {
		return listPages(t, func(token string) ([]string, string, error) {
			r := proto.CloneOf(req)
			r.AccountId, r.PageSize, r.PageToken = account, 1, token
			resp, err := client.ListRetries(ctxAs(name), r)
			var ids []string
			for _, s := range resp.GetSchedules() {
				ids = append(ids, s.GetRecord().GetRecordId())
			}
			return ids, resp.GetNextPageToken(), err
		})
	}
	skippedList := func(name, account string, req *retryv1.ListSkippedRecordsRequest) ([]string, error) {
		return listPages(t, func(token string) ([]string, string, error) {
			r := proto.CloneOf(req)
			r.AccountId, r.PageSize, r.PageToken = account, 1, token
			resp, err := client.ListSkippedRecords(ctxAs(name), r)
			var ids []string
			for _, s := range resp.GetRecords() {
				if s.GetReason() != retryv1.ExhaustedReason_EXHAUSTED_REASON_REJECTED || s.GetSkippedAt() == nil ||
					!strings.Contains(s.GetReasonText(), "rejected") || !strings.Contains(s.GetReasonText(), "HTTP 400") ||
					s.GetSchedule().GetStatus() != retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED {
					t.Errorf("skipped record %v", s)
				}
				ids = append(ids, s.GetSchedule().GetRecord().GetRecordId())
			}
			return ids, resp.GetNextPageToken(), err
		})
	}
	// want returns the record ids with the prefix of the tenants (all when tenant is "") the
	// caller may see, sorted.
	want := func(name, tenant, prefix string) []string {
		var out []string
		for _, tn := range []string{"a", "b", "c", "w"} {
			if sees(name, tn) && (tenant == "" || tenant == tn) {
				out = append(out, prefix+tn)
				if prefix == "p-" && tn == "a" {
					out = append(out, "tr-a")
				}
			}
		}
		slices.Sort(out)
		return out
	}
	sorted := func(ids []string) []string { return slices.Sorted(slices.Values(ids)) }

	for _, name := range []string{"a", "b", "c", "w", "admin"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tenant := range []string{"", "a", "b", "c", "w", "ghost"} {
				denied := tenant != "" && (name == "a" || name == "b" || name == "c") && tenant != name
				what := name + " for " + tenant
				got, err := pending(name, ts[tenant], &retryv1.ListRetriesRequest{})
				checkDenied(t, "pending "+what, err, denied)
				if w := want(name, tenant, "p-"); !denied && !slices.Equal(sorted(got), w) {
					t.Errorf("pending as %s = %v, want %v", what, got, w)
				}
				got, err = pending(name, ts[tenant], &retryv1.ListRetriesRequest{Queue: retryv1.RetryQueue_RETRY_QUEUE_HELD})
				checkDenied(t, "held "+what, err, denied)
				if w := want(name, tenant, "h-"); !denied && !slices.Equal(sorted(got), w) {
					t.Errorf("held as %s = %v, want %v", what, got, w)
				}
				got, err = skippedList(name, ts[tenant], &retryv1.ListSkippedRecordsRequest{})
				checkDenied(t, "skipped "+what, err, denied)
				if w := want(name, tenant, "s-"); !denied && !slices.Equal(sorted(got), w) {
					t.Errorf("skipped as %s = %v, want %v", what, got, w)
				}
			}
		})
	}

	t.Run("order and filters", func(t *testing.T) {
		t.Parallel()
		// Pending by due time: the record waiting for a sync cycle has none and comes last.
		got, err := pending("a", "", &retryv1.ListRetriesRequest{})
		if err != nil || !slices.Equal(got, []string{"p-a", "tr-a"}) {
			t.Errorf("a's pending records = %v, %v; want p-a then tr-a", got, err)
		}
		tests := []struct {
			name string
			req  *retryv1.ListRetriesRequest
			want []string
		}{
			{"connection", &retryv1.ListRetriesRequest{ConnectionIds: []string{"cart-1"}}, []string{"tr-a"}},
			{"kind", &retryv1.ListRetriesRequest{RecordKinds: []connectorv1.RecordKind{connectorv1.RecordKind_RECORD_KIND_TRACKING}}, []string{"tr-a"}},
			{"orders", &retryv1.ListRetriesRequest{RecordKinds: []connectorv1.RecordKind{order}}, []string{"p-a", "p-b", "p-c", "p-w"}},
			{"held on wms-2", &retryv1.ListRetriesRequest{Queue: retryv1.RetryQueue_RETRY_QUEUE_HELD, ConnectionIds: []string{"wms-2"}}, nil},
		}
		for _, tt := range tests {
			if got, err := pending("admin", "", tt.req); err != nil || !slices.Equal(sorted(got), tt.want) {
				t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
			}
		}
		got, err = skippedList("w", "", &retryv1.ListSkippedRecordsRequest{ConnectionIds: []string{"wms-2"}, RecordKinds: []connectorv1.RecordKind{order}})
		if err != nil || !slices.Equal(sorted(got), []string{"s-a", "s-b", "s-w"}) {
			t.Errorf("w's skipped orders = %v, %v", got, err)
		}
	})

	t.Run("validation", func(t *testing.T) {
		t.Parallel()
		held, err := client.ListRetries(ctxAs("admin"), &retryv1.ListRetriesRequest{Queue: retryv1.RetryQueue_RETRY_QUEUE_HELD, PageSize: 1})
		if err != nil || held.GetNextPageToken() == "" {
			t.Fatalf("ListRetries = %v, %v", held, err)
		}
		list := func(req *retryv1.ListRetriesRequest) func(ctx context.Context) error {
			return func(ctx context.Context) error { _, err := client.ListRetries(ctx, req); return err }
		}
		skipped := func(req *retryv1.ListSkippedRecordsRequest) func(ctx context.Context) error {
			return func(ctx context.Context) error { _, err := client.ListSkippedRecords(ctx, req); return err }
		}
		many := make([]string, 101)
		for i := range many {
			many[i] = "wms-1"
		}
		tests := []struct {
			name  string
			call  func(ctx context.Context) error
			field string
		}{
			{"page size", list(&retryv1.ListRetriesRequest{PageSize: 501}), "page_size"},
			{"queue", list(&retryv1.ListRetriesRequest{Queue: 9}), "queue"},
			{"account", list(&retryv1.ListRetriesRequest{AccountId: "a.b"}), "account_id"},
			{"connection", list(&retryv1.ListRetriesRequest{ConnectionIds: []string{"wms-1", "a b"}}), "connection_ids[1]"},
			{"too many connections", list(&retryv1.ListRetriesRequest{ConnectionIds: many}), "connection_ids"},
			{"kind", list(&retryv1.ListRetriesRequest{RecordKinds: []connectorv1.RecordKind{0}}), "record_kinds[0]"},
			{"page token", list(&retryv1.ListRetriesRequest{PageToken: "%%%"}), "page_token"},
			{"page token of another queue", list(&retryv1.ListRetriesRequest{PageToken: held.GetNextPageToken()}), "page_token"},
			{"skipped: page size", skipped(&retryv1.ListSkippedRecordsRequest{PageSize: 1000}), "page_size"},
			{"skipped: kind", skipped(&retryv1.ListSkippedRecordsRequest{RecordKinds: []connectorv1.RecordKind{77}}), "record_kinds[0]"},
			{"skipped: page token", skipped(&retryv1.ListSkippedRecordsRequest{PageToken: held.GetNextPageToken()}), "page_token"},
		}
		for _, tt := range tests {
			for _, name := range []string{"a", "admin"} {
				st := wantCode(t, tt.name+" as "+name, tt.call(ctxAs(name)), codes.InvalidArgument)
				if !badFields(st)[tt.field] {
					t.Errorf("%s as %s: %v does not name %s", tt.name, name, st.Err(), tt.field)
				}
			}
		}
	})

	t.Run("without read models", func(t *testing.T) {
		t.Parallel()
		js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
		if err != nil {
			t.Fatal(err)
		}
		svc, err := service.New(service.Deps{Store: e.store, JS: js}, service.Config{Policies: &pc})
		if err != nil {
			t.Fatal(err)
		}
		bare, keys := rpcServer(t, svc)
		admin := issue(t, keys, auth.ScopeAdmin, "")
		_, err = bare.ListRetries(as(t.Context(), admin), &retryv1.ListRetriesRequest{})
		wantCode(t, "ListRetries", err, codes.FailedPrecondition)
		_, err = bare.ListSkippedRecords(as(t.Context(), admin), &retryv1.ListSkippedRecordsRequest{})
		wantCode(t, "ListSkippedRecords", err, codes.FailedPrecondition)
	})
}
