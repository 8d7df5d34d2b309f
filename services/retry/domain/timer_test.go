package domain_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/services/retry/domain"
)

// walkOrder fails an order at once on every attempt until the series ends or until stop, and
// returns the delays between each failure and the attempt it scheduled.
func walkOrder(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef, cls domain.Classification, stop time.Time) []time.Duration {
	t.Helper()
	var delays []time.Duration
	attempt := "first"
	for c.Now().Before(stop) {
		must(t, s.RecordFailure(failure(ref, attempt, c.Now()), cls, orderPolicy(), c.Now()))
		next, ok := s.NextAttemptAt()
		if !ok {
			return delays
		}
		delays = append(delays, next.Sub(c.Now()))
		attempt = fireDue(t, s, c).GetAttemptId()
		c.Advance(200 * time.Millisecond) // the owner reports a moment later
	}
	return delays
}

func TestSchedule_hourlyJitterStaysWithinTenPercentAndIsReproducible(t *testing.T) {
	t.Parallel()
	run := func(id string) ([]time.Duration, *domain.Schedule) {
		ref := orderRef(id)
		s, c := newSchedule(ref), newClock()
		return walkOrder(t, s, c, ref, transient, t0.Add(15*day)), s
	}
	delays, s := run("#1001")
	if len(delays) < 300 {
		t.Fatalf("only %d attempts in 15 days", len(delays))
	}
	lo, hi := delays[0], delays[0]
	for i, d := range delays[:len(delays)-1] { // the last one is cut by the deadline
		if d < 54*time.Minute || d > 66*time.Minute+time.Second {
			t.Fatalf("attempt %d is %s after its failure; want 1h ±10%%", i+1, d)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if hi-lo < 8*time.Minute {
		t.Fatalf("delays spread only from %s to %s: no jitter", lo, hi)
	}
	again, _ := run("#1001")
	if !slices.Equal(delays, again) {
		t.Fatal("the same record's delays differ between two runs")
	}
	other, _ := run("#1002")
	if slices.Equal(delays[:10], other[:10]) {
		t.Fatal("two records got the same jitter")
	}
	checkFold(t, s)
}

func TestSchedule_orderExhaustsAfter15Days(t *testing.T) {
	t.Parallel()
	ref := orderRef("#2001")
	s, c := newSchedule(ref), newClock()
	walkOrder(t, s, c, ref, transient, t0.Add(20*day))
	wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED)
	last := s.Changes()[len(s.Changes())-1].(*retryv1.RetryExhausted)
	if last.GetReason() != retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE {
		t.Fatalf("exhausted for %s, want max_age", last.GetReason())
	}
	at := last.GetExhaustedAt().AsTime()
	if at.Before(t0.Add(15*day)) || at.After(t0.Add(15*day+time.Minute)) {
		t.Fatalf("exhausted at %s, %s after the first failure; want 15 days", at, at.Sub(t0))
	}
	if got := last.GetWindow().GetAttempts(); got < 340 || got > 380 {
		t.Fatalf("%d attempts in 15 days of hourly retries", got)
	}
	if _, ok := s.WakeAt(); ok {
		t.Fatal("an exhausted schedule still wants a timer")
	}
	// Nothing moves an exhausted record but a person: a failure and a timer change nothing.
	wantTypes(t, raised(t, s, func() error {
		return s.RecordFailure(failure(ref, "late", c.Advance(time.Hour)), transient, orderPolicy(), c.Now())
	}))
	wantTypes(t, raised(t, s, func() error { return s.Fire(c.Now()) }))
	checkFold(t, s)
}

func TestSchedule_lastAttemptOfTheWindowIsAtTheDeadline(t *testing.T) {
	t.Parallel()
	ref := orderRef("#2101")
	s, c := newSchedule(ref), newClock()
	must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
	deadline, _ := s.Deadline()
	if want := time.Date(2026, 3, 17, 9, 0, 1, 0, time.UTC); !deadline.Equal(want) {
		t.Fatalf("deadline %s, want %s (15 days, rounded up to the second)", deadline, want)
	}
	c.Set(deadline.Add(-10 * time.Minute))
	got := raised(t, s, func() error {
		return s.RecordFailure(failure(ref, "a1", c.Now()), transient, orderPolicy(), c.Now())
	})
	sch := got[0].(*retryv1.RetryScheduled)
	if !sch.GetNextAttemptAt().AsTime().Equal(deadline) || sch.GetReason() != retryv1.ScheduleReason_SCHEDULE_REASON_WINDOW_END {
		t.Fatalf("scheduled at %s for %s; want the deadline %s, window_end", sch.GetNextAttemptAt().AsTime(), sch.GetReason(), deadline)
	}
	due := fireDue(t, s, c)
	// The attempt at the deadline is lost: its follow-up ends the series instead of trying again.
	next, _ := s.WakeAt()
	if !next.After(deadline) {
		t.Fatalf("follow-up at %s, want after the deadline", next)
	}
	c.Set(next)
	wantTypes(t, raised(t, s, func() error { return s.Fire(c.Now()) }), "RetryExhausted")
	// Its late success still completes the series.
	wantTypes(t, raised(t, s, func() error { return s.RecordSucceeded(success(ref, due.GetAttemptId(), c.Now()), c.Now()) }), "RetryCompleted")
	checkFold(t, s)
}

func TestSchedule_fireTwiceFiresOnce(t *testing.T) {
	t.Parallel()
	ref := orderRef("#3001")
	s, c := newSchedule(ref), newClock()
	must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
	next, _ := s.NextAttemptAt()
	wantTypes(t, raised(t, s, func() error { return s.Fire(next.Add(-time.Nanosecond)) }))
	c.Set(next)
	wantTypes(t, raised(t, s, func() error { return s.Fire(c.Now()) }), "RetryAttemptDue")
	wantTypes(t, raised(t, s, func() error { return s.Fire(c.Now()) }))
	wantTypes(t, raised(t, s, func() error { return s.Fire(c.Advance(500 * time.Millisecond)) }))
	if got := s.Attempts(); got != 1 {
		t.Fatalf("%d attempts, want 1", got)
	}
	checkFold(t, s)
}

func TestSchedule_lostAttemptIsRetriedOnTheCadence(t *testing.T) {
	t.Parallel()
	ref := orderRef("#3101")
	s, c := newSchedule(ref), newClock()
	must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
	first := fireDue(t, s, c)
	second := fireDue(t, s, c) // no report came for the first
	if first.GetAttempt() != 1 || second.GetAttempt() != 2 || first.GetAttemptId() == second.GetAttemptId() {
		t.Fatalf("attempts %d (%s) then %d (%s), want 1 then 2 with distinct ids",
			first.GetAttempt(), first.GetAttemptId(), second.GetAttempt(), second.GetAttemptId())
	}
	if d := second.GetFiredAt().AsTime().Sub(first.GetFiredAt().AsTime()); d < 54*time.Minute || d > 67*time.Minute {
		t.Fatalf("follow-up %s after the lost attempt, want about an hour", d)
	}
}

func TestSchedule_retryAfterIsHonouredRoundedUpToTheSecond(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		cls        domain.Classification
		retryAfter time.Duration
		failedAt   time.Time
		wantNext   time.Time // zero: exhausted
		wantReason retryv1.ScheduleReason
	}{
		"later than the cadence, sub-second failure": {
			rateLimited, 2 * time.Hour, t0, // t0 has 250ms
			time.Date(2026, 3, 2, 11, 0, 1, 0, time.UTC), retryv1.ScheduleReason_SCHEDULE_REASON_RETRY_AFTER,
		},
		"later than the cadence, whole seconds": {
			rateLimited, 3*time.Hour + 1500*time.Millisecond, t0.Truncate(time.Second),
			time.Date(2026, 3, 2, 12, 0, 2, 0, time.UTC), retryv1.ScheduleReason_SCHEDULE_REASON_RETRY_AFTER,
		},
		"exactly on a second": {
			rateLimited, 2*time.Hour + 750*time.Millisecond, t0,
			time.Date(2026, 3, 2, 11, 0, 1, 0, time.UTC), retryv1.ScheduleReason_SCHEDULE_REASON_RETRY_AFTER,
		},
		"transient with Retry-After": {
			transient, 90 * time.Minute, t0,
			time.Date(2026, 3, 2, 10, 30, 1, 0, time.UTC), retryv1.ScheduleReason_SCHEDULE_REASON_RETRY_AFTER,
		},
		"past the window": {rateLimited, 16 * day, t0, time.Time{}, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ref := orderRef("#4001 " + name)
			s, c := newSchedule(ref), newClock()
			got := raised(t, s, func() error {
				return s.RecordFailure(withRetryAfter(failure(ref, "a0", tc.failedAt), tc.retryAfter), tc.cls, orderPolicy(), c.Now())
			})
			if tc.wantNext.IsZero() {
				wantTypes(t, got, "RetryExhausted")
				if r := got[0].(*retryv1.RetryExhausted).GetReason(); r != retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE {
					t.Fatalf("reason %s, want max_age", r)
				}
				return
			}
			sch := got[0].(*retryv1.RetryScheduled)
			if next := sch.GetNextAttemptAt().AsTime(); !next.Equal(tc.wantNext) || sch.GetReason() != tc.wantReason {
				t.Fatalf("next attempt %s (%s), want %s (%s)", next, sch.GetReason(), tc.wantNext, tc.wantReason)
			}
			// A whole-second timer that fires just before the time does nothing.
			wantTypes(t, raised(t, s, func() error { return s.Fire(tc.wantNext.Add(-time.Millisecond)) }))
			wantTypes(t, raised(t, s, func() error { return s.Fire(tc.wantNext) }), "RetryAttemptDue")
			checkFold(t, s)
		})
	}
}

