package bus_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
)

func TestMain(m *testing.M) { natstest.Main(m) }

// env is one test's view of the shared server: its own account, so its subjects are its own.
type env struct {
	js      jetstream.JetStream
	reg     *events.Registry
	store   *natsstore.Store
	account string
	logs    *syncBuffer
	log     *slog.Logger
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sh := sharedStore(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bus logs:\n%s", logs.String())
		}
	})
	return &env{js: sh.js, reg: sh.reg, store: sh.store, account: unique("acct"), logs: logs, log: log}
}

// shared is the connection, store and POISON stream every test uses. The streams are set up
// once, before any test creates consumers: nats-server 2.15.2 races (go test -race) between a
// stream update and a consumer creation on the same stream.
type shared struct {
	js    jetstream.JetStream
	reg   *events.Registry
	store *natsstore.Store
}

var (
	sharedOnce sync.Once
	sharedEnv  shared
	sharedErr  error
)

func sharedStore(t *testing.T) shared {
	t.Helper()
	url := natstest.SharedURL(t)
	sharedOnce.Do(func() {
		// The connection lives as long as the test binary; natstest.Main stops the server.
		nc, err := nats.Connect(url)
		if err != nil {
			sharedErr = err
			return
		}
		js, err := jetstream.New(nc)
		if err != nil {
			sharedErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		reg := events.NewRegistry(&connectorv1.RecordFailed{}, &connectorv1.RecordSucceeded{})
		store, err := natsstore.New(ctx, js, reg, natsstore.Config{})
		if err != nil {
			sharedErr = err
			return
		}
		if _, err := bus.EnsurePoisonStream(ctx, js); err != nil {
			sharedErr = err
			return
		}
		sharedEnv = shared{js: js, reg: reg, store: store}
	})
	if sharedErr != nil {
		t.Fatalf("setting up the shared store: %v", sharedErr)
	}
	return sharedEnv
}

// unique returns an id no other test uses, valid as a handler name and a subject token.
func unique(prefix string) string {
	return prefix + strings.ReplaceAll(uuid.NewString(), "-", "")
}

// subjects is the filter that covers every event of the test's account.
func (e *env) subjects() []string { return []string{"evt.record." + e.account + ".>"} }

func (e *env) stream(id string) events.StreamID {
	return events.StreamID{AggregateType: "record", Account: e.account, ID: id}
}

// append stores one event on the aggregate id and returns it with its position.
func (e *env) append(t *testing.T, id string, msg proto.Message, meta events.Metadata) events.Event {
	t.Helper()
	ev := events.NewEvent(msg, meta)
	if _, err := e.store.Append(t.Context(), e.stream(id), events.ExpectAny(), ev); err != nil {
		t.Fatalf("appending to %s: %v", id, err)
	}
	return ev
}

// run starts a bus with the handlers and returns its runner; the bus stops when the test ends.
func (e *env) run(t *testing.T, cfg bus.Config, hs ...bus.Handler) *runner {
	t.Helper()
	b, err := bus.New(e.js, e.reg, e.log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if err := b.Handle(h); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- b.Run(ctx) }()
	select {
	case <-b.Running():
	case err := <-r.done:
		cancel()
		t.Fatalf("Run returned before running: %v", err)
	}
	t.Cleanup(r.stop)
	return r
}

// runner is a running bus.
type runner struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// stop ends the bus's context and waits until Run returned nil.
func (r *runner) stop() {
	r.once.Do(func() {
		r.cancel()
		if err := <-r.done; err != nil {
			r.t.Errorf("Run: %v", err)
		}
	})
}

// settled waits until the handler's consumer on stream has nothing pending and nothing unacked.
func (e *env) settled(t *testing.T, stream, handler string) {
	t.Helper()
	var info *jetstream.ConsumerInfo
	eventually(t, 10*time.Second, func() bool {
		c, err := e.js.Consumer(t.Context(), stream, handler)
		if err != nil {
			return false
		}
		info, err = c.Info(t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}, "consumer %s on %s settles", handler, stream)
}

// eventually polls cond until it holds, failing the test after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, what string, args ...any) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("timed out after %s waiting until "+what, append([]any{timeout}, args...)...)
	}
}

// poll polls cond until it holds (true) or timeout passes (false); any goroutine may call it.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
	return true
}

// counter counts calls by key, safely from several goroutines.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[string]int)
	}
	c.n[key]++
	return c.n[key]
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	sum := 0
	for _, n := range c.n {
		sum += n
	}
	return sum
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func failed(msg string) *connectorv1.RecordFailed { return &connectorv1.RecordFailed{Message: msg} }
