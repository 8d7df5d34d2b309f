package service_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/services/retry/app"
	"github.com/reboundhq/rebound/services/retry/domain"
	"github.com/reboundhq/rebound/services/retry/outbound"
	"github.com/reboundhq/rebound/services/retry/service"
)

func TestMain(m *testing.M) { natstest.Main(m) }

// testPolicies are short policies, so that the real timers run in seconds: orders every 2 s
// (no jitter) for 10 s; on connection wms-short for 3 s; sync-cycle records for 20 s.
const testPolicies = `
kinds:
  order: {interval: 2s, jitter: 0, max_age: 10s}
  tracking: {max_age: 20s}
connections:
  wms-short:
    kinds:
      order: {max_age: 3s}
`

// maxLate is how late after its due time a RetryDue may arrive (DESIGN.md: within a second).
const maxLate = time.Second

var seq atomic.Int64

// unique returns an id no other test uses.
func unique(prefix string) string {
	return prefix + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "-" + strconv.FormatInt(seq.Add(1), 10)
}

func testConfig(t *testing.T) service.Config {
	t.Helper()
	pc, err := service.ParsePolicies([]byte(testPolicies))
	if err != nil {
		t.Fatal(err)
	}
	return service.Config{Policies: &pc, Workers: 4, DrainRate: 4}
}

// env is a running retry service (bus handlers, timers, drainer) on a real embedded server.
type env struct {
	url    string
	js     jetstream.JetStream
	store  *natsstore.Store
	ingest *ingest.Ingester
	svc    *service.Service
	cfg    service.Config
	logs   *syncBuffer
	stop   func()
}

// start starts the service on the server at url; it stops when stop is called or the test ends.
func start(t *testing.T, url string, cfg service.Config) *env {
	t.Helper()
	return startReading(t, url, cfg, nil)
}

// startReading starts the service like start, with db as its read models (nil for none).
func startReading(t *testing.T, url string, cfg service.Config, db *projections.DB) *env {
	t.Helper()
	nc := natstest.Connect(t, url)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	store, err := natsstore.New(ctx, js, service.Registry(), natsstore.Config{})
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
			t.Logf("service logs:\n%s", logs.String())
		}
	})
	svc, err := service.New(service.Deps{Store: store, JS: js, Log: log, ReadModels: db}, cfg)
	if err != nil {
		t.Fatalf("service.New: %v", err)
	}
	b, err := bus.New(js, service.Registry(), log, bus.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range svc.Handlers() {
		if err := b.Handle(h); err != nil {
			t.Fatal(err)
		}
	}
	// The due stream exists before anything is published to it, so watchers can start.
	due, err := outbound.NewDuePublisher(js, cfg.Due)
	if err != nil {
		t.Fatal(err)
	}
	if err := due.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	busDone, svcDone := make(chan error, 1), make(chan error, 1)
	go func() { busDone <- b.Run(rctx) }()
	go func() { svcDone <- svc.Run(rctx) }()
	select {
	case <-b.Running():
	case err := <-busDone:
		t.Fatalf("bus.Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the bus did not start within 30s")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			for name, done := range map[string]chan error{"bus": busDone, "service": svcDone} {
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("%s.Run = %v", name, err)
					}
				case <-time.After(45 * time.Second):
					t.Errorf("%s.Run did not return within 45s of its context ending", name)
				}
			}
		})
	}
	t.Cleanup(stop)
	return &env{url: url, js: js, store: store, ingest: in, svc: svc, cfg: cfg, logs: logs, stop: stop}
}

// Records and reports.

func orderRef(account, id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id, OrderNumber: "#" + id,
	}
}

func trackingRef(account, conn, id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		ConnectionId: conn, SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "shopify",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_TRACKING, RecordId: id, OrderNumber: "#" + id,
	}
}

