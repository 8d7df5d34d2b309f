package main

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

var uniqueN atomic.Int64

// unique returns an id no other test of this run uses.
func unique(prefix string) string {
	return prefix + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + strconv.FormatInt(uniqueN.Add(1), 36)
}

// alertFixture stores real alert events: commands of the alert domain, through an
// aggregate.Repository over the JetStream event store, as the alerts service does.
type alertFixture struct {
	t     *testing.T
	store *natsstore.Store
	repo  *aggregate.Repository[*alert.Alert]
}

func newAlertFixture(t *testing.T, url string) *alertFixture {
	t.Helper()
	js, err := jetstream.New(natstest.Connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	store, err := natsstore.New(context.Background(), js, allTypes(), natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	factory, err := alert.NewFactory(alert.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	repo, err := aggregate.NewRepository(store, factory, aggregate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &alertFixture{t: t, store: store, repo: repo}
}

// orderRef is an order of account (a merchant of warehouse, when set) sent to the wms-1 WMS.
func orderRef(account, warehouse, id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: warehouse,
		ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id, OrderNumber: "#" + id,
	}
}

// inventoryRef is a stock level of SKU sku sent to account's cart-1.
func inventoryRef(account, warehouse, sku string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: warehouse,
		ConnectionId: "cart-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "shopify",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_INVENTORY, RecordId: "inv-" + sku, Sku: sku,
	}
}

// fail records a failure of ref (classified with the default rules) observed at at, and returns
// the alert's stream.
func (f *alertFixture) fail(ref *connectorv1.RecordRef, attempt string, status int32, code, msg string, at time.Time) events.StreamID {
	f.t.Helper()
	r := &connectorv1.RecordFailed{
		Record: proto.CloneOf(ref), AttemptId: attempt, HttpStatus: status, Code: code, Message: msg,
		AttemptedAt: timestamppb.New(at.Add(-time.Second)), FailedAt: timestamppb.New(at),
	}
	result := classify.Default().Classify(r)
	stream := alert.Stream(ref.GetAccountId(), alert.IDOf(ref, result.AlertType))
	if err := f.repo.Update(context.Background(), stream, events.Metadata{CorrelationID: "corr-" + attempt}, func(a *alert.Alert) error {
		_, err := a.RecordFailure(alert.Failure{Report: r, Result: result}, at)
		return err
	}); err != nil {
		f.t.Fatalf("recording failure %s: %v", attempt, err)
	}
	return stream
}

// resolve resolves the alert: its record went through at at.
func (f *alertFixture) resolve(stream events.StreamID, at time.Time) {
	f.t.Helper()
	if err := f.repo.Update(context.Background(), stream, events.Metadata{}, func(a *alert.Alert) error {
		return a.Resolve(alert.Resolution{Cause: alertsv1.ResolutionCause_RESOLUTION_CAUSE_RECORD_SUCCEEDED, At: at, AttemptID: "ok-1"}, at)
	}); err != nil {
		f.t.Fatalf("resolving %s: %v", stream, err)
	}
}

// history loads the alert's stored events.
func (f *alertFixture) history(stream events.StreamID) []events.Record {
	f.t.Helper()
	loaded, err := f.store.Load(context.Background(), stream, 0)
	if err != nil {
		f.t.Fatalf("loading %s: %v", stream, err)
	}
	return loaded.Events
}
