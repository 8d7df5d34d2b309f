package orders_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/orders"
	"github.com/reboundhq/rebound/projections/projectiontest"
)

// TestGolden_historiesMatchTheAggregate replays the Order aggregate's recorded histories
// (interleaved in one store) and compares each order with the state the aggregate rebuilds
// (testdata/aggregates/order_*.json).
func TestGolden_historiesMatchTheAggregate(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		store := memstore.New(projectiontest.Registry())
		projectiontest.Append(t, store, projectiontest.ReadHistory(t, filepath.Join("..", "testdata", "orders.history.jsonl"), projectiontest.Registry()))
		db := d.Open(t)
		projectiontest.Project(t, db, store, orders.New())
		r := orders.NewReader(db)
		files, _ := filepath.Glob(filepath.Join("..", "testdata", "aggregates", "order_*.json"))
		if len(files) < 4 {
			t.Fatalf("found %d expected orders", len(files))
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := &ordersv1.Order{}
			if err := protojson.Unmarshal(data, want); err != nil {
				t.Fatal(err)
			}
			got, err := r.Get(context.Background(), want.GetOrderId())
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			projectiontest.EqualProto(t, f, got)
		}
	})
}

var statuses = []ordersv1.OrderStatus{
	ordersv1.OrderStatus_ORDER_STATUS_NEW, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, ordersv1.OrderStatus_ORDER_STATUS_ERROR,
	ordersv1.OrderStatus_ORDER_STATUS_SKIPPED, ordersv1.OrderStatus_ORDER_STATUS_CANCELED, ordersv1.OrderStatus_ORDER_STATUS_SHIPPED,
	ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED,
}

