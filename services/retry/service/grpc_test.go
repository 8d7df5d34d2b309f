package service_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/server"
	"github.com/reboundhq/rebound/services/retry/service"
)

// rpcServer serves svc's RetryService on a free port with an in-memory key store, and returns a
// client and the key store.
func rpcServer(t *testing.T, svc *service.Service) (retryv1.RetryServiceClient, *auth.MemStore) {
	t.Helper()
	keys := auth.NewMemStore()
	srv, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}, keys, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(srv)
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server.Run: %v", err)
		}
	})
	addr, _ := srv.Addrs()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return retryv1.NewRetryServiceClient(conn), keys
}

// keyIDs maps the plain keys tests issued to their public ids.
var keyIDs sync.Map

func issue(t *testing.T, keys auth.KeyStore, scope auth.Scope, account string) string {
	t.Helper()
	plain, k, err := auth.IssueKey(t.Context(), keys, scope, account, "test")
	if err != nil {
		t.Fatal(err)
	}
	keyIDs.Store(plain, k.ID)
	return plain
}

func keyID(plain string) string {
	id, _ := keyIDs.Load(plain)
	s, _ := id.(string)
	return s
}

func as(ctx context.Context, key string) context.Context {
	if key == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

func wantCode(t *testing.T, what string, err error, want codes.Code) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != want {
		t.Fatalf("%s: %v; want %s", what, err, want)
	}
	return st
}

// badFields returns the fields an InvalidArgument status names in its BadRequest details.
func badFields(st *status.Status) map[string]bool {
	out := map[string]bool{}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out[v.GetField()] = true
			}
		}
	}
	return out
}