// failure is a 503 of ref observed now.
func failure(ref *connectorv1.RecordRef, attemptID string) *connectorv1.RecordFailed {
	now := time.Now()
	return &connectorv1.RecordFailed{
		Record: ref, AttemptId: attemptID, Message: "Service Unavailable", HttpStatus: 503,
		AttemptedAt: timestamppb.New(now.Add(-100 * time.Millisecond)), FailedAt: timestamppb.New(now),
	}
}

func (e *env) fail(t *testing.T, f *connectorv1.RecordFailed) {
	t.Helper()
	if _, err := e.ingest.Failure(t.Context(), f, events.Metadata{}); err != nil {
		t.Fatalf("reporting failure %s: %v", f.GetAttemptId(), err)
	}
}

func (e *env) succeed(t *testing.T, ref *connectorv1.RecordRef, attemptID string) {
	t.Helper()
	now := time.Now()
	m := &connectorv1.RecordSucceeded{Record: ref, AttemptId: attemptID, AttemptedAt: timestamppb.New(now.Add(-50 * time.Millisecond)), SucceededAt: timestamppb.New(now)}
	if _, err := e.ingest.Success(t.Context(), m, events.Metadata{}); err != nil {
		t.Fatalf("reporting success: %v", err)
	}
}

func (e *env) update(t *testing.T, ref *connectorv1.RecordRef, change connectorv1.RecordChange) {
	t.Helper()
	m := &connectorv1.RecordUpdated{Record: ref, Change: change, Actor: "ops@example.com", UpdatedAt: timestamppb.Now()}
	if _, err := e.ingest.Updated(t.Context(), m, events.Metadata{}); err != nil {
		t.Fatalf("reporting update: %v", err)
	}
}

func (e *env) cycle(t *testing.T, account, conn, cycleID string, interval time.Duration) {
	t.Helper()
	m := &connectorv1.SyncCycleStarted{
		AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, ConnectionId: conn,
		SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "shopify", CycleId: cycleID,
		SyncInterval: durationpb.New(interval), StartedAt: timestamppb.Now(),
	}
	if _, err := e.ingest.SyncCycle(t.Context(), m, events.Metadata{}); err != nil {
		t.Fatalf("reporting sync cycle: %v", err)
	}
}

// appendEvent stores msg on stream, as another service would.
func (e *env) appendEvent(t *testing.T, stream events.StreamID, msg proto.Message) events.Event {
	t.Helper()
	ev := events.NewEvent(msg, events.Metadata{})
	if _, err := e.store.Append(t.Context(), stream, events.ExpectAny(), ev); err != nil {
		t.Fatalf("appending %s to %s: %v", ev.EventType, stream, err)
	}
	return ev
}

// Schedules.

func allow(bool, *connectorv1.RecordRef) error { return nil }

// schedule returns the stored schedule of ref and its history; nil before its first event.
func (e *env) schedule(t *testing.T, ref *connectorv1.RecordRef) (*retryv1.RetrySchedule, []events.Record) {
	t.Helper()
	r, err := e.svc.Application().Queries.GetRetry.Handle(t.Context(), app.GetRetry{Schedule: domain.StreamOf(ref), Limit: 10000, Authorize: allow})
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		t.Fatalf("GetRetry: %v", err)
	}
	return r.Schedule.Snapshot(), r.History
}

// waitStatus polls until ref's schedule has status want and returns it.
func (e *env) waitStatus(t *testing.T, ref *connectorv1.RecordRef, want retryv1.RetryStatus) *retryv1.RetrySchedule {
	t.Helper()
	var s *retryv1.RetrySchedule
	eventually(t, 15*time.Second, fmt.Sprintf("%s to be %s", ref.GetRecordId(), want), func() bool {
		s, _ = e.schedule(t, ref)
		return s.GetStatus() == want
	})
	return s
}

// typesOf returns the short types of the events.
func typesOf(history []events.Record) []string {
	out := make([]string, len(history))
	for i, r := range history {
		out[i] = events.ShortType(r.EventType)
	}
	return out
}

func countType(history []events.Record, short string) int {
	n := 0
	for _, r := range history {
		if events.ShortType(r.EventType) == short {
			n++
		}
	}
	return n
}

