package service_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/projectiontest"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/server"
	alertsalert "github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/orders/domain/order"
	"github.com/reboundhq/rebound/services/orders/sandbox"
	"github.com/reboundhq/rebound/services/orders/sandbox/sandboxtest"
	"github.com/reboundhq/rebound/services/orders/service"
)

func TestMain(m *testing.M) { natstest.Main(m) }

// runner is a service the world hosts.
type runner interface {
	Handlers() []bus.Handler
	Register(*server.Server)
	Run(context.Context) error
}

// testPolicies are the retry service's policies in these tests: orders every 2 s (no jitter)
// for 60 s, on wms-short for 5 s; tracking and inventory on every sync cycle.
const testPolicies = `
kinds:
  order: {interval: 2s, jitter: 0, max_age: 60s}
connections:
  wms-short:
    kinds:
      order: {max_age: 5s}
`

// Connections every world configures: a cart connection linked to a WMS connection, and a second
// WMS connection whose orders are retried for 5 s only.
const (
	cartConn     = "shop-1"
	wmsConn      = "wms-1"
	shortWMSConn = "wms-short"
)

// world is one test's Rebound: an embedded NATS server of its own (the services' consumer names
// are fixed), the alerts, retry and orders services on one bus, a gRPC server with API keys, and
// the sandbox WMS and cart.
type world struct {
	t       *testing.T
	js      jetstream.JetStream
	store   *natsstore.Store
	in      *ingest.Ingester
	orders  *service.Service
	sb      *sandbox.Sandbox
	wmsAdm  *sandbox.AdminClient
	cartAdm *sandbox.AdminClient
	account string
	keys    map[string]string
	api     ordersv1.OrderServiceClient
	conns   connectionsv1.ConnectionServiceClient
	logs    *syncBuffer
	// keyStore holds the world's API keys; tests may issue more.
	keyStore *auth.MemStore
	// db is the read-model database the orders service reads, with options.readModels.
	db *projections.DB
}

type options struct {
	orders      service.Config
	wmsTimeout  time.Duration
	noRetrySvcs bool // run the orders service alone
	readModels  bool // give the orders service a read-model database (world.db)
}

var seq atomic.Int64

func unique(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, seq.Add(1), time.Now().UnixNano()%1e6)
}

// registry knows every type the three services read or write.
func registry() *events.Registry {
	reg := service.Registry()
	reg.Register(peerTypes()...)
	return reg
}

