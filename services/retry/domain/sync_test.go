package domain_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/services/retry/domain"
)

func TestSchedule_syncCycleMakesTheAttemptDue(t *testing.T) {
	t.Parallel()
	ref := trackingRef("T-1001")
	s, c := newSchedule(ref), newClock()
	before := cycle(ref, "c0", c.Now().Add(-time.Minute), 0) // the cycle the failure happened in
	must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, trackingPolicy(0), c.Now()))
	wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC)
	if _, ok := s.NextAttemptAt(); ok {
		t.Fatal("a record waiting for a sync cycle has a timer attempt")
	}
	if wake, _ := s.WakeAt(); !wake.Equal(time.Date(2026, 3, 5, 9, 0, 1, 0, time.UTC)) {
		t.Fatalf("wakes at %s, want the 3-day deadline", wake)
	}
	// Time alone makes nothing due.
	wantTypes(t, raised(t, s, func() error { return s.Fire(c.Advance(2 * day)) }))

	inventoryOnly := cycle(ref, "c1", c.Now(), 0)
	inventoryOnly.RecordKinds = []connectorv1.RecordKind{connectorv1.RecordKind_RECORD_KIND_INVENTORY}
	for name, cy := range map[string]*connectorv1.SyncCycleStarted{"earlier cycle": before, "other kinds": inventoryOnly} {
		if got := raised(t, s, func() error { return s.SyncCycleStarted(cy, c.Now()) }); len(got) != 0 {
			t.Fatalf("%s raised %v", name, types(got))
		}
	}
	next := cycle(ref, "c2", c.Advance(time.Minute), 0)
	got := raised(t, s, func() error { return s.SyncCycleStarted(next, c.Advance(time.Second)) })
	wantTypes(t, got, "RetryAttemptDue")
	due := got[0].(*retryv1.RetryAttemptDue)
	if due.GetTrigger() != retryv1.AttemptTrigger_ATTEMPT_TRIGGER_SYNC_CYCLE || due.GetCycleId() != "c2" ||
		!due.GetDueAt().AsTime().Equal(next.GetStartedAt().AsTime()) || due.GetNextAttemptAt() != nil {
		t.Fatalf("due %v", due)
	}
	// The same cycle again changes nothing; the next one, with no report in between, retries.
	wantTypes(t, raised(t, s, func() error { return s.SyncCycleStarted(next, c.Now()) }))
	wantTypes(t, raised(t, s, func() error { return s.SyncCycleStarted(cycle(ref, "c3", c.Advance(time.Hour), 0), c.Now()) }), "RetryAttemptDue")
	if s.Attempts() != 2 {
		t.Fatalf("%d attempts, want 2", s.Attempts())
	}
	checkFold(t, s)
}

func TestSchedule_syncCycleOfAnotherConnectionIsInvalid(t *testing.T) {
	t.Parallel()
	ref := trackingRef("T-1101")
	s, c := newSchedule(ref), newClock()
	must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, trackingPolicy(0), c.Now()))
	other := proto.Clone(ref).(*connectorv1.RecordRef)
	other.ConnectionId = "cart-2"
	err := s.SyncCycleStarted(cycle(other, "c1", c.Advance(time.Hour), 0), c.Now())
	var fe *connector.FieldError
	if !errors.As(err, &fe) || fe.Field != "connection_id" {
		t.Fatalf("err = %v, want a FieldError on connection_id", err)
	}
}

func TestSchedule_syncCycleWaitsForRetryAfterAndAuthBackoff(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		cls        domain.Classification
		retryAfter time.Duration
		wantGate   time.Duration // after the failure, before rounding
	}{
		"retry after": {rateLimited, 10*time.Minute + 200*time.Millisecond, 10*time.Minute + 200*time.Millisecond},
		"auth":        {authFailure, 0, time.Minute},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ref := trackingRef("T-1201 " + name)
			s, c := newSchedule(ref), newClock()
			f := failure(ref, "a0", c.Now())
			if tc.retryAfter > 0 {
				withRetryAfter(f, tc.retryAfter)
			}
			got := raised(t, s, func() error { return s.RecordFailure(f, tc.cls, trackingPolicy(0), c.Now()) })
			gate := got[0].(*retryv1.RetryWaitingForSync).GetNotBefore().AsTime()
			if d := gate.Sub(t0); d < time.Duration(float64(tc.wantGate)*0.9) || d > time.Duration(float64(tc.wantGate)*1.1)+time.Second {
				t.Fatalf("not before %s after the failure, want %s", d, tc.wantGate)
			}
			if gate.Nanosecond() != 0 {
				t.Fatalf("not before %s is not a whole second", gate)
			}
			early := cycle(ref, "early", gate.Add(-time.Second), 0)
			wantTypes(t, raised(t, s, func() error { return s.SyncCycleStarted(early, c.Set(gate)) }))
			wantTypes(t, raised(t, s, func() error { return s.SyncCycleStarted(cycle(ref, "on-time", gate, 0), c.Now()) }), "RetryAttemptDue")
		})
	}
}