// The RetryDue commands.

// dueMsg is one RetryDue as an owner received it.
type dueMsg struct {
	due     *retryv1.RetryDue
	subject string
	msgID   string
	at      time.Time
}

// dueWatcher collects the RetryDue commands of one account from the due stream.
type dueWatcher struct {
	mu  sync.Mutex
	got []dueMsg
}

// watchDue reads the due stream from its start with an ordered consumer and keeps the commands
// of account.
func watchDue(t *testing.T, js jetstream.JetStream, account string) *dueWatcher {
	t.Helper()
	cons, err := js.OrderedConsumer(t.Context(), outbound.DefaultDueStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{domain.DueSubjectPrefix + ".>"},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &dueWatcher{}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		at := time.Now()
		if m.Headers().Get(outbound.HeaderAccountID) != account {
			return
		}
		var d retryv1.RetryDue
		if err := proto.Unmarshal(m.Data(), &d); err != nil {
			t.Errorf("undecodable RetryDue on %s: %v", m.Subject(), err)
			return
		}
		w.mu.Lock()
		w.got = append(w.got, dueMsg{due: &d, subject: m.Subject(), msgID: m.Headers().Get("Nats-Msg-Id"), at: at})
		w.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return w
}

// of returns the commands for ref's schedule, in arrival order.
func (w *dueWatcher) of(ref *connectorv1.RecordRef) []dueMsg {
	key := connector.RecordKeyOf(ref)
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []dueMsg
	for _, d := range w.got {
		if d.due.GetScheduleId() == key {
			out = append(out, d)
		}
	}
	return out
}

// attempt returns the commands of one attempt id.
func (w *dueWatcher) attempt(id string) []dueMsg {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []dueMsg
	for _, d := range w.got {
		if d.due.GetAttemptId() == id {
			out = append(out, d)
		}
	}
	return out
}

func (w *dueWatcher) ids() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, len(w.got))
	for i, d := range w.got {
		out[i] = d.due.GetAttemptId()
	}
	return out
}

// waitAttempt waits for the command of attempt id and returns it.
func (w *dueWatcher) waitAttempt(t *testing.T, id string, timeout time.Duration) dueMsg {
	t.Helper()
	eventually(t, timeout, "RetryDue "+id, func() bool { return len(w.attempt(id)) > 0 })
	return w.attempt(id)[0]
}

// checkOnTime checks that d arrived once, not before due and at most maxLate after it.
func checkOnTime(t *testing.T, w *dueWatcher, d dueMsg, due time.Time) {
	t.Helper()
	if n := len(w.attempt(d.due.GetAttemptId())); n != 1 {
		t.Errorf("RetryDue %s arrived %d times; want once", d.due.GetAttemptId(), n)
	}
	if d.at.Before(due) {
		t.Errorf("RetryDue %s arrived at %s, before its due time %s", d.due.GetAttemptId(), d.at.Format(time.RFC3339Nano), due.Format(time.RFC3339Nano))
	}
	if late := d.at.Sub(due); late > maxLate {
		t.Errorf("RetryDue %s arrived %s after its due time; want at most %s", d.due.GetAttemptId(), late, maxLate)
	}
	lateness.add(d.at.Sub(due))
}

// lateness collects how late every checked RetryDue arrived, for the log.
var lateness = &lateStats{}

type lateStats struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *lateStats) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.d = append(l.d, d)
}

func (l *lateStats) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return "none"
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return fmt.Sprintf("%d commands, p50 %s, max %s", len(s), s[len(s)/2], s[len(s)-1])
}

// Polling.

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitPast blocks until the wall clock is past at: tests about due times must let some pass.
func waitPast(t *testing.T, at time.Time) {
	t.Helper()
	eventually(t, time.Until(at)+5*time.Second, "the clock to pass "+at.Format(time.RFC3339Nano), func() bool {
		return time.Now().After(at)
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
