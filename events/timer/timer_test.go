package timer_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/events/timer"
)

func TestSchedule_firesOnceAtItsDueTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, natstest.SharedURL(t), timer.Config{})
	rec := newRecorder()
	e.run(t, "retry", rec.handle)

	// A dotted key like the retry service's, a sub-second due time, and a time in the past.
	cases := []struct {
		key string
		at  time.Time
	}{
		{"retry.acct-1.order_42", time.Now().Add(1300 * time.Millisecond)},
		{"retry.acct-1.order_42.sub", time.Now().Add(1700 * time.Millisecond)},
		{"past", time.Now().Add(-time.Hour)},
	}
	for _, c := range cases {
		if err := e.s.Schedule(t.Context(), "retry", c.key, c.at, []byte("payload of "+c.key)); err != nil {
			t.Fatalf("Schedule(%s): %v", c.key, err)
		}
	}
	eventually(t, 10*time.Second, "every timer to fire and leave nothing pending", func() bool {
		return rec.keys() == len(cases) && e.stored(t, "retry") == 0
	})
	for _, c := range cases {
		maxLate := time.Second
		if c.key == "past" {
			maxLate = 0 // due an hour ago: only once and intact matter
		}
		checkFiredOnce(t, rec, "retry", c.key, c.at, []byte("payload of "+c.key), maxLate)
	}
	if late := rec.of("past")[0].now.Sub(rec.of("past")[0].f.DueAt); late < time.Hour {
		t.Errorf("the past timer reports %s of lateness; want over an hour", late)
	}
}

func TestSchedule_rescheduleMovesTheTimer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, natstest.SharedURL(t), timer.Config{})
	rec := newRecorder()
	e.run(t, "k", rec.handle)

	now := time.Now()
	type step struct {
		at      time.Duration
		payload string
	}
	cases := []struct {
		key   string
		steps []step // the last one is the one that must fire
	}{
		{"later", []step{{1200 * time.Millisecond, "first"}, {2300 * time.Millisecond, "second"}}},
		{"earlier", []step{{3500 * time.Millisecond, "first"}, {1100 * time.Millisecond, "second"}}},
		{"back-and-forth", []step{{1500 * time.Millisecond, "a"}, {3200 * time.Millisecond, "b"}, {1500 * time.Millisecond, "a again"}}},
		{"same-second", []step{{2100 * time.Millisecond, "first"}, {2600 * time.Millisecond, "second"}}},
		{"repeated", []step{{1400 * time.Millisecond, "same"}, {1400 * time.Millisecond, "same"}}},
	}
	for _, c := range cases {
		for _, s := range c.steps {
			if err := e.s.Schedule(t.Context(), "k", c.key, now.Add(s.at), []byte(s.payload)); err != nil {
				t.Fatalf("Schedule(%s): %v", c.key, err)
			}
		}
	}
	// A sentinel due after every step: once it has fired and nothing is left pending, no
	// replaced schedule can fire any more.
	sentinel := now.Add(4500 * time.Millisecond)
	if err := e.s.Schedule(t.Context(), "k", "sentinel", sentinel, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the sentinel to fire and nothing to be left pending", func() bool {
		return len(rec.of("sentinel")) > 0 && e.stored(t, "k") == 0
	})
	for _, c := range cases {
		last := c.steps[len(c.steps)-1]
		checkFiredOnce(t, rec, "k", c.key, now.Add(last.at), []byte(last.payload), time.Second)
	}
}