func TestSchedule_syncWindowScalesWithTheSyncFrequency(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		every      time.Duration
		wantWindow time.Duration
	}{
		"every 15 minutes": {15 * time.Minute, 3 * day},
		"hourly":           {time.Hour, 3 * day},
		"daily":            {day, 30 * day},
		"weekly":           {7 * day, 30 * day},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ref := trackingRef("T-1301 " + name)
			s, c := newSchedule(ref), newClock()
			policy := trackingPolicy(tc.every)
			policy.MaxConsecutiveFailures = 0 // let the window end the series, whatever the cadence
			attempt := "a0"
			for i := 0; s.Status() != retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED; i++ {
				if i > 5000 {
					t.Fatal("never exhausted")
				}
				must(t, s.RecordFailure(failure(ref, attempt, c.Now()), transient, policy, c.Now()))
				if s.Status() == retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED {
					break
				}
				started := c.Advance(tc.every)
				if wake, _ := s.WakeAt(); !started.Before(wake) {
					must(t, s.Fire(c.Set(wake)))
					break
				}
				must(t, s.SyncCycleStarted(cycle(ref, fmt.Sprint("c", i), started, tc.every), c.Advance(time.Second)))
				due, _ := s.DueCommand()
				attempt = due.GetAttemptId()
			}
			ex := s.Changes()[len(s.Changes())-1].(*retryv1.RetryExhausted)
			end := ex.GetExhaustedAt().AsTime()
			if ex.GetReason() != retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE || end.Before(t0.Add(tc.wantWindow)) || end.After(t0.Add(tc.wantWindow+tc.every+time.Minute)) {
				t.Fatalf("exhausted (%s) after %s, want max_age after %s", ex.GetReason(), end.Sub(t0), tc.wantWindow)
			}
			checkFold(t, s)
		})
	}
}

func TestSchedule_maxConsecutiveFailures(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		ref    *connectorv1.RecordRef
		policy domain.Policy
	}{
		"tracking, frequent syncs": {trackingRef("T-1401"), trackingPolicy(5 * time.Minute)},
		"order limited to 100": {orderRef("#1401"), func() domain.Policy {
			p := orderPolicy()
			p.MaxConsecutiveFailures = 100
			return p
		}()},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, c := newSchedule(tc.ref), newClock()
			attempt, failures := "a0", 0
			for s.Status() != retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED {
				must(t, s.RecordFailure(failure(tc.ref, attempt, c.Now()), transient, tc.policy, c.Now()))
				failures++
				if failures > 100 {
					t.Fatal("more than 100 failures in a row")
				}
				if next, ok := s.NextAttemptAt(); ok {
					c.Set(next)
					must(t, s.Fire(c.Now()))
				} else {
					must(t, s.SyncCycleStarted(cycle(tc.ref, fmt.Sprint("c", failures), c.Advance(5*time.Minute), 0), c.Now()))
				}
				due, _ := s.DueCommand()
				attempt = due.GetAttemptId()
			}
			ex := s.Changes()[len(s.Changes())-1].(*retryv1.RetryExhausted)
			if failures != 100 || ex.GetReason() != retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_CONSECUTIVE_FAILURES || ex.GetWindow().GetConsecutiveFailures() != 100 {
				t.Fatalf("exhausted (%s) after %d failures (%d counted), want max_consecutive_failures after 100",
					ex.GetReason(), failures, ex.GetWindow().GetConsecutiveFailures())
			}
			checkFold(t, s)
		})
	}
}

func TestSchedule_manualActionFailuresUseNoBudget(t *testing.T) {
	t.Parallel()
	ref := orderRef("#1501")
	s, c := newSchedule(ref), newClock()
	policy := orderPolicy()
	policy.MaxConsecutiveFailures = 3
	must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, policy, c.Now()))
	must(t, s.RecordFailure(failure(ref, "a1", c.Advance(time.Minute)), transient, policy, c.Now()))
	for i := range 5 {
		must(t, s.RecordFailure(failure(ref, fmt.Sprint("m", i), c.Advance(time.Minute)), manual, policy, c.Now()))
	}
	wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_HELD)
	if s.ConsecutiveFailures() != 2 {
		t.Fatalf("%d failures counted, want 2 (manual-action ones do not count)", s.ConsecutiveFailures())
	}
}
