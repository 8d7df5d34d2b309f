package service_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/services/retry/domain"
	"github.com/reboundhq/rebound/services/retry/outbound"
)

// TestService_reconcileRebuildsTimersAndIndex loses a schedule's timer and another's index entry,
// and rebuilds both from the store.
func TestService_reconcileRebuildsTimersAndIndex(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, "")
	cfg := testConfig(t)
	e := start(t, srv.ClientURL(), cfg)
	acct, conn := unique("m"), unique("cart")
	order, tracking := orderRef(acct, "o-lost"), trackingRef(acct, conn, "t-lost")
	e.fail(t, failure(order, "first"))
	e.fail(t, failure(tracking, "first"))
	e.waitStatus(t, order, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)
	e.waitStatus(t, tracking, retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC)
	waitingKey := "waiting." + acct + "." + conn + ".tracking." + connector.RecordKeyOf(tracking)
	eventually(t, 5*time.Second, "the timer and the index entry", func() bool {
		return e.pendingTimers(t, domain.StreamOf(order)) == 1 && e.indexHas(t, waitingKey)
	})
	e.stop()

	// Both are lost.
	timers, err := e.js.Stream(t.Context(), "TIMERS")
	if err != nil {
		t.Fatal(err)
	}
	if err := timers.Purge(t.Context(), jetstream.WithPurgeSubject("timers.sched."+outbound.DefaultTimerKind+"."+outbound.TimerKey(domain.StreamOf(order))+".*")); err != nil {
		t.Fatal(err)
	}
	kv, err := e.js.KeyValue(t.Context(), outbound.DefaultIndexBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(t.Context(), waitingKey); err != nil {
		t.Fatal(err)
	}
	if e.pendingTimers(t, domain.StreamOf(order)) != 0 || e.indexHas(t, waitingKey) {
		t.Fatal("the timer or the index entry survived")
	}

	e = start(t, srv.ClientURL(), cfg)
	w := watchDue(t, e.js, acct)
	n, err := e.svc.Application().Commands.Reconcile.Handle(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("Reconcile settled %d schedules: %v; want 2", n, err)
	}
	if !e.indexHas(t, waitingKey) {
		t.Fatal("the index entry was not rebuilt")
	}
	w.waitAttempt(t, domain.AttemptID(connector.RecordKeyOf(order), 1, 1), 10*time.Second)
}
