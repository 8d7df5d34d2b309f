package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ingestv1 "github.com/reboundhq/rebound/proto/gen/rebound/ingest/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/server"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/service"
)

// api is a running service with its gRPC server, clients and one key per kind of caller.
type api struct {
	*env
	alerts alertsv1.AlertServiceClient
	ingest ingestv1.IngestServiceClient
	keys   map[string]string // name -> plain key
	keyIDs map[string]string
}

// startAPI runs the service and a server with it on 127.0.0.1. Keys: "admin"; "merchant" (the
// env's account); "other" (another merchant); "warehouse" (the env's account's warehouse);
// "otherwh" (another warehouse).
func startAPI(t *testing.T) *api {
	t.Helper()
	e := newEnv(t)
	r := e.start(service.Config{})
	keys := auth.NewMemStore()
	a := &api{env: e, keys: map[string]string{}, keyIDs: map[string]string{}}
	for name, k := range map[string]struct {
		scope   auth.Scope
		account string
	}{
		"admin":     {auth.ScopeAdmin, ""},
		"merchant":  {auth.ScopeMerchant, e.account},
		"other":     {auth.ScopeMerchant, unique("m")},
		"warehouse": {auth.ScopeWarehouse, "wh-" + e.account},
		"otherwh":   {auth.ScopeWarehouse, unique("wh")},
	} {
		plain, key, err := auth.IssueKey(t.Context(), keys, k.scope, k.account, name)
		if err != nil {
			t.Fatal(err)
		}
		a.keys[name], a.keyIDs[name] = plain, key.ID
	}
	srv, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
		keys, e.log, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.svc.Register(srv)
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
	a.alerts, a.ingest = alertsv1.NewAlertServiceClient(conn), ingestv1.NewIngestServiceClient(conn)
	return a
}

// as returns a context that calls with the named key ("" for none, "bad" for a wrong one).
func (a *api) as(key string) context.Context {
	ctx, cancel := context.WithTimeout(a.t.Context(), 20*time.Second)
	a.t.Cleanup(cancel)
	switch key {
	case "":
		return ctx
	case "bad":
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer rbk_nope_nope")
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+a.keys[key])
}

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

// raise reports a failure of a new record through IngestService and waits for its alert.
func (a *api) raise(id string) (*connectorv1.RecordRef, string) {
	a.t.Helper()
	ref := a.record("wms-1", id)
	if _, err := a.ingest.ReportFailure(a.as("merchant"), &ingestv1.ReportFailureRequest{Failure: unavailable(ref, "a1", time.Now().UTC())}); err != nil {
		a.t.Fatalf("ReportFailure: %v", err)
	}
	alertID := alert.IDOf(ref, "wms_unavailable")
	eventually(a.t, 20*time.Second, "alert "+id, func() bool {
		s, _ := a.alertOf(alertID)
		return s != nil
	})
	return ref, alertID
}

