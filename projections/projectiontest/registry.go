package projectiontest

import (
	"context"
	"testing"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
)

// Registry returns a registry of every event the read models read.
func Registry() *events.Registry {
	return events.NewRegistry(
		&alertsv1.AlertRaised{}, &alertsv1.AlertOccurred{}, &alertsv1.AlertResolved{},
		&alertsv1.AlertDismissed{}, &alertsv1.AlertReopened{}, &alertsv1.AlertEscalated{},
		&alertsv1.AlertNeedsAttention{}, &alertsv1.AlertCoveredByOutage{}, &alertsv1.AlertUncovered{},
		&alertsv1.ConnectionFailureObserved{}, &alertsv1.ConnectionDown{}, &alertsv1.RecordCoveredByOutage{},
		&alertsv1.ConnectionRecovered{},
		&retryv1.RetryScheduled{}, &retryv1.RetryWaitingForSync{}, &retryv1.RetryAttemptDue{},
		&retryv1.RetryHeld{}, &retryv1.RetryReleased{}, &retryv1.RetryWindowRestarted{},
		&retryv1.RetryPaused{}, &retryv1.RetryResumed{}, &retryv1.RetryCompleted{},
		&retryv1.RetryExhausted{}, &retryv1.RetryCanceled{},
		&ordersv1.OrderReceived{}, &ordersv1.OrderEdited{}, &ordersv1.OrderDeliveryAttempted{},
		&ordersv1.OrderAcceptedByWMS{}, &ordersv1.OrderDeliveryFailed{}, &ordersv1.OrderHeld{},
		&ordersv1.OrderReleased{}, &ordersv1.OrderResendRequested{}, &ordersv1.OrderSendingCanceled{},
		&ordersv1.OrderSkipped{}, &ordersv1.OrderShipped{}, &ordersv1.OrderConfirmed{},
		&ordersv1.OrderTrackingPushFailed{},
	)
}

// WaitFor polls until every projection of r has a checkpoint at or past its last matching
// event in store (found by reading the store), or fails the test after timeout.
func WaitFor(t testing.TB, r *projections.Runner, store events.Store, filters map[string][]string, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	want := make(map[string]uint64)
	for name, fs := range filters {
		var last uint64
		if err := store.Read(ctx, events.ReadOptions{Filters: fs}, func(_ context.Context, rec events.Record) error {
			last = rec.Position
			return nil
		}); err != nil {
			t.Fatalf("reading the store: %v", err)
		}
		want[name] = last
	}
	deadline := time.Now().Add(timeout)
	for {
		sts, err := r.Status(ctx)
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		done := true
		for _, s := range sts {
			if w, ok := want[s.Name]; ok && s.Checkpoint < w {
				done = false
				if time.Now().After(deadline) {
					t.Fatalf("projection %s did not reach position %d within %s (checkpoint %d, last error %v)", s.Name, w, timeout, s.Checkpoint, s.LastError)
				}
			}
		}
		if done {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Project runs the projections over store until they have applied every event it holds, then
// stops them.
func Project(t testing.TB, db *projections.DB, store events.Store, ps ...projections.Projection) {
	t.Helper()
	r, err := projections.NewRunner(db, store, projections.Config{}, ps...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	filters := make(map[string][]string)
	for _, p := range ps {
		filters[p.Name()] = p.Filters()
	}
	WaitFor(t, r, store, filters, time.Minute)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