// history makes orders of several accounts walk through their statuses.
func history(t testing.TB, store events.Store, n int) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(7, 8))
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	accounts := []struct{ id, warehouse string }{{"m-1", "wh-1"}, {"m-2", "wh-1"}, {"m-3", ""}, {"wh-1", ""}}
	for i := range n {
		a := accounts[i%len(accounts)]
		id := fmt.Sprintf("ord_%04d", i)
		stream := events.StreamID{AggregateType: "order", Account: a.id, ID: id}
		rec := &connectorv1.RecordRef{AccountId: a.id, WarehouseId: a.warehouse, ConnectionId: a.id + "-wms", RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id}
		ts := func() *timestamppb.Timestamp {
			now = now.Add(time.Duration(1+rnd.IntN(60)) * time.Second)
			return timestamppb.New(now)
		}
		msgs := []proto.Message{&ordersv1.OrderReceived{OrderId: id, AccountId: a.id, WarehouseId: a.warehouse,
			Cart: &ordersv1.Connection{ConnectionId: a.id + "-cart", System: "shopify"}, Wms: &ordersv1.Connection{ConnectionId: a.id + "-wms", System: "sandbox-wms"},
			OrderNumber: fmt.Sprintf("#%d", 1000+i%300), ReceivedAt: ts()}}
		switch target := statuses[rnd.IntN(len(statuses))]; target {
		case ordersv1.OrderStatus_ORDER_STATUS_AT_WMS, ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED:
			msgs = append(msgs, &ordersv1.OrderDeliveryAttempted{Record: rec, AttemptId: id + "-d1", Attempt: 1, AttemptedAt: ts()},
				&ordersv1.OrderAcceptedByWMS{Record: rec, AttemptId: id + "-d1", WmsOrderId: "W" + id, AcceptedAt: ts()})
			if target != ordersv1.OrderStatus_ORDER_STATUS_AT_WMS {
				msgs = append(msgs, &ordersv1.OrderShipped{Record: rec, Tracking: &ordersv1.Tracking{Carrier: "UPS", TrackingNumber: "1Z" + id}, RecordedAt: ts()})
			}
			if target == ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
				msgs = append(msgs, &ordersv1.OrderConfirmed{AttemptId: id + "-t1", ConfirmedAt: ts()})
			}
		case ordersv1.OrderStatus_ORDER_STATUS_ERROR:
			msgs = append(msgs, &ordersv1.OrderHeld{Record: rec, AttemptId: id + "-d1", Reason: "address_invalid", HeldAt: ts()})
		case ordersv1.OrderStatus_ORDER_STATUS_SKIPPED:
			msgs = append(msgs, &ordersv1.OrderSkipped{Record: rec, Reason: ordersv1.SkipReason_SKIP_REASON_MAX_AGE, SkippedAt: ts()})
		case ordersv1.OrderStatus_ORDER_STATUS_CANCELED:
			msgs = append(msgs, &ordersv1.OrderSendingCanceled{Record: rec, Actor: "ops@example.com", CanceledAt: ts()})
		}
		for j, m := range msgs {
			ev := events.NewEvent(m, events.Metadata{})
			ev.EventID = events.DeterministicEventID("orders-test", id, fmt.Sprint(j))
			if _, err := store.Append(context.Background(), stream, events.ExpectAny(), ev); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestReader_listsBySelection compares every selection, paged, with the stored orders filtered
// and sorted in Go.
func TestReader_listsBySelection(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		store := memstore.New(projectiontest.Registry())
		history(t, store, 600)
		db := d.Open(t)
		projectiontest.Project(t, db, store, orders.New())
		r := orders.NewReader(db)
		all := pageAll(t, r, projections.AllAccounts(), orders.Filter{})
		if len(all) != 600 {
			t.Fatalf("%d orders listed, want 600", len(all))
		}
		in := func(sel orders.Selection, s ordersv1.OrderStatus) bool {
			switch sel {
			case orders.SelectAny:
				return true
			case orders.SelectNewOrAtWMS:
				return s == ordersv1.OrderStatus_ORDER_STATUS_NEW || s == ordersv1.OrderStatus_ORDER_STATUS_AT_WMS
			case orders.SelectShippedOrConfirmed:
				return s == ordersv1.OrderStatus_ORDER_STATUS_SHIPPED || s == ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED
			}
			return strings.ToLower(strings.TrimPrefix(s.String(), "ORDER_STATUS_")) == string(sel)
		}
		sels := []orders.Selection{orders.SelectAny, orders.SelectNew, orders.SelectAtWMS, orders.SelectError, orders.SelectSkipped,
			orders.SelectCanceled, orders.SelectShipped, orders.SelectConfirmed, orders.SelectNewOrAtWMS, orders.SelectShippedOrConfirmed}
		accesses := []projections.Access{projections.AllAccounts(), {Warehouse: "wh-1"}, {Account: "m-3"}}
		for _, sel := range sels {
			for _, acc := range accesses {
				for _, f := range []orders.Filter{{Status: sel}, {Status: sel, OrderNumber: "#1007"}, {Status: sel, Connection: "m-1-cart"}} {
					var want []*ordersv1.Order
					for _, o := range all {
						if in(sel, o.GetStatus()) && (acc.Account == "" || o.GetAccountId() == acc.Account) &&
							(acc.Warehouse == "" || projections.ScopeOf(o.GetAccountId(), o.GetWarehouseId()) == acc.Warehouse) &&
							(f.OrderNumber == "" || o.GetOrderNumber() == f.OrderNumber) &&
							(f.Connection == "" || o.GetCart().GetConnectionId() == f.Connection || o.GetWms().GetConnectionId() == f.Connection) {
							want = append(want, o)
						}
					}
					got := pageAll(t, r, acc, f)
					if len(got) != len(want) {
						t.Errorf("%s %+v %+v: %d orders, want %d", sel, acc, f, len(got), len(want))
						continue
					}
					for i := range got {
						if !proto.Equal(got[i], want[i]) {
							t.Errorf("%s %+v: order %d is %s, want %s", sel, acc, i, got[i].GetOrderId(), want[i].GetOrderId())
							break
						}
					}
				}
			}
		}
		if !slices.IsSortedFunc(all, func(x, y *ordersv1.Order) int {
			return -cmp.Or(x.GetReceivedAt().AsTime().Compare(y.GetReceivedAt().AsTime()), strings.Compare(x.GetOrderId(), y.GetOrderId()))
		}) {
			t.Error("orders are not newest first")
		}
		if _, _, err := r.List(context.Background(), projections.AllAccounts(), orders.Filter{Status: "lost"}, projections.Page{}); err == nil {
			t.Error("an unknown selection was accepted")
		}
	})
}

func pageAll(t testing.TB, r *orders.Reader, acc projections.Access, f orders.Filter) []*ordersv1.Order {
	t.Helper()
	var out []*ordersv1.Order
	cursor := ""
	for {
		page, next, err := r.List(context.Background(), acc, f, projections.Page{Size: 13, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}