func TestCancel_stopsTheTimer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, natstest.SharedURL(t), timer.Config{})
	rec := newRecorder()

	now := time.Now()
	for _, key := range []string{"cancelled", "kept", "cancelled-after-firing"} {
		if err := e.s.Schedule(t.Context(), "k", key, now.Add(1200*time.Millisecond), []byte(key)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.s.Cancel(t.Context(), "k", "cancelled"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Cancel(t.Context(), "k", "never-scheduled"); err != nil {
		t.Errorf("cancelling a key without a timer: %v", err)
	}
	// With no Run yet, the fired timers wait in the stream; cancelling one removes it there.
	waitPast(t, now.Add(1200*time.Millisecond))
	eventually(t, 10*time.Second, "the two timers left to fire", func() bool {
		return e.stored(t, "k") == 2
	})
	if err := e.s.Cancel(t.Context(), "k", "cancelled-after-firing"); err != nil {
		t.Fatal(err)
	}
	e.run(t, "k", rec.handle)
	eventually(t, 10*time.Second, "the kept timer to fire", func() bool {
		return len(rec.of("kept")) > 0 && e.stored(t, "k") == 0
	})
	checkFiredOnce(t, rec, "k", "kept", now.Add(1200*time.Millisecond), []byte("kept"), 0)
	if rec.total() != 1 {
		t.Errorf("cancelled timers fired: %v", rec.calls)
	}
}

func TestRun_restartedRunDoesNotFireAcknowledgedTimersAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, natstest.SharedURL(t), timer.Config{})
	rec := newRecorder()
	stop := e.run(t, "k", rec.handle)

	due := time.Now().Add(time.Second)
	const n = 20
	for range n {
		if err := e.s.Schedule(t.Context(), "k", unique("t"), due, nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "the first run to handle every timer", func() bool {
		return rec.keys() == n && e.stored(t, "k") == 0
	})
	stop()

	if err := e.s.Schedule(t.Context(), "k", "sentinel", time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	e.run(t, "k", rec.handle)
	eventually(t, 10*time.Second, "the second run to handle the sentinel", func() bool {
		return len(rec.of("sentinel")) == 1 && e.stored(t, "k") == 0
	})
	if got := rec.total(); got != n+1 {
		t.Errorf("%d handler calls; want %d (each timer once)", got, n+1)
	}
}

func TestRun_failedHandlerGetsTheTimerAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, natstest.SharedURL(t), timer.Config{RetryDelay: 100 * time.Millisecond})
	var (
		mu         sync.Mutex
		deliveries []int
	)
	e.run(t, "k", func(_ context.Context, f timer.Fired) error {
		mu.Lock()
		defer mu.Unlock()
		deliveries = append(deliveries, f.Delivery)
		switch len(deliveries) {
		case 1:
			return errors.New("the aggregate is busy")
		case 2:
			panic("a handler bug")
		}
		return nil
	})
	if err := e.s.Schedule(t.Context(), "k", "flaky", time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the third delivery to succeed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(deliveries) == 3 && e.stored(t, "k") == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if deliveries[0] != 1 || deliveries[1] != 2 || deliveries[2] != 3 {
		t.Errorf("deliveries = %v; want [1 2 3]", deliveries)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "the aggregate is busy") || !strings.Contains(logs, "a handler bug") {
		t.Errorf("the failures are not in the log:\n%s", logs)
	}
}

func TestSchedule_rejectsInvalidNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, natstest.SharedURL(t), timer.Config{})
	cases := []struct {
		name, kind, key string
		at              time.Time
	}{
		{"empty kind", "", "k", time.Now()},
		{"dotted kind", "a.b", "k", time.Now()},
		{"long kind", strings.Repeat("k", 33), "k", time.Now()},
		{"empty key", "k", "", time.Now()},
		{"empty key token", "k", "a..b", time.Now()},
		{"wildcard key", "k", "a.*", time.Now()},
		{"space in key", "k", "a b", time.Now()},
		{"long key", "k", strings.Repeat("k", 256), time.Now()},
		{"no due time", "k", "k", time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := e.s.Schedule(t.Context(), c.kind, c.key, c.at, nil); !errors.Is(err, events.ErrInvalidArgument) {
				t.Errorf("Schedule = %v; want ErrInvalidArgument", err)
			}
			if c.at.IsZero() {
				return
			}
			if err := e.s.Cancel(t.Context(), c.kind, c.key); !errors.Is(err, events.ErrInvalidArgument) {
				t.Errorf("Cancel = %v; want ErrInvalidArgument", err)
			}
		})
	}
	if err := e.s.Run(t.Context(), "a.b", func(context.Context, timer.Fired) error { return nil }); !errors.Is(err, events.ErrInvalidArgument) {
		t.Errorf("Run with a dotted kind = %v; want ErrInvalidArgument", err)
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	if err := (timer.Config{}).Validate(); err != nil {
		t.Errorf("the zero Config: %v", err)
	}
	err := timer.Config{Stream: "EVENTS", Prefix: "a.b", Replicas: 7, AckWait: time.Millisecond}.Validate()
	for _, want := range []string{"events stream", "prefix", "replicas", "ack wait"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v; want a problem with %s", err, want)
		}
	}
}

func TestRun_stoppedRunHandsItsTimersBackAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, natstest.SharedURL(t), timer.Config{Workers: 1})
	started := make(chan struct{}, 1)
	stop := e.run(t, "k", func(ctx context.Context, _ timer.Fired) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done() // stuck until the run stops
		return ctx.Err()
	})
	const n = 10
	for i := range n {
		if err := e.s.Schedule(t.Context(), "k", "t"+strconv.Itoa(i), time.Now(), nil); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no timer reached the first run")
	}
	stop()

	// The ack wait is 30s: a timer the stopped run kept would come back only after it.
	rec := newRecorder()
	e.run(t, "k", rec.handle)
	eventually(t, 10*time.Second, "the second run to handle every timer", func() bool {
		return rec.keys() == n && e.stored(t, "k") == 0
	})
}

func TestRun_returnsWhenTheConnectionCloses(t *testing.T) {
	t.Parallel()
	nc := natstest.Connect(t, natstest.SharedURL(t))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream := unique("TIMERS_")
	s, err := timer.New(t.Context(), js, timer.Config{Stream: stream, Prefix: unique("timers_")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(t.Context(), "k", func(context.Context, timer.Fired) error { return nil }) }()
	eventually(t, 10*time.Second, "the consumer to exist", func() bool {
		_, err := js.Consumer(t.Context(), stream, "timer-k")
		return err == nil
	})
	nc.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Run returned nil after the connection closed; want an error")
		}
	case <-time.After(10 * time.Second):
		t.Error("Run did not return within 10s of the connection closing")
	}
}
