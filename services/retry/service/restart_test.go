package service_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events/natsserver"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// TestService_timersSurviveRestarts stops the service while timers are pending and starts a new
// one, first on the same server, then after the server itself restarted on the same directory:
// every due timer fires, once, and timers due after the restart fire on time. The cache holds
// two schedules: most loads restore a snapshot from the SNAPSHOTS bucket.
func TestService_timersSurviveRestarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := natstest.Start(t, dir)
	cfg := testConfig(t)
	cfg.CacheSize = 2
	acct := unique("m")
	e := start(t, srv.ClientURL(), cfg)

	// schedule reports a failure of n new records (with a Retry-After when ra > 0) and waits
	// until each has its timer; it returns the records and their due times.
	schedule := func(e *env, prefix string, n int, ra time.Duration) ([]*connectorv1.RecordRef, map[string]time.Time) {
		refs := make([]*connectorv1.RecordRef, n)
		dues := map[string]time.Time{}
		for i := range refs {
			refs[i] = orderRef(acct, fmt.Sprintf("%s%d", prefix, i))
			f := failure(refs[i], "first")
			if ra > 0 {
				f.HttpStatus, f.Message, f.RetryAfter = 429, "Too Many Requests", durationpb.New(ra)
			}
			e.fail(t, f)
		}
		for _, r := range refs {
			s := e.waitStatus(t, r, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)
			dues[domain.AttemptID(connector.RecordKeyOf(r), 1, 1)] = s.GetNextAttemptAt().AsTime()
			eventually(t, 5*time.Second, "the timer of "+r.GetRecordId(), func() bool { return e.pendingTimers(t, domain.StreamOf(r)) == 1 })
		}
		return refs, dues
	}
	latest := func(dues map[string]time.Time) time.Time {
		var l time.Time
		for _, d := range dues {
			if d.After(l) {
				l = d
			}
		}
		return l
	}

	// 1. The service stops with timers pending; they come due while it is down.
	refsA, duesA := schedule(e, "a", 8, 0)
	e.stop()
	waitPast(t, latest(duesA).Add(500*time.Millisecond))
	e = start(t, srv.ClientURL(), cfg)
	w := watchDue(t, e.js, acct)
	for id, due := range duesA {
		d := w.waitAttempt(t, id, 15*time.Second)
		if d.at.Before(due) {
			t.Errorf("%s arrived at %s, before its due time %s", id, d.at, due)
		}
	}

	// 2. The service and the server stop. Some timers come due while everything is down,
	// others after the restart.
	refsB, duesB := schedule(e, "b", 8, 0)
	refsC, duesC := schedule(e, "c", 4, 8*time.Second)
	e.stop()
	srv.Shutdown()
	waitPast(t, latest(duesB).Add(500*time.Millisecond))
	restarted, err := natsserver.Start(natsserver.Config{DataDir: dir, Port: -1})
	if err != nil {
		t.Fatalf("restarting the server on %s: %v", dir, err)
	}
	t.Cleanup(restarted.Shutdown)
	e = start(t, restarted.ClientURL(), cfg)
	w = watchDue(t, e.js, acct)
	for id, due := range duesB {
		if d := w.waitAttempt(t, id, 15*time.Second); d.at.Before(due) {
			t.Errorf("%s arrived at %s, before its due time %s", id, d.at, due)
		}
	}
	restartedAt := time.Now()
	for id, due := range duesC {
		d := w.waitAttempt(t, id, 20*time.Second)
		if !restartedAt.Before(due) {
			t.Errorf("the restart took until %s, past %s's due time %s", restartedAt, id, due)
			continue
		}
		checkOnTime(t, w, d, due)
		t.Logf("%s due %s after the restart arrived %s after its due time", id, due.Sub(restartedAt).Round(time.Millisecond), d.at.Sub(due))
	}

	// Every attempt was made due once: in the store (one RetryAttemptDue per attempt number) and
	// on the due stream (one command per attempt id, read from the stream's start).
	for _, r := range append(append(refsA, refsB...), refsC...) {
		_, history := e.schedule(t, r)
		seen := map[string]bool{}
		for _, h := range history {
			if due, ok := h.Message.(*retryv1.RetryAttemptDue); ok {
				if seen[due.GetAttemptId()] {
					t.Errorf("%s: attempt %s made due twice: %v", r.GetRecordId(), due.GetAttemptId(), typesOf(history))
				}
				seen[due.GetAttemptId()] = true
			}
		}
	}
	counts := map[string]int{}
	for _, id := range w.ids() {
		counts[id]++
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("RetryDue %s published %d times", id, n)
		}
	}
	for id := range duesA {
		if counts[id] != 1 {
			t.Errorf("RetryDue %s of the first stop is in the due stream %d times", id, counts[id])
		}
	}
	kv, err := e.js.KeyValue(t.Context(), natsstore.SnapshotBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeysFiltered(t.Context(), domain.AggregateType+"."+acct+".>")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	if n == 0 {
		t.Errorf("no schedule snapshots in %s", natsstore.SnapshotBucket)
	}
}