func TestSchedule_shortRetryAfterLeavesTheCadence(t *testing.T) {
	t.Parallel()
	ref := orderRef("#4101")
	s, c := newSchedule(ref), newClock()
	must(t, s.RecordFailure(withRetryAfter(failure(ref, "a0", c.Now()), 1500*time.Millisecond), rateLimited, orderPolicy(), c.Now()))
	sch := s.Changes()[0].(*retryv1.RetryScheduled)
	if sch.GetReason() != retryv1.ScheduleReason_SCHEDULE_REASON_FAILURE || !sch.GetNotBefore().AsTime().Equal(time.Date(2026, 3, 2, 9, 0, 2, 0, time.UTC)) {
		t.Fatalf("reason %s, not before %s; want the hourly cadence and not before 09:00:02", sch.GetReason(), sch.GetNotBefore().AsTime())
	}
	// A person's RetryNow after the bound attempts at once.
	c.Advance(time.Minute)
	wantTypes(t, raised(t, s, func() error { return s.RetryNow("ops@example.com", c.Now()) }), "RetryAttemptDue")
}

func TestSchedule_retryNowBeforeRetryAfterWaitsForIt(t *testing.T) {
	t.Parallel()
	ref := orderRef("#4201")
	s, c := newSchedule(ref), newClock()
	must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
	must(t, s.RecordFailure(withRetryAfter(failure(ref, "a1", c.Advance(time.Minute)), 3*time.Hour), rateLimited, orderPolicy(), c.Now()))
	notBefore, _ := s.NextAttemptAt()
	c.Advance(time.Minute)
	wantTypes(t, raised(t, s, func() error { return s.RetryNow("ops@example.com", c.Now()) })) // already there
	// An edit restarts the window but the attempt still waits for Retry-After.
	got := raised(t, s, func() error {
		return s.RecordUpdated(updated(ref, connectorv1.RecordChange_RECORD_CHANGE_EDITED, c.Now()), c.Now())
	})
	wantTypes(t, got, "RetryWindowRestarted", "RetryScheduled")
	if next, _ := s.NextAttemptAt(); !next.Equal(notBefore) {
		t.Fatalf("next attempt %s, want the Retry-After bound %s", next, notBefore)
	}
	checkFold(t, s)
}