func TestAlertService_getAlertReturnsStateAndHistory(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	ref, id := a.raise("5001")
	if _, err := a.ingest.ReportFailure(a.as("merchant"), &ingestv1.ReportFailureRequest{Failure: unavailable(ref, "a2", time.Now().UTC())}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the occurrence", func() bool {
		s, _ := a.alertOf(id)
		return s.GetOccurrences() == 2
	})

	byID, err := a.alerts.GetAlert(a.as("merchant"), &alertsv1.GetAlertRequest{AccountId: a.account, Alert: &alertsv1.GetAlertRequest_AlertId{AlertId: id}})
	if err != nil {
		t.Fatal(err)
	}
	want, hist := a.alertOf(id)
	if !proto.Equal(byID.GetAlert(), want) || byID.GetVersion() != uint64(len(hist)) || len(byID.GetHistory()) != len(hist) {
		t.Fatalf("GetAlert = %v, want state %v and %d events", byID, want, len(hist))
	}
	for i, ev := range byID.GetHistory() {
		msg, err := ev.GetPayload().UnmarshalNew()
		if err != nil || ev.GetVersion() != uint64(i+1) || ev.GetEventType() != hist[i].EventType || ev.GetEventId() != hist[i].EventID ||
			!proto.Equal(msg, hist[i].Message) || ev.GetRecordedAt() == nil || ev.GetCausationId() == "" {
			t.Errorf("history[%d] = %v (%v), want %s version %d", i, ev, err, hist[i].EventType, i+1)
		}
	}
	if got := byID.GetHistory()[0].GetEventType(); got != "rebound.alerts.v1.AlertRaised" {
		t.Errorf("first event %s", got)
	}

	// By fingerprint, as a warehouse of the merchant, one page at a time.
	byFP, err := a.alerts.GetAlert(a.as("warehouse"), &alertsv1.GetAlertRequest{AccountId: a.account,
		Alert: &alertsv1.GetAlertRequest_Fingerprint{Fingerprint: &alertsv1.AlertFingerprint{
			ConnectionId: "wms-1", RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: "5001", AlertType: "wms_unavailable"}},
		HistoryFromVersion: 2, HistoryLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if byFP.GetAlert().GetAlertId() != id || len(byFP.GetHistory()) != 1 || byFP.GetHistory()[0].GetVersion() != 2 ||
		(len(hist) > 2) != (byFP.GetNextHistoryVersion() == 3) {
		t.Errorf("GetAlert by fingerprint = %v", byFP)
	}
}

func TestAlertService_dismissAndResend(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	ref, id := a.raise("6001")

	// Resend: a RecordUpdated{RESEND_REQUESTED} on the record's stream, by the caller's key.
	resent, err := a.alerts.ResendRecord(a.as("merchant"), &alertsv1.ResendRecordRequest{AccountId: a.account, AlertId: id})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := a.store.Load(t.Context(), connector.RecordStream(ref), 0)
	if err != nil {
		t.Fatal(err)
	}
	last := loaded.Events[len(loaded.Events)-1]
	upd, ok := last.Message.(*connectorv1.RecordUpdated)
	if !ok || upd.GetChange() != connectorv1.RecordChange_RECORD_CHANGE_RESEND_REQUESTED || upd.GetActor() != "api-key:"+a.keyIDs["merchant"] ||
		!proto.Equal(upd.GetRecord(), ref) || last.EventID != resent.GetStored().GetEventId() {
		t.Errorf("the record's last event is %v (%T), want the resend request %v", last.Message, last.Message, resent)
	}

	// Dismiss, then dismiss again: the alert is not open any more.
	got, err := a.alerts.DismissAlert(a.as("warehouse"), &alertsv1.DismissAlertRequest{AccountId: a.account, AlertId: id, Reason: "fixed by hand"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetAlert().GetStatus() != alertsv1.AlertStatus_ALERT_STATUS_DISMISSED || got.GetAlert().GetDismissedBy() != "api-key:"+a.keyIDs["warehouse"] ||
		got.GetAlert().GetDismissReason() != "fixed by hand" {
		t.Errorf("DismissAlert = %v", got)
	}
	_, err = a.alerts.DismissAlert(a.as("merchant"), &alertsv1.DismissAlertRequest{AccountId: a.account, AlertId: id})
	wantCode(t, "dismissing a dismissed alert", err, codes.FailedPrecondition, "")

	// A resolved alert cannot be dismissed either.
	ref2, id2 := a.raise("6002")
	if _, err := a.ingest.ReportSuccess(a.as("merchant"), &ingestv1.ReportSuccessRequest{Success: succeeded(ref2, "ok", time.Now().UTC())}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the resolution", func() bool {
		s, _ := a.alertOf(id2)
		return s.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_RESOLVED
	})
	_, err = a.alerts.DismissAlert(a.as("merchant"), &alertsv1.DismissAlertRequest{AccountId: a.account, AlertId: id2})
	wantCode(t, "dismissing a resolved alert", err, codes.FailedPrecondition, "")
}

func TestAlertService_errors(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	_, id := a.raise("7001")
	missing := alert.AlertID(a.account, "wms-1", connectorv1.RecordKind_RECORD_KIND_ORDER, "nope", "timeout")
	get := func(account, alertID string) *alertsv1.GetAlertRequest {
		return &alertsv1.GetAlertRequest{AccountId: account, Alert: &alertsv1.GetAlertRequest_AlertId{AlertId: alertID}}
	}
	tests := []struct {
		name  string
		key   string
		call  func(ctx context.Context) error
		code  codes.Code
		field string
	}{
		{"no key", "", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get(a.account, id)); return err }, codes.Unauthenticated, ""},
		{"bad key", "bad", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get(a.account, id)); return err }, codes.Unauthenticated, ""},
		{"another merchant, existing", "other", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get(a.account, id)); return err }, codes.PermissionDenied, ""},
		{"another merchant, missing", "other", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get(a.account, missing)); return err }, codes.PermissionDenied, ""},
		{"another merchant dismissing", "other", func(ctx context.Context) error {
			_, err := a.alerts.DismissAlert(ctx, &alertsv1.DismissAlertRequest{AccountId: a.account, AlertId: id})
			return err
		}, codes.PermissionDenied, ""},
		{"another merchant resending", "other", func(ctx context.Context) error {
			_, err := a.alerts.ResendRecord(ctx, &alertsv1.ResendRecordRequest{AccountId: a.account, AlertId: id})
			return err
		}, codes.PermissionDenied, ""},
		{"its warehouse", "warehouse", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get(a.account, id)); return err }, codes.OK, ""},
		{"another warehouse, existing", "otherwh", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get(a.account, id)); return err }, codes.PermissionDenied, ""},
		{"another warehouse, missing", "otherwh", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get(a.account, missing)); return err }, codes.PermissionDenied, ""},
		{"its warehouse, missing", "warehouse", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get(a.account, missing)); return err }, codes.PermissionDenied, ""},
		{"unknown alert", "merchant", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get(a.account, missing)); return err }, codes.NotFound, ""},
		{"unknown alert, admin", "admin", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get(a.account, missing)); return err }, codes.NotFound, ""},
		{"dismissing an unknown alert", "merchant", func(ctx context.Context) error {
			_, err := a.alerts.DismissAlert(ctx, &alertsv1.DismissAlertRequest{AccountId: a.account, AlertId: missing})
			return err
		}, codes.NotFound, ""},
		{"bad account", "merchant", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get("no spaces", id)); return err }, codes.InvalidArgument, "account_id"},
		{"no alert id", "merchant", func(ctx context.Context) error { _, err := a.alerts.GetAlert(ctx, get(a.account, "")); return err }, codes.InvalidArgument, "alert_id"},
		{"bad fingerprint", "merchant", func(ctx context.Context) error {
			_, err := a.alerts.GetAlert(ctx, &alertsv1.GetAlertRequest{AccountId: a.account, Alert: &alertsv1.GetAlertRequest_Fingerprint{
				Fingerprint: &alertsv1.AlertFingerprint{ConnectionId: "wms-1", RecordId: "7001", AlertType: "wms_unavailable"}}})
			return err
		}, codes.InvalidArgument, "fingerprint.record_kind"},
		{"history limit", "merchant", func(ctx context.Context) error {
			req := get(a.account, id)
			req.HistoryLimit = 5000
			_, err := a.alerts.GetAlert(ctx, req)
			return err
		}, codes.InvalidArgument, "history_limit"},
		{"long reason", "merchant", func(ctx context.Context) error {
			_, err := a.alerts.DismissAlert(ctx, &alertsv1.DismissAlertRequest{AccountId: a.account, AlertId: id, Reason: strings.Repeat("x", 2000)})
			return err
		}, codes.InvalidArgument, "reason"},
		{"resend without alert id", "merchant", func(ctx context.Context) error {
			_, err := a.alerts.ResendRecord(ctx, &alertsv1.ResendRecordRequest{AccountId: a.account})
			return err
		}, codes.InvalidArgument, "alert_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantCode(t, tt.name, tt.call(a.as(tt.key)), tt.code, tt.field)
		})
	}
}

