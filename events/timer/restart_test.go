package timer_test

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events/natsserver"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/events/timer"
)

func TestRun_timersSurviveARestartOfEverything(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, "")
	cfg := timer.Config{Stream: "TIMERS", Prefix: "timers"}
	e := newEnv(t, srv.ClientURL(), cfg)
	rec := newRecorder()
	stop := e.run(t, "retry", rec.handle)

	// Some timers come due while everything is down, the others after the restart; one fired
	// before the shutdown and was handled, and must not fire again.
	now := time.Now()
	const n = 60
	dues := map[string]time.Time{}
	for i := range n {
		key := "retry.acct.r" + strconv.Itoa(i)
		due := now.Add(1500*time.Millisecond + time.Duration(i%10)*100*time.Millisecond)
		if i >= n/2 {
			due = due.Add(5 * time.Second)
		}
		dues[key] = due
	}
	dues["early"] = now
	for key, due := range dues {
		if err := e.s.Schedule(t.Context(), "retry", key, due, []byte(key)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "the early timer to fire before the shutdown", func() bool {
		return len(rec.of("early")) == 1
	})
	stop()
	if got := rec.total(); got != 1 {
		t.Fatalf("%d timers fired before the shutdown; want only the early one", got)
	}
	srv.Shutdown()

	downUntil := now.Add(3 * time.Second) // the first half is due by now
	waitPast(t, downUntil)
	restarted, err := natsserver.Start(natsserver.Config{DataDir: srv.Dir, Port: -1})
	if err != nil {
		t.Fatalf("restarting the server on %s: %v", srv.Dir, err)
	}
	t.Cleanup(restarted.Shutdown)
	e = newEnv(t, restarted.ClientURL(), cfg)
	e.run(t, "retry", rec.handle)

	eventually(t, 20*time.Second, "every timer to fire after the restart", func() bool {
		return rec.keys() == len(dues) && e.stored(t, "retry") == 0
	})
	for key, due := range dues {
		maxLate := time.Second
		if due.Before(downUntil) {
			maxLate = 0 // due while everything was down: late, but once
		}
		checkFiredOnce(t, rec, "retry", key, due, []byte(key), maxLate)
	}
}

func TestRun_ridesOutAServerRestart(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, "")
	e := newEnv(t, srv.ClientURL(), timer.Config{})
	rec := newRecorder()
	e.run(t, "k", rec.handle)

	due := time.Now().Add(2 * time.Second)
	for i := range 10 {
		if err := e.s.Schedule(t.Context(), "k", "t"+strconv.Itoa(i), due, nil); err != nil {
			t.Fatal(err)
		}
	}
	u, err := url.Parse(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	srv.Shutdown()
	restarted, err := natsserver.Start(natsserver.Config{DataDir: srv.Dir, Port: port})
	if err != nil {
		t.Fatalf("restarting the server on port %d: %v", port, err)
	}
	t.Cleanup(restarted.Shutdown)

	// The same Run, reconnected, handles them.
	eventually(t, 20*time.Second, "every timer to fire after the restart", func() bool {
		return rec.keys() == 10 && e.stored(t, "k") == 0
	})
	for i := range 10 {
		checkFiredOnce(t, rec, "k", "t"+strconv.Itoa(i), due, nil, 0)
	}
}
