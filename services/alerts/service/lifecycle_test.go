package service_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/inbound/consumers"
	"github.com/reboundhq/rebound/services/alerts/service"
)

// exhausted stores the retry service's RetryExhausted for the record.
func (e *env) exhausted(ref *connectorv1.RecordRef, reason retryv1.ExhaustedReason, alertType string) {
	e.t.Helper()
	stream := events.StreamID{AggregateType: consumers.RetryAggregate, Account: ref.GetAccountId(), ID: connector.RecordKeyOf(ref)}
	msg := &retryv1.RetryExhausted{Record: ref, Reason: reason, ExhaustedAt: timestamppb.Now(),
		Failure: &retryv1.Failure{AttemptId: "last", AlertType: alertType, FailedAt: timestamppb.Now()}}
	if _, err := e.store.Append(e.t.Context(), stream, events.ExpectAny(), events.NewEvent(msg, events.Metadata{})); err != nil {
		e.t.Fatal(err)
	}
}

// When the retry service gives up on a record, its open alerts escalate and need attention;
// a series that ended because the failure was rejected is no escalation.
func TestService_retriesExhaustedEscalateTheRecordsAlerts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(service.Config{})
	now := time.Now().UTC()
	ref := e.record("wms-1", "2001")
	rejected := e.record("wms-1", "2002")
	id := alert.IDOf(ref, "wms_unavailable")
	e.report(unavailable(ref, "a1", now))
	e.report(unavailable(rejected, "a1", now))
	eventually(t, 20*time.Second, "the alerts", func() bool {
		a, _ := e.alertOf(id)
		b, _ := e.alertOf(alert.IDOf(rejected, "wms_unavailable"))
		return a != nil && b != nil
	})

	e.exhausted(ref, retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE, "wms_unavailable")
	e.exhausted(ref, retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE, "wms_unavailable") // a second series end: nothing new
	e.exhausted(rejected, retryv1.ExhaustedReason_EXHAUSTED_REASON_REJECTED, "wms_unavailable")
	eventually(t, 20*time.Second, "the escalation", func() bool {
		a, _ := e.alertOf(id)
		return a.GetEscalated()
	})
	e.settled(consumers.RetryHandler)
	a, hist := e.alertOf(id)
	if a.GetEscalationReason() != "retries_exhausted: max_age" || !a.GetNeedsAttention() ||
		a.GetNeedsAttentionReason() != alertsv1.AttentionReason_ATTENTION_REASON_RETRIES_EXHAUSTED ||
		count(hist, "AlertEscalated") != 1 || count(hist, "AlertNeedsAttention") != 1 {
		t.Errorf("alert %v (%d events): want escalated once for max_age and needing attention once", a, len(hist))
	}
	if b, _ := e.alertOf(alert.IDOf(rejected, "wms_unavailable")); b.GetEscalated() {
		t.Errorf("a rejected record's alert escalated: %v", b)
	}
}

// An alert Rebound retries by itself needs attention once its grace period is over, through the
// durable timer, and only once.
func TestService_gracePeriodFiresOnceThroughTheDurableTimer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const grace = 2 * time.Second
	e.start(service.Config{Alert: alert.Config{GracePeriod: grace}})
	ref := e.record("wms-1", "3001")
	id := alert.IDOf(ref, "wms_unavailable")
	failedAt := time.Now().UTC()
	e.report(unavailable(ref, "a1", failedAt))
	e.report(unavailable(ref, "a2", failedAt.Add(time.Second)))
	eventually(t, 30*time.Second, "the grace period to run out", func() bool {
		a, _ := e.alertOf(id)
		return a.GetNeedsAttention()
	})
	a, hist := e.alertOf(id)
	if a.GetNeedsAttentionReason() != alertsv1.AttentionReason_ATTENTION_REASON_GRACE_PERIOD_EXCEEDED ||
		a.GetNeedsAttentionAt().AsTime().Before(failedAt.Add(grace)) || count(hist, "AlertNeedsAttention") != 1 {
		t.Errorf("alert %v: want it to need attention for its grace period, not before %s", a, failedAt.Add(grace))
	}
	e.noPendingTimers()
	if _, hist := e.alertOf(id); count(hist, "AlertNeedsAttention") != 1 {
		t.Errorf("%d AlertNeedsAttention, want 1", count(hist, "AlertNeedsAttention"))
	}
}

// noPendingTimers waits until the timers stream holds no schedule and no unhandled firing.
func (e *env) noPendingTimers() {
	e.t.Helper()
	eventually(e.t, 30*time.Second, "every grace timer to be handled", func() bool {
		s, err := e.js.Stream(e.t.Context(), "TIMERS")
		if err != nil {
			return false
		}
		info, err := s.Info(e.t.Context())
		return err == nil && info.State.Msgs == 0
	})
}
