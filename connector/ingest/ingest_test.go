package ingest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/memstore"
)

func ref() *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: "m1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: "w1",
		ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: "#1001", OrderNumber: "#1001",
	}
}

func TestIngester_storesOnceAndValidates(t *testing.T) {
	store := memstore.New(ingest.Registry())
	in, err := ingest.New(store)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := &connectorv1.RecordFailed{Record: ref(), AttemptId: "a1", Message: "down", HttpStatus: 503, FailedAt: timestamppb.Now()}
	first, err := in.Failure(ctx, f, events.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Subject != "evt.record.m1."+connector.RecordKeyOf(ref())+".RecordFailed" {
		t.Fatalf("stored on %s", first.Subject)
	}
	// The same attempt reported again (a retried call, or both paths) is stored once.
	again, err := in.Failure(ctx, f, events.Metadata{})
	if err != nil || again.EventID != first.EventID {
		t.Fatalf("repeat: %+v, %v; want event %s", again, err, first.EventID)
	}
	s := &connectorv1.RecordSucceeded{Record: ref(), AttemptId: "a2", SucceededAt: timestamppb.New(time.Now())}
	if _, err := in.Success(ctx, s, events.Metadata{}); err != nil {
		t.Fatal(err)
	}
	loaded, err := store.Load(ctx, connector.RecordStream(ref()), 0)
	if err != nil || len(loaded.Events) != 2 {
		t.Fatalf("record stream holds %d events (%v), want 2", len(loaded.Events), err)
	}
	// Another writer on the same stream does not break the cached state.
	if _, err := store.Append(ctx, connector.RecordStream(ref()), events.ExpectAny(),
		events.NewEvent(&connectorv1.RecordFailed{Record: ref(), AttemptId: "x", Message: "m", FailedAt: timestamppb.Now()}, events.Metadata{})); err != nil {
		t.Fatal(err)
	}
	f3 := &connectorv1.RecordFailed{Record: ref(), AttemptId: "a3", Message: "down", FailedAt: timestamppb.Now()}
	if _, err := in.Failure(ctx, f3, events.Metadata{}); err != nil {
		t.Fatalf("after another writer: %v", err)
	}

	bad := &connectorv1.RecordFailed{Record: ref(), Message: "no attempt", FailedAt: timestamppb.Now()}
	_, err = in.Failure(ctx, bad, events.Metadata{})
	var fe *connector.FieldError
	if !errors.As(err, &fe) || fe.Field != "attempt_id" {
		t.Fatalf("invalid report: err = %v, want a FieldError on attempt_id", err)
	}
	cycle := &connectorv1.SyncCycleStarted{AccountId: "m1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		ConnectionId: "cart-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "shopify", CycleId: "c1", StartedAt: timestamppb.Now()}
	st, err := in.SyncCycle(ctx, cycle, events.Metadata{})
	if err != nil || st.Subject != "evt.connection.m1.cart-1.SyncCycleStarted" {
		t.Fatalf("sync cycle: %+v, %v", st, err)
	}
}