func newWorld(t *testing.T, o options) *world {
	t.Helper()
	srv := natstest.Start(t, "")
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	reg := registry()
	store, err := natsstore.New(t.Context(), js, reg, natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(store)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	w := &world{t: t, js: js, store: store, in: in, account: unique("m"), logs: logs, keys: map[string]string{}}

	b, err := bus.New(js, reg, log, bus.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var svcs []runner
	if o.orders.SyncTick == 0 {
		o.orders.ManualSync = true // cycles run when a test says so, unless it sets a tick
	}
	deps := service.Deps{Store: store, JS: js, Ingester: in, Log: log}
	if o.readModels {
		w.db = projectiontest.NewSQLite(t).Open(t)
		deps.ReadModels = w.db
	}
	w.orders, err = service.New(deps, o.orders)
	if err != nil {
		t.Fatal(err)
	}
	svcs = append(svcs, w.orders)
	if !o.noRetrySvcs {
		svcs = append(svcs, peers(t, store, js, in, log)...)
	}

	keys := auth.NewMemStore()
	w.keyStore = keys
	for name, k := range map[string]struct {
		scope   auth.Scope
		account string
	}{
		"admin":    {auth.ScopeAdmin, ""},
		"merchant": {auth.ScopeMerchant, w.account},
		"other":    {auth.ScopeMerchant, unique("m")},
	} {
		plain, _, err := auth.IssueKey(t.Context(), keys, k.scope, k.account, name)
		if err != nil {
			t.Fatal(err)
		}
		w.keys[name] = plain
	}
	rpc, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second}, keys, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs {
		for _, h := range s.Handlers() {
			if err := b.Handle(h); err != nil {
				t.Fatal(err)
			}
		}
		s.Register(rpc)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, len(svcs)+2)
	go func() { done <- b.Run(ctx) }()
	go func() { done <- rpc.Run(ctx) }()
	for _, s := range svcs {
		go func() { done <- s.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		for range len(svcs) + 2 {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("stopping: %v", err)
				}
			case <-time.After(45 * time.Second):
				t.Error("a component did not stop within 45s")
				return
			}
		}
	})
	select {
	case <-b.Running():
	case err := <-done:
		t.Fatalf("the bus did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the bus did not start within 30s")
	}

	addr, _ := rpc.Addrs()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	w.api, w.conns = ordersv1.NewOrderServiceClient(conn), connectionsv1.NewConnectionServiceClient(conn)

	w.sb = sandboxtest.Start(t, sandbox.Config{})
	w.wmsAdm, w.cartAdm = sandbox.NewAdminClient(w.sb.WMSURL(), nil), sandbox.NewAdminClient(w.sb.CartURL(), nil)
	timeout := o.wmsTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	w.configure(&connectionsv1.ConnectionSettings{
		ConnectionId: cartConn, AccountId: w.account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "sandbox-cart", BaseUrl: w.sb.CartBaseURL(cartConn),
		Timeout: durationpb.New(5 * time.Second), SyncInterval: durationpb.New(time.Hour), WmsConnectionId: wmsConn,
	})
	for _, id := range []string{wmsConn, shortWMSConn} {
		w.configure(&connectionsv1.ConnectionSettings{
			ConnectionId: id, AccountId: w.account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
			SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms", BaseUrl: w.sb.WMSBaseURL(id),
			Timeout: durationpb.New(timeout),
		})
	}
	return w
}

// as returns a context that calls with the named key ("" for none).
func (w *world) as(key string) context.Context {
	ctx, cancel := context.WithTimeout(w.t.Context(), 20*time.Second)
	w.t.Cleanup(cancel)
	if key == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+w.keys[key])
}

func (w *world) configure(s *connectionsv1.ConnectionSettings) {
	w.t.Helper()
	if _, err := w.conns.UpsertConnection(w.as("merchant"), &connectionsv1.UpsertConnectionRequest{
		Settings: s, Credentials: &connectionsv1.Credentials{Token: "secret-" + s.GetConnectionId()},
	}); err != nil {
		w.t.Fatalf("UpsertConnection %s: %v", s.GetConnectionId(), err)
	}
}

func address() *ordersv1.Address {
	return &ordersv1.Address{Name: "Ada Lovelace", Address1: "12 Analytical Row", City: "London", PostalCode: "N1 9GU", CountryCode: "GB"}
}

// submission is a valid order for the world's cart connection.
func (w *world) submission(number, code string) *ordersv1.SubmitOrderRequest {
	return &ordersv1.SubmitOrderRequest{
		AccountId: w.account, CartConnectionId: cartConn, OrderNumber: number, Currency: "GBP", ShipTo: address(),
		ShipMethodCode: code, Lines: []*ordersv1.OrderLine{{Sku: "SKU-1", Name: "Difference engine", Quantity: 1, UnitPrice: "12.50"}},
	}
}

func (w *world) submit(req *ordersv1.SubmitOrderRequest) *ordersv1.SubmitOrderResponse {
	w.t.Helper()
	resp, err := w.api.SubmitOrder(w.as("merchant"), req)
	if err != nil {
		w.t.Fatalf("SubmitOrder %s: %v", req.GetOrderNumber(), err)
	}
	return resp
}

func (w *world) mapCode(code, method string) {
	w.t.Helper()
	if _, err := w.api.SetShipMethodMapping(w.as("merchant"), &ordersv1.SetShipMethodMappingRequest{
		AccountId: w.account, CartConnectionId: cartConn, ShipMethodCode: code, WmsShipMethod: method,
	}); err != nil {
		w.t.Fatalf("SetShipMethodMapping: %v", err)
	}
}