func TestIngestService_validatesAndAuthorizes(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	ref := a.record("wms-1", "8001") // warehouse_id is the "warehouse" key's account
	foreign := proto.CloneOf(ref)
	foreign.AccountId, foreign.WarehouseId = unique("m"), ""
	fail := func(r *connectorv1.RecordRef) *ingestv1.ReportFailureRequest {
		return &ingestv1.ReportFailureRequest{Failure: unavailable(r, "a1", time.Now().UTC())}
	}
	invalid := fail(ref)
	invalid.Failure.Record.AccountKind = connectorv1.AccountKind_ACCOUNT_KIND_UNSPECIFIED
	tests := []struct {
		name  string
		key   string
		call  func(ctx context.Context) error
		code  codes.Code
		field string
	}{
		{"merchant", "merchant", func(ctx context.Context) error { _, err := a.ingest.ReportFailure(ctx, fail(ref)); return err }, codes.OK, ""},
		{"its warehouse", "warehouse", func(ctx context.Context) error { _, err := a.ingest.ReportFailure(ctx, fail(ref)); return err }, codes.OK, ""},
		{"admin", "admin", func(ctx context.Context) error { _, err := a.ingest.ReportFailure(ctx, fail(foreign)); return err }, codes.OK, ""},
		{"no key", "", func(ctx context.Context) error { _, err := a.ingest.ReportFailure(ctx, fail(ref)); return err }, codes.Unauthenticated, ""},
		{"another merchant", "other", func(ctx context.Context) error { _, err := a.ingest.ReportFailure(ctx, fail(ref)); return err }, codes.PermissionDenied, ""},
		{"another warehouse", "otherwh", func(ctx context.Context) error { _, err := a.ingest.ReportFailure(ctx, fail(ref)); return err }, codes.PermissionDenied, ""},
		{"merchant for another account", "merchant", func(ctx context.Context) error { _, err := a.ingest.ReportFailure(ctx, fail(foreign)); return err }, codes.PermissionDenied, ""},
		{"missing report", "merchant", func(ctx context.Context) error {
			_, err := a.ingest.ReportFailure(ctx, &ingestv1.ReportFailureRequest{})
			return err
		}, codes.InvalidArgument, "failure"},
		{"invalid report", "merchant", func(ctx context.Context) error { _, err := a.ingest.ReportFailure(ctx, invalid); return err }, codes.InvalidArgument, "failure.record.account_kind"},
		{"success", "merchant", func(ctx context.Context) error {
			_, err := a.ingest.ReportSuccess(ctx, &ingestv1.ReportSuccessRequest{Success: succeeded(a.record("wms-1", "8002"), "ok", time.Now().UTC())})
			return err
		}, codes.OK, ""},
		{"invalid success", "merchant", func(ctx context.Context) error {
			_, err := a.ingest.ReportSuccess(ctx, &ingestv1.ReportSuccessRequest{Success: &connectorv1.RecordSucceeded{Record: ref}})
			return err
		}, codes.InvalidArgument, "success.attempt_id"},
		{"update by another merchant", "other", func(ctx context.Context) error {
			_, err := a.ingest.ReportRecordUpdated(ctx, &ingestv1.ReportRecordUpdatedRequest{Update: &connectorv1.RecordUpdated{
				Record: ref, Change: connectorv1.RecordChange_RECORD_CHANGE_EDITED, UpdatedAt: unavailable(ref, "x", time.Now()).GetFailedAt()}})
			return err
		}, codes.PermissionDenied, ""},
		{"sync cycle", "warehouse", func(ctx context.Context) error {
			_, err := a.ingest.ReportSyncCycle(ctx, &ingestv1.ReportSyncCycleRequest{Cycle: &connectorv1.SyncCycleStarted{
				AccountId: a.account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: "wh-" + a.account,
				ConnectionId: "cart-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "shopify", CycleId: "c1",
				StartedAt: unavailable(ref, "x", time.Now()).GetFailedAt()}})
			return err
		}, codes.OK, ""},
		{"invalid sync cycle", "merchant", func(ctx context.Context) error {
			_, err := a.ingest.ReportSyncCycle(ctx, &ingestv1.ReportSyncCycleRequest{Cycle: &connectorv1.SyncCycleStarted{AccountId: a.account}})
			return err
		}, codes.InvalidArgument, "cycle.connection_id"},
	}
	t.Run("calls", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				wantCode(t, tt.name, tt.call(a.as(tt.key)), tt.code, tt.field)
			})
		}
	})
	// The accepted failure went through the bus into an alert.
	eventually(t, 20*time.Second, "the reported failure's alert", func() bool {
		s, _ := a.alertOf(alert.IDOf(ref, "wms_unavailable"))
		return s != nil
	})
}
