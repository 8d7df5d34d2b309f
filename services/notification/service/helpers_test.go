package service_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/services/notification/app"
	"github.com/reboundhq/rebound/services/notification/devmail"
	"github.com/reboundhq/rebound/services/notification/domain/contact"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
	"github.com/reboundhq/rebound/services/notification/inbound/consumers"
	"github.com/reboundhq/rebound/services/notification/service"
)

func TestMain(m *testing.M) { natstest.Main(m) }

var seq atomic.Int64

// unique returns an id no other test uses, valid as an account.
func unique(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, seq.Add(1), time.Now().UnixNano()%1e9)
}

var secret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// env is one test's world: an embedded NATS server of its own (the handler and timer names are
// fixed), the event store, an SMTP server (devmail, with STARTTLS and AUTH PLAIN, over TCP), a
// fake clock and fake wake timers, the link pages on an HTTP test server, and a fake fixer.
type env struct {
	t     testing.TB
	js    jetstream.JetStream
	store *natsstore.Store
	smtp  *devmail.Catcher
	tls   *tls.Config
	clock *fakeClock
	wakes *fakeTimers
	fixer *fakeFixer
	http  *httptest.Server
	mux   *switchMux
	logs  *syncBuffer
	log   *slog.Logger
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
	serverTLS, clientTLS := testCerts(t)
	c, err := devmail.Start(devmail.Config{TLS: serverTLS, Username: "rebound", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	logs := &syncBuffer{}
	e := &env{t: t, js: js, store: store, smtp: c, tls: clientTLS,
		clock: &fakeClock{now: time.Date(2026, 3, 7, 23, 5, 0, 0, time.UTC)},
		fixer: newFakeFixer(), mux: &switchMux{}, logs: logs,
		log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	e.wakes = &fakeTimers{due: map[events.StreamID]time.Time{}}
	e.http = httptest.NewServer(e.mux)
	t.Cleanup(e.http.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	return e
}

// config is the service configuration tests start from.
func (e *env) config() service.Config {
	return service.Config{SMTPURL: e.smtp.URL() + "?from=alerts@rebound.test", SMTPTLS: e.tls, LinkSecret: secret, BaseURL: e.http.URL,
		Mailbox: mailbox.Config{Retry: mailbox.Retry{Attempts: 3, Initial: time.Minute}}}
}

// running is a started service: its bus and its (fake) timers.
type running struct {
	svc    *service.Service
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	t      testing.TB
}

// start builds a service and runs its handler on a bus of its own, until stop.
func (e *env) start(cfg service.Config, deps service.Deps) *running {
	e.t.Helper()
	deps.Store, deps.JS, deps.Log, deps.Clock, deps.Timers = e.store, e.js, e.log, e.clock, e.wakes
	if deps.Fixer == nil {
		deps.Fixer = e.fixer
	}
	svc, err := service.New(deps, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Pages(mux)
	e.mux.set(mux)
	b, err := bus.New(e.js, service.Registry(), e.log, bus.Config{AckWait: 5 * time.Second, ShutdownTimeout: time.Second,
		NakDelay: 100 * time.Millisecond, Retry: bus.RetryConfig{MaxAttempts: 2, InitialInterval: 50 * time.Millisecond}})
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
	e.wakes.waitRunning(e.t, svc)
	e.t.Cleanup(r.stop)
	return r
}

// stop stops the bus and the timers and waits for both.
func (r *running) stop() {
	r.once.Do(func() {
		r.cancel()
		for range 2 {
			select {
			case <-r.done:
			case <-time.After(40 * time.Second):
				r.t.Error("the service did not stop within 40s")
				return
			}
		}
	})
}

// addContact adds a contact through the application (as NotificationService does).
func (e *env) addContact(r *running, account string, s contact.Settings) *notificationv1.Contact {
	e.t.Helper()
	c, err := r.svc.App().Commands.AddContact.Handle(e.t.Context(), app.AddContact{Account: account, Settings: s, Actor: "test"})
	if err != nil {
		e.t.Fatalf("adding contact %s: %v", s.Email, err)
	}
	return c
}

// alertRef is an alert of account (served by warehouse) on a WMS connection.
func alertRef(account, warehouse, conn, orderID, alertType string, immediate bool) *alertsv1.AlertRef {
	return &alertsv1.AlertRef{
		AlertId: "alt-" + orderID + "-" + alertType, Incarnation: 1, AlertType: alertType, Immediate: immediate,
		ErrorClass: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION,
		Record: &connectorv1.RecordRef{AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
			WarehouseId: warehouse, ConnectionId: conn, SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
			RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: orderID, OrderNumber: "#" + orderID},
	}
}

// publish stores an alert event on its alert's stream, as the alerts service does.
func (e *env) publish(ref *alertsv1.AlertRef, msg proto.Message) {
	e.t.Helper()
	stream := events.StreamID{AggregateType: consumers.AlertAggregate, Account: ref.GetRecord().GetAccountId(), ID: ref.GetAlertId()}
	if _, err := e.store.Append(e.t.Context(), stream, events.ExpectAny(), events.NewEvent(msg, events.Metadata{})); err != nil {
		e.t.Fatalf("storing %T: %v", msg, err)
	}
	e.settled()
}

func (e *env) needsAttention(ref *alertsv1.AlertRef) {
	e.t.Helper()
	now := e.clock.Now()
	e.publish(ref, &alertsv1.AlertNeedsAttention{Alert: ref, Reason: alertsv1.AttentionReason_ATTENTION_REASON_MANUAL_ACTION,
		LastFailure: &alertsv1.Failure{Message: "Ship method 'UPS Ground Saver' is not mapped", Code: "SHIP_METHOD_UNKNOWN"},
		FirstSeenAt: timestamppb.New(now.Add(-time.Minute)), Occurrences: 1, NeedsAttentionAt: timestamppb.New(now)})
}

func (e *env) resolved(ref *alertsv1.AlertRef) {
	e.t.Helper()
	e.publish(ref, &alertsv1.AlertResolved{Alert: ref, Cause: alertsv1.ResolutionCause_RESOLUTION_CAUSE_RECORD_SUCCEEDED,
		ResolvedAt: timestamppb.New(e.clock.Now())})
}

// settled waits until the handler's consumer has nothing pending or unacknowledged.
func (e *env) settled() {
	e.t.Helper()
	eventually(e.t, 30*time.Second, "the alerts consumer to settle", func() bool {
		c, err := e.js.Consumer(e.t.Context(), "EVENTS", consumers.AlertsHandler)
		if err != nil {
			return false
		}
		info, err := c.Info(e.t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}

// mail returns the messages received for to.
func (e *env) mail(to string) []*devmail.Message {
	var out []*devmail.Message
	for _, m := range e.smtp.Messages() {
		if slices.Contains(m.To, to) {
			out = append(out, m)
		}
	}
	return out
}

// mailbox loads a contact's mailbox events.
func (e *env) mailboxEvents(c *notificationv1.Contact) []events.Record {
	e.t.Helper()
	loaded, err := e.store.Load(e.t.Context(), mailbox.Stream(c.GetAccountId(), c.GetContactId()), 0)
	if err != nil {
		e.t.Fatalf("loading the mailbox of %s: %v", c.GetEmail(), err)
	}
	return loaded.Events
}

func count(recs []events.Record, short string) int {
	n := 0
	for _, r := range recs {
		if events.ShortType(r.EventType) == short {
			n++
		}
	}
	return n
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/links/[^\s"<>]+`)

// links returns the link URLs of a message's text part, by action.
func links(m *devmail.Message) map[string]string {
	out := map[string]string{}
	for _, u := range linkRE.FindAllString(m.Text, -1) {
		parts := strings.Split(strings.SplitN(u, "?", 2)[0], "/")
		out[parts[len(parts)-1]] = u
	}
	return out
}

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

// fakeClock is the service's clock, moved by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// fakeTimers are the wake timers on the fake clock: the test fires them by advancing the clock.
type fakeTimers struct {
	mu  sync.Mutex
	due map[events.StreamID]time.Time
	fn  func(ctx context.Context, stream events.StreamID, due time.Time) error
	run *service.Service
}

func (f *fakeTimers) Schedule(_ context.Context, stream events.StreamID, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.due[stream] = at
	return nil
}

func (f *fakeTimers) Run(ctx context.Context, fn func(ctx context.Context, stream events.StreamID, due time.Time) error) error {
	f.mu.Lock()
	f.fn = fn
	f.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (f *fakeTimers) waitRunning(t testing.TB, _ *service.Service) {
	eventually(t, 10*time.Second, "the timers to run", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.fn != nil
	})
}

// dueOf returns when a mailbox's timer is armed (zero when not).
func (f *fakeTimers) dueOf(stream events.StreamID) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.due[stream]
}

// advance moves the clock to to, firing every timer that comes due on the way at its due time,
// in order (a firing may arm timers that come due before to as well).
func (e *env) advance(to time.Time) {
	e.t.Helper()
	for {
		f := e.wakes
		f.mu.Lock()
		var (
			next   time.Time
			stream events.StreamID
		)
		keys := make([]events.StreamID, 0, len(f.due))
		for s := range f.due {
			keys = append(keys, s)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, s := range keys {
			if d := f.due[s]; !d.After(to) && (next.IsZero() || d.Before(next)) {
				next, stream = d, s
			}
		}
		if next.IsZero() {
			f.mu.Unlock()
			break
		}
		delete(f.due, stream)
		fn := f.fn
		f.mu.Unlock()
		if next.After(e.clock.Now()) {
			e.clock.set(next)
		}
		if err := fn(e.t.Context(), stream, next); err != nil {
			e.t.Fatalf("wake of %s at %s: %v", stream, next, err)
		}
	}
	if to.After(e.clock.Now()) {
		e.clock.set(to)
	}
}

// fakeFixer is the services link pages act through, in memory.
type fakeFixer struct {
	mu     sync.Mutex
	alerts map[string]*alertsv1.Alert
	orders map[string]*ordersv1.Order
	calls  []string
}

func newFakeFixer() *fakeFixer {
	return &fakeFixer{alerts: map[string]*alertsv1.Alert{}, orders: map[string]*ordersv1.Order{}}
}

func (f *fakeFixer) add(ref *alertsv1.AlertRef, cartConn, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := ref.GetRecord()
	f.alerts[rec.GetAccountId()+"/"+ref.GetAlertId()] = &alertsv1.Alert{AlertId: ref.GetAlertId(), Record: rec,
		AlertType: ref.GetAlertType(), Status: alertsv1.AlertStatus_ALERT_STATUS_OPEN,
		LastFailure: &alertsv1.Failure{Message: "not mapped"}}
	f.orders[rec.GetAccountId()+"/"+rec.GetRecordId()] = &ordersv1.Order{OrderId: rec.GetRecordId(), AccountId: rec.GetAccountId(),
		OrderNumber: rec.GetOrderNumber(), Cart: &ordersv1.Connection{ConnectionId: cartConn}, ShipMethodCode: code,
		ShipTo: &ordersv1.Address{Name: "Ada", Address1: "1 Main St", City: "Springfield", PostalCode: "12345", CountryCode: "US"}}
}

func (f *fakeFixer) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeFixer) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeFixer) Alert(_ context.Context, account, alertID string) (*alertsv1.Alert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.alerts[account+"/"+alertID]
	if !ok {
		return nil, fmt.Errorf("alert %s: %w", alertID, events.ErrNotFound)
	}
	return proto.CloneOf(a), nil
}

func (f *fakeFixer) Order(_ context.Context, account, orderID string) (*ordersv1.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[account+"/"+orderID]
	if !ok {
		return nil, fmt.Errorf("order %s: %w", orderID, events.ErrNotFound)
	}
	return proto.CloneOf(o), nil
}

func (f *fakeFixer) MapShipMethod(_ context.Context, account, cart, code, wms, actor string) error {
	f.record(fmt.Sprintf("map %s %s %s=%s by %s", account, cart, code, wms, actor))
	return nil
}

func (f *fakeFixer) CorrectAddress(_ context.Context, account, orderID string, a *ordersv1.Address, actor string) error {
	f.record(fmt.Sprintf("address %s %s %s, %s by %s", account, orderID, a.GetAddress1(), a.GetCity(), actor))
	return nil
}

func (f *fakeFixer) ResendToWMS(_ context.Context, account, orderID, actor string) error {
	f.record(fmt.Sprintf("resend %s %s by %s", account, orderID, actor))
	return nil
}

func (f *fakeFixer) ResendRecord(_ context.Context, account, alertID, actor string) error {
	f.record(fmt.Sprintf("resend-record %s %s by %s", account, alertID, actor))
	return nil
}

func (f *fakeFixer) DismissAlert(_ context.Context, account, alertID, reason, actor string) error {
	f.record(fmt.Sprintf("dismiss %s %s (%s) by %s", account, alertID, reason, actor))
	return nil
}

// switchMux serves the pages of the service running now.
type switchMux struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *switchMux) set(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = h
}

func (s *switchMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h.ServeHTTP(w, r)
}

// testCerts makes a self-signed certificate for 127.0.0.1: the SMTP server's TLS configuration
// and a client configuration that trusts it.
func testCerts(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
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

func serviceDeps() service.Deps { return service.Deps{} }

func listAll(account string) app.ListNotifications { return app.ListNotifications{Account: account} }

func wakeOf(c *notificationv1.Contact, due time.Time) app.Wake {
	return app.Wake{Stream: mailbox.Stream(c.GetAccountId(), c.GetContactId()), DueAt: due}
}

// publishNoWait stores an AlertNeedsAttention without waiting for the handler.
func publishNoWait(e *env, ref *alertsv1.AlertRef) {
	e.t.Helper()
	now := e.clock.Now()
	msg := &alertsv1.AlertNeedsAttention{Alert: ref, Reason: alertsv1.AttentionReason_ATTENTION_REASON_MANUAL_ACTION,
		LastFailure: &alertsv1.Failure{Message: "Ship method 'UPS Ground Saver' is not mapped"},
		FirstSeenAt: timestamppb.New(now), Occurrences: 1, NeedsAttentionAt: timestamppb.New(now)}
	stream := events.StreamID{AggregateType: consumers.AlertAggregate, Account: ref.GetRecord().GetAccountId(), ID: ref.GetAlertId()}
	if _, err := e.store.Append(e.t.Context(), stream, events.ExpectAny(), events.NewEvent(msg, events.Metadata{})); err != nil {
		e.t.Fatal(err)
	}
}

// busFor runs svc's handlers on a bus of their own until the test ends.
func (e *env) busFor(svc *service.Service) {
	e.t.Helper()
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
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-b.Running():
	case err := <-done:
		e.t.Fatalf("the bus did not start: %v", err)
	}
}