func testGRPC(t *testing.T, e *env) {
	client, keys := rpcServer(t, e.svc)
	merchant, other, warehouse := unique("m"), unique("m"), unique("w")
	admin := issue(t, keys, auth.ScopeAdmin, "")
	mKey := issue(t, keys, auth.ScopeMerchant, merchant)
	otherKey := issue(t, keys, auth.ScopeMerchant, other)
	wKey := issue(t, keys, auth.ScopeWarehouse, warehouse)
	otherWKey := issue(t, keys, auth.ScopeWarehouse, unique("w"))
	w := watchDue(t, e.js, merchant)

	ref := orderRef(merchant, "o-grpc")
	ref.WarehouseId = warehouse
	key := connector.RecordKeyOf(ref)
	e.fail(t, failure(ref, "first"))
	e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)
	missing := connector.RecordKey("wms-1", connectorv1.RecordKind_RECORD_KIND_ORDER, "never-failed")
	ctx := t.Context()

	byKey := func(account, k string) *retryv1.GetRetryRequest {
		return &retryv1.GetRetryRequest{AccountId: account, Record: &retryv1.GetRetryRequest_RecordKey{RecordKey: k}}
	}

	t.Run("GetRetry by key and by identity", func(t *testing.T) {
		resp, err := client.GetRetry(as(ctx, mKey), byKey(merchant, key))
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetSchedule().GetScheduleId() != key || resp.GetSchedule().GetStatus() != retryv1.RetryStatus_RETRY_STATUS_SCHEDULED ||
			resp.GetVersion() == 0 || len(resp.GetHistory()) != int(resp.GetVersion()) {
			t.Fatalf("GetRetry: %v", resp)
		}
		first := resp.GetHistory()[0]
		var scheduled retryv1.RetryScheduled
		if first.GetEventType() != "rebound.retry.v1.RetryScheduled" || first.GetVersion() != 1 || first.GetPayload().UnmarshalTo(&scheduled) != nil ||
			scheduled.GetRecord().GetRecordId() != "o-grpc" {
			t.Fatalf("first history event %v", first)
		}
		byID, err := client.GetRetry(as(ctx, mKey), &retryv1.GetRetryRequest{AccountId: merchant, Record: &retryv1.GetRetryRequest_Identity{
			Identity: &retryv1.RecordIdentity{ConnectionId: "wms-1", RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: "o-grpc"}}})
		if err != nil || byID.GetSchedule().GetScheduleId() != key {
			t.Fatalf("GetRetry by identity: %v, %v", byID, err)
		}
		limited, err := client.GetRetry(as(ctx, mKey), &retryv1.GetRetryRequest{AccountId: merchant,
			Record: &retryv1.GetRetryRequest_RecordKey{RecordKey: key}, HistoryLimit: 1})
		if err != nil || len(limited.GetHistory()) != 1 || (limited.GetVersion() > 1) != (limited.GetNextHistoryVersion() == 2) {
			t.Fatalf("GetRetry with limit 1: %v, %v", limited, err)
		}
	})

	t.Run("who may see it", func(t *testing.T) {
		for _, c := range []struct {
			name string
			key  string
			req  *retryv1.GetRetryRequest
			want codes.Code
		}{
			{"no key", "", byKey(merchant, key), codes.Unauthenticated},
			{"unknown key", "rbk_nope_nope", byKey(merchant, key), codes.Unauthenticated},
			{"another merchant, existing record", otherKey, byKey(merchant, key), codes.PermissionDenied},
			{"another merchant, missing record", otherKey, byKey(merchant, missing), codes.PermissionDenied},
			{"the merchant's warehouse", wKey, byKey(merchant, key), codes.OK},
			{"another warehouse, existing record", otherWKey, byKey(merchant, key), codes.PermissionDenied},
			{"a warehouse, missing record of a merchant", wKey, byKey(merchant, missing), codes.PermissionDenied},
			{"the merchant, missing record", mKey, byKey(merchant, missing), codes.NotFound},
			{"admin, missing record", admin, byKey(merchant, missing), codes.NotFound},
			{"admin", admin, byKey(merchant, key), codes.OK},
			{"the record under another account", admin, byKey(other, key), codes.NotFound},
		} {
			_, err := client.GetRetry(as(ctx, c.key), c.req)
			wantCode(t, c.name, err, c.want)
		}
		// Commands are refused alike, before anything changes.
		_, err := client.RetryNow(as(ctx, otherKey), &retryv1.RetryNowRequest{AccountId: merchant, Record: &retryv1.RetryNowRequest_RecordKey{RecordKey: key}})
		wantCode(t, "RetryNow of another merchant", err, codes.PermissionDenied)
		_, err = client.CancelRetry(as(ctx, otherWKey), &retryv1.CancelRetryRequest{AccountId: merchant, Record: &retryv1.CancelRetryRequest_RecordKey{RecordKey: key}})
		wantCode(t, "CancelRetry of another warehouse's merchant", err, codes.PermissionDenied)
	})

	t.Run("invalid arguments name the field", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			req   *retryv1.GetRetryRequest
			field string
		}{
			{"account", byKey("not an account", key), "account_id"},
			{"no record", &retryv1.GetRetryRequest{AccountId: merchant}, "record"},
			{"bad key", byKey(merchant, "rec.x"), "record_key"},
			{"kind", &retryv1.GetRetryRequest{AccountId: merchant, Record: &retryv1.GetRetryRequest_Identity{
				Identity: &retryv1.RecordIdentity{ConnectionId: "wms-1", RecordId: "o"}}}, "identity.record_kind"},
			{"record id", &retryv1.GetRetryRequest{AccountId: merchant, Record: &retryv1.GetRetryRequest_Identity{
				Identity: &retryv1.RecordIdentity{ConnectionId: "wms-1", RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER}}}, "identity.record_id"},
			{"history limit", &retryv1.GetRetryRequest{AccountId: merchant, Record: &retryv1.GetRetryRequest_RecordKey{RecordKey: key}, HistoryLimit: 5000}, "history_limit"},
		} {
			_, err := client.GetRetry(as(ctx, mKey), c.req)
			st := wantCode(t, c.name, err, codes.InvalidArgument)
			if !badFields(st)[c.field] {
				t.Errorf("%s: %q names %v; want %s", c.name, st.Message(), badFields(st), c.field)
			}
		}
		long := make([]byte, 300)
		for i := range long {
			long[i] = 'a'
		}
		_, err := client.RetryNow(as(ctx, mKey), &retryv1.RetryNowRequest{AccountId: merchant, Record: &retryv1.RetryNowRequest_RecordKey{RecordKey: key}, Actor: string(long)})
		if st := wantCode(t, "long actor", err, codes.InvalidArgument); !badFields(st)["actor"] {
			t.Errorf("long actor: %q", st.Message())
		}
	})

	t.Run("RetryNow, CancelRetry and wrong states", func(t *testing.T) {
		now := time.Now()
		resp, err := client.RetryNow(as(ctx, wKey), &retryv1.RetryNowRequest{AccountId: merchant,
			Record: &retryv1.RetryNowRequest_RecordKey{RecordKey: key}, Actor: "ops@warehouse.example"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAttemptId() == "" || resp.GetSchedule().GetLastAttempt().GetTrigger() != retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RETRY_NOW ||
			resp.GetSchedule().GetLastAttempt().GetActor() != "ops@warehouse.example" {
			t.Fatalf("RetryNow: %v", resp)
		}
		d := w.waitAttempt(t, resp.GetAttemptId(), 10*time.Second)
		checkOnTime(t, w, d, now)

		canceled, err := client.CancelRetry(as(ctx, mKey), &retryv1.CancelRetryRequest{AccountId: merchant, Record: &retryv1.CancelRetryRequest_RecordKey{RecordKey: key}})
		if err != nil || canceled.GetSchedule().GetStatus() != retryv1.RetryStatus_RETRY_STATUS_CANCELED {
			t.Fatalf("CancelRetry: %v, %v", canceled, err)
		}
		_, history := e.schedule(t, ref)
		if last := history[len(history)-1].Message.(*retryv1.RetryCanceled); last.GetActor() != "api-key:"+keyID(mKey) {
			t.Fatalf("canceled by %q", last.GetActor())
		}
		eventually(t, 5*time.Second, "the timer to be disarmed", func() bool {
			return e.pendingTimers(t, events.StreamID{AggregateType: "retry", Account: merchant, ID: key}) == 0
		})
		_, err = client.CancelRetry(as(ctx, mKey), &retryv1.CancelRetryRequest{AccountId: merchant, Record: &retryv1.CancelRetryRequest_RecordKey{RecordKey: key}})
		wantCode(t, "CancelRetry of a canceled schedule", err, codes.FailedPrecondition)

		// A completed schedule cannot be retried.
		done := orderRef(merchant, "o-done")
		e.fail(t, failure(done, "first"))
		e.waitStatus(t, done, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)
		e.succeed(t, done, "first-retry")
		e.waitStatus(t, done, retryv1.RetryStatus_RETRY_STATUS_COMPLETED)
		_, err = client.RetryNow(as(ctx, mKey), &retryv1.RetryNowRequest{AccountId: merchant,
			Record: &retryv1.RetryNowRequest_RecordKey{RecordKey: connector.RecordKeyOf(done)}})
		wantCode(t, "RetryNow of a completed schedule", err, codes.FailedPrecondition)
		_, err = client.RetryNow(as(ctx, mKey), &retryv1.RetryNowRequest{AccountId: merchant,
			Record: &retryv1.RetryNowRequest_RecordKey{RecordKey: missing}})
		wantCode(t, "RetryNow of a record that never failed", err, codes.NotFound)
	})
}

// conflictStore is a store whose appends always meet a concurrency conflict.
type conflictStore struct{ events.Store }

func (s conflictStore) Append(_ context.Context, stream events.StreamID, expect events.Expectation, _ ...events.Event) (events.State, error) {
	return events.State{}, &events.ConflictError{Stream: stream, Expected: expect, Reason: "test"}
}

func TestGRPC_conflictIsAborted(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, "")
	e := start(t, srv.ClientURL(), testConfig(t))
	merchant := unique("m")
	ref := orderRef(merchant, "o-conflict")
	e.fail(t, failure(ref, "first"))
	e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)

	// A second service whose every write conflicts, as if others kept changing the schedule.
	cfg := testConfig(t)
	cfg.HandlerPrefix, cfg.TimerKind = "retry-conflict", "retry-conflict"
	svc, err := service.New(service.Deps{Store: conflictStore{e.store}, JS: e.js}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, keys := rpcServer(t, svc)
	_, err = client.RetryNow(as(t.Context(), issue(t, keys, auth.ScopeMerchant, merchant)), &retryv1.RetryNowRequest{
		AccountId: merchant, Record: &retryv1.RetryNowRequest_RecordKey{RecordKey: connector.RecordKeyOf(ref)}})
	wantCode(t, "RetryNow that keeps conflicting", err, codes.Aborted)
}