func TestSchedule_authBacksOffExponentiallyUpToTheHour(t *testing.T) {
	t.Parallel()
	ref := orderRef("#5001")
	s, c := newSchedule(ref), newClock()
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	attempt := "a0"
	for i, base := range want {
		base *= time.Minute
		got := raised(t, s, func() error {
			return s.RecordFailure(failure(ref, attempt, c.Now()), authFailure, orderPolicy(), c.Now())
		})
		sch := got[0].(*retryv1.RetryScheduled)
		d := sch.GetNextAttemptAt().AsTime().Sub(c.Now())
		if sch.GetReason() != retryv1.ScheduleReason_SCHEDULE_REASON_AUTH_BACKOFF ||
			d < time.Duration(float64(base)*0.9) || d > time.Duration(float64(base)*1.1)+time.Second {
			t.Fatalf("auth failure %d: next attempt in %s (%s), want %s ±10%%", i+1, d, sch.GetReason(), base)
		}
		attempt = fireDue(t, s, c).GetAttemptId()
	}
	// Another class ends the streak: the hourly cadence, then auth starts from a minute again.
	must(t, s.RecordFailure(failure(ref, attempt, c.Now()), transient, orderPolicy(), c.Now()))
	attempt = fireDue(t, s, c).GetAttemptId()
	got := raised(t, s, func() error {
		return s.RecordFailure(failure(ref, attempt, c.Now()), authFailure, orderPolicy(), c.Now())
	})
	if d := got[0].(*retryv1.RetryScheduled).GetNextAttemptAt().AsTime().Sub(c.Now()); d > 67*time.Second {
		t.Fatalf("auth after a transient failure backs off %s, want about a minute", d)
	}
	checkFold(t, s)
}

