package timer_test

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

	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/events/timer"
)

func TestMain(m *testing.M) { natstest.Main(m) }

var seq atomic.Int64

// unique returns an id no other test uses.
func unique(prefix string) string {
	return prefix + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "-" + strconv.FormatInt(seq.Add(1), 10)
}

// env is one test's timers: a stream and subject prefix of its own on a server, so parallel
// tests neither see each other's timers nor update a stream another test creates consumers on.
type env struct {
	js   jetstream.JetStream
	cfg  timer.Config
	s    *timer.Scheduler
	logs *syncBuffer
	log  *slog.Logger
}

func newEnv(t *testing.T, url string, cfg timer.Config) *env {
	t.Helper()
	if cfg.Stream == "" {
		cfg.Stream = unique("TIMERS_")
		cfg.Prefix = unique("timers_")
	}
	nc := natstest.Connect(t, url)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("timer logs:\n%s", logs.String())
		}
	})
	s, err := timer.New(t.Context(), js, cfg, log)
	if err != nil {
		t.Fatalf("timer.New: %v", err)
	}
	return &env{js: js, cfg: cfg, s: s, logs: logs, log: log}
}

// run runs the handler of kind until the returned stop is called (or the test ends); stop waits
// for Run to return and fails the test when it returned an error.
func (e *env) run(t *testing.T, kind string, fn timer.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.s.Run(ctx, kind, fn) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run(%s) = %v", kind, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run(%s) did not return within 30s of its context ending", kind)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// stored counts the messages (schedules and fired timers) the stream holds for kind.
func (e *env) stored(t *testing.T, kind string) int {
	t.Helper()
	st, err := e.js.Stream(t.Context(), e.cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(e.cfg.Prefix+".*."+kind+".>"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}

// recorder is a handler that records every call.
type recorder struct {
	mu    sync.Mutex
	calls map[string][]call
}

type call struct {
	f   timer.Fired
	now time.Time // the clock when the handler ran
}

func newRecorder() *recorder { return &recorder{calls: map[string][]call{}} }

func (r *recorder) handle(_ context.Context, f timer.Fired) error {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[f.Key] = append(r.calls[f.Key], call{f: f, now: now})
	return nil
}

func (r *recorder) of(key string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls[key])
}

func (r *recorder) keys() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += len(c)
	}
	return n
}

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

// waitPast blocks until the wall clock is past at: the tests are about due times, so some of
// them must let a due time go by.
func waitPast(t *testing.T, at time.Time) {
	t.Helper()
	eventually(t, time.Until(at)+5*time.Second, fmt.Sprintf("the clock to pass %s", at.Format(time.RFC3339Nano)), func() bool {
		return time.Now().After(at)
	})
}

// checkFiredOnce checks that key fired exactly once, not before its due time want and within
// maxLate after it, with payload intact.
func checkFiredOnce(t *testing.T, r *recorder, kind, key string, want time.Time, payload []byte, maxLate time.Duration) {
	t.Helper()
	calls := r.of(key)
	if len(calls) != 1 {
		t.Errorf("%s fired %d times; want once", key, len(calls))
		return
	}
	c := calls[0]
	f := c.f
	if f.Kind != kind || f.Key != key || !f.DueAt.Equal(want) || !bytes.Equal(f.Payload, payload) {
		t.Errorf("%s fired as %+v; want kind %s, due %s, payload %q", key, f, kind, want.Format(time.RFC3339Nano), payload)
	}
	if c.now.Before(want) || f.FiredAt.Before(want) {
		t.Errorf("%s fired at %s (FiredAt %s), before its due time %s", key,
			c.now.Format(time.RFC3339Nano), f.FiredAt.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if late := c.now.Sub(want); maxLate > 0 && late > maxLate {
		t.Errorf("%s fired %s after its due time; want at most %s", key, late, maxLate)
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