// order returns the order's state as stored and its history.
func (w *world) order(id string) (*ordersv1.Order, []events.Record) {
	w.t.Helper()
	stream := order.Stream(w.account, id)
	loaded, err := w.store.Load(w.t.Context(), stream, 0)
	if err != nil {
		return nil, nil
	}
	o := order.New(stream)
	for _, r := range loaded.Events {
		if err := o.Apply(r); err != nil {
			w.t.Fatalf("folding order %s: %v", id, err)
		}
	}
	return o.Snapshot(), loaded.Events
}

func (w *world) waitStatus(id string, want ordersv1.OrderStatus, timeout time.Duration) *ordersv1.Order {
	w.t.Helper()
	var got *ordersv1.Order
	eventually(w.t, timeout, "order "+id+" "+order.StatusWord(want), func() bool {
		got, _ = w.order(id)
		return got.GetStatus() == want
	})
	return got
}

// alertsOf returns the alerts of a record (by record id and kind), folded from the store.
func (w *world) alertsOf(recordID string, kind connectorv1.RecordKind) []*alertsv1.Alert {
	w.t.Helper()
	byID := map[string]*alertsalert.Alert{}
	var order []string
	err := w.store.Read(w.t.Context(), events.ReadOptions{Filters: []string{"evt.alert." + w.account + ".>"}}, func(_ context.Context, r events.Record) error {
		id := r.Stream().ID
		a, ok := byID[id]
		if !ok {
			var err error
			if a, err = alertsalert.New(r.Stream(), alertsalert.DefaultConfig()); err != nil {
				return err
			}
			byID[id] = a
			order = append(order, id)
		}
		return a.Apply(r)
	})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []*alertsv1.Alert
	for _, id := range order {
		s := byID[id].Snapshot()
		if s.GetRecord().GetRecordId() == recordID && s.GetRecord().GetRecordKind() == kind {
			out = append(out, s)
		}
	}
	return out
}

// waitAlert waits until the record has an alert for which cond holds, and returns it.
func (w *world) waitAlert(recordID string, kind connectorv1.RecordKind, what string, cond func(*alertsv1.Alert) bool) *alertsv1.Alert {
	w.t.Helper()
	var found *alertsv1.Alert
	eventually(w.t, 30*time.Second, "alert of "+recordID+": "+what, func() bool {
		for _, a := range w.alertsOf(recordID, kind) {
			if cond(a) {
				found = a
				return true
			}
		}
		return false
	})
	return found
}

// recordEvents returns the short types of the events on a record's retry schedule.
func (w *world) retryEvents(ref *connectorv1.RecordRef) []string {
	w.t.Helper()
	loaded, err := w.store.Load(w.t.Context(), events.StreamID{AggregateType: "retry", Account: ref.GetAccountId(), ID: connector.RecordKeyOf(ref)}, 0)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range loaded.Events {
		out = append(out, events.ShortType(r.EventType))
	}
	return out
}

func orderRef(o *ordersv1.Order) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: o.GetAccountId(), AccountKind: o.GetAccountKind(), ConnectionId: o.GetWms().GetConnectionId(),
		SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: o.GetWms().GetSystem(),
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: o.GetOrderId(),
	}
}

func count(types []string, short string) int {
	n := 0
	for _, t := range types {
		if t == short {
			n++
		}
	}
	return n
}

func countRecords(hist []events.Record, short string) int {
	n := 0
	for _, r := range hist {
		if events.ShortType(r.EventType) == short {
			n++
		}
	}
	return n
}

func messagesOf[T proto.Message](hist []events.Record) []T {
	var out []T
	for _, r := range hist {
		if m, ok := r.Message.(T); ok {
			out = append(out, m)
		}
	}
	return out
}

// setWMS sets the failure mode of a WMS connection of the sandbox.
func (w *world) setWMS(conn string, f sandbox.Failure) {
	w.t.Helper()
	if _, err := w.wmsAdm.SetFailure(w.t.Context(), conn, f); err != nil {
		w.t.Fatal(err)
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuffer) Contains(s string) bool { return strings.Contains(b.String(), s) }