func TestSchedule_successCompletesTheSeries(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		ref   *connectorv1.RecordRef
		setup func(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef)
	}{
		"scheduled": {orderRef("#6001"), func(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef) {
			must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
		}},
		"waiting for sync": {trackingRef("T-6002"), func(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef) {
			must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, trackingPolicy(0), c.Now()))
		}},
		"held": {orderRef("#6003"), func(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef) {
			must(t, s.RecordFailure(failure(ref, "a0", c.Now()), manual, orderPolicy(), c.Now()))
		}},
		"paused": {orderRef("#6004"), func(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef) {
			must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
			must(t, s.Pause(c.Advance(time.Minute)))
		}},
		"exhausted": {orderRef("#6005"), func(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef) {
			must(t, s.RecordFailure(failure(ref, "a0", c.Now()), rejected, orderPolicy(), c.Now()))
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, c := newSchedule(tc.ref), newClock()
			tc.setup(t, s, c, tc.ref)
			got := raised(t, s, func() error { return s.RecordSucceeded(success(tc.ref, "a1", c.Advance(time.Minute)), c.Now()) })
			wantTypes(t, got, "RetryCompleted")
			wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_COMPLETED)
			if _, ok := s.WakeAt(); ok {
				t.Fatal("a completed schedule still wants a timer")
			}
			// A repeated success, and a failure from before the success, change nothing.
			wantTypes(t, raised(t, s, func() error { return s.RecordSucceeded(success(tc.ref, "a1", c.Now()), c.Now()) }))
			wantTypes(t, raised(t, s, func() error {
				return s.RecordFailure(failure(tc.ref, "old", c.Now().Add(-time.Second)), transient, orderPolicy(), c.Now())
			}))
			// A later failure starts a new series in a new window.
			must(t, s.RecordFailure(failure(tc.ref, "a2", c.Advance(time.Hour)), transient, orderPolicy(), c.Now()))
			if s.WindowNumber() != 2 || s.ConsecutiveFailures() != 1 || s.Attempts() != 0 {
				t.Fatalf("after a new failure: window %d, %d failures, %d attempts; want 2, 1, 0",
					s.WindowNumber(), s.ConsecutiveFailures(), s.Attempts())
			}
			checkFold(t, s)
		})
	}
}

func TestSchedule_successOfARecordThatNeverFailedIsIgnored(t *testing.T) {
	t.Parallel()
	ref := orderRef("#6101")
	s, c := newSchedule(ref), newClock()
	wantTypes(t, raised(t, s, func() error { return s.RecordSucceeded(success(ref, "a1", c.Now()), c.Now()) }))
	wantTypes(t, raised(t, s, func() error {
		return s.RecordUpdated(updated(ref, connectorv1.RecordChange_RECORD_CHANGE_EDITED, c.Now()), c.Now())
	}))
	wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_UNSPECIFIED)
}

func TestSchedule_repeatedFailureReportIsOneFailure(t *testing.T) {
	t.Parallel()
	ref := orderRef("#6201")
	s, c := newSchedule(ref), newClock()
	f := failure(ref, "a0", c.Now())
	must(t, s.RecordFailure(f, transient, orderPolicy(), c.Now()))
	wantTypes(t, raised(t, s, func() error {
		return s.RecordFailure(proto.Clone(f).(*connectorv1.RecordFailed), transient, orderPolicy(), c.Advance(time.Second))
	}))
	if s.ConsecutiveFailures() != 1 {
		t.Fatalf("%d failures, want 1", s.ConsecutiveFailures())
	}
}
