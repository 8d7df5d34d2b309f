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

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/service"
)

func TestMain(m *testing.M) { natstest.Main(m) }

// env is one test's world: an embedded NATS server of its own (the service's consumer and
// timer names are fixed, so tests sharing a server would share them), the event store, the
// ingester and an account no other test uses.
type env struct {
	t       testing.TB
	srv     *natstest.Server
	js      jetstream.JetStream
	store   *natsstore.Store
	in      *ingest.Ingester
	account string
	logs    *syncBuffer
	log     *slog.Logger
	// readModels, when set, is the read-model database services built by start read.
	readModels *projections.DB
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := natstest.Start(t, "")
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	store, err := natsstore.New(t.Context(), js, service.Registry(), natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.EnsurePoisonStream(t.Context(), js); err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(store)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	e := &env{t: t, srv: srv, js: js, store: store, in: in, account: unique("m"), logs: logs,
		log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	return e
}

// running is a started service: its bus and its timers.
type running struct {
	svc    *service.Service
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	t      testing.TB
}

// start builds a service with cfg and runs its handlers on a bus of their own and its timers,
// until stop (or the end of the test).
func (e *env) start(cfg service.Config) *running {
	e.t.Helper()
	svc, err := service.New(service.Deps{Store: e.store, JS: e.js, Ingester: e.in, Log: e.log, ReadModels: e.readModels}, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := bus.New(e.js, service.Registry(), e.log, bus.Config{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range svc.Handlers() {
		if err := b.Handle(h); err != nil {
			e.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{svc: svc, cancel: cancel, done: make(chan error, 2), t: e.t}
	go func() { r.done <- b.Run(ctx) }()
	go func() { r.done <- svc.Run(ctx) }()
	select {
	case <-b.Running():
	case err := <-r.done:
		cancel()
		e.t.Fatalf("the bus did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		e.t.Fatal("the bus did not start within 30s")
	}
	e.t.Cleanup(r.stop)
	return r
}

// stop stops the bus and the timers and waits for both.
func (r *running) stop() {
	r.once.Do(func() {
		r.cancel()
		for range 2 {
			select {
			case err := <-r.done:
				if err != nil {
					r.t.Errorf("stopping the service: %v", err)
				}
			case <-time.After(40 * time.Second):
				r.t.Error("the service did not stop within 40s")
				return
			}
		}
	})
}

var seq atomic.Int64

// unique returns an id no other test uses, valid as an account.
func unique(prefix string) string {
	return fmt.Sprintf("%s%d-%s", prefix, seq.Add(1), strings.ReplaceAll(uuid.NewString(), "-", "")[:12])
}

// record returns the reference of an order of the env's account on connection conn.
func (e *env) record(conn, id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: e.account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: "wh-" + e.account,
		ConnectionId: conn, SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id, OrderNumber: "#" + id,
	}
}

func unavailable(ref *connectorv1.RecordRef, attempt string, at time.Time) *connectorv1.RecordFailed {
	return &connectorv1.RecordFailed{Record: proto.CloneOf(ref), AttemptId: attempt, HttpStatus: 503,
		Message: "Service Unavailable", FailedAt: timestamppb.New(at)}
}

func shipMethod(ref *connectorv1.RecordRef, attempt string, at time.Time) *connectorv1.RecordFailed {
	return &connectorv1.RecordFailed{Record: proto.CloneOf(ref), AttemptId: attempt, HttpStatus: 422,
		Code: "SHIP_METHOD_NOT_MAPPED", Message: "Ship method 'UPS Ground Saver' is not mapped", FailedAt: timestamppb.New(at)}
}

func succeeded(ref *connectorv1.RecordRef, attempt string, at time.Time) *connectorv1.RecordSucceeded {
	return &connectorv1.RecordSucceeded{Record: proto.CloneOf(ref), AttemptId: attempt, SucceededAt: timestamppb.New(at)}
}

// report stores a connector report through the ingester, as connectors do.
func (e *env) report(msg proto.Message) {
	e.t.Helper()
	if _, err := e.in.Report(e.t.Context(), msg, events.Metadata{}); err != nil {
		e.t.Fatalf("reporting %T: %v", msg, err)
	}
}

// alertOf returns the alert's state (nil when it has no events) and its history.
func (e *env) alertOf(id string) (*alertsv1.Alert, []events.Record) {
	e.t.Helper()
	stream := alert.Stream(e.account, id)
	loaded, err := e.store.Load(e.t.Context(), stream, 0)
	if err != nil {
		return nil, nil
	}
	a, err := alert.New(stream, alert.DefaultConfig())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range loaded.Events {
		if err := a.Apply(r); err != nil {
			e.t.Fatalf("folding alert %s: %v", id, err)
		}
	}
	return a.Snapshot(), loaded.Events
}

// count returns how many events of the history have the short type.
func count(hist []events.Record, short string) int {
	n := 0
	for _, r := range hist {
		if events.ShortType(r.EventType) == short {
			n++
		}
	}
	return n
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
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// settled waits until the handler's consumer has nothing pending or unacknowledged.
func (e *env) settled(handler string) {
	e.t.Helper()
	eventually(e.t, 30*time.Second, handler+" to settle", func() bool {
		c, err := e.js.Consumer(e.t.Context(), "EVENTS", handler)
		if err != nil {
			return false
		}
		info, err := c.Info(e.t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
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
