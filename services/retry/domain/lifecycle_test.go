package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

func TestSchedule_holdUsesNoAgeWindow(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		release    func(s *domain.Schedule, ref *connectorv1.RecordRef, now time.Time) error
		wantEvents []string
		// wantDeadline is the deadline after the release, from the release time and the old one.
		wantDeadline func(now, old time.Time) time.Time
		wantTrigger  retryv1.AttemptTrigger
	}{
		"edit": {
			release: func(s *domain.Schedule, ref *connectorv1.RecordRef, now time.Time) error {
				return s.RecordUpdated(updated(ref, connectorv1.RecordChange_RECORD_CHANGE_EDITED, now), now)
			},
			wantEvents:   []string{"RetryReleased", "RetryAttemptDue"},
			wantDeadline: func(now, _ time.Time) time.Time { return ceil(now.Add(15 * day)) },
			wantTrigger:  retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RECORD_EDITED,
		},
		"resend": {
			release: func(s *domain.Schedule, ref *connectorv1.RecordRef, now time.Time) error {
				return s.RecordUpdated(updated(ref, connectorv1.RecordChange_RECORD_CHANGE_RESEND_REQUESTED, now), now)
			},
			wantEvents:   []string{"RetryReleased", "RetryAttemptDue"},
			wantDeadline: func(now, _ time.Time) time.Time { return ceil(now.Add(15 * day)) },
			wantTrigger:  retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RESEND_REQUESTED,
		},
		"retry now": {
			release: func(s *domain.Schedule, _ *connectorv1.RecordRef, now time.Time) error {
				return s.RetryNow("ops@example.com", now)
			},
			wantEvents:   []string{"RetryReleased", "RetryAttemptDue"},
			wantDeadline: func(now, _ time.Time) time.Time { return ceil(now.Add(15 * day)) },
			wantTrigger:  retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RETRY_NOW,
		},
		"another failure without an edit": {
			release: func(s *domain.Schedule, ref *connectorv1.RecordRef, now time.Time) error {
				return s.RecordFailure(failure(ref, "a9", now), transient, orderPolicy(), now)
			},
			wantEvents: []string{"RetryScheduled"},
			// The window resumes where it stopped: later by the 20 held days.
			wantDeadline: func(_, old time.Time) time.Time { return old.Add(20 * day) },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ref := orderRef("#7001 " + name)
			s, c := newSchedule(ref), newClock()
			must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
			must(t, s.RecordFailure(failure(ref, "a1", c.Advance(time.Hour)), transient, orderPolicy(), c.Now()))
			got := raised(t, s, func() error {
				return s.RecordFailure(failure(ref, "a2", c.Advance(time.Hour)), manual, orderPolicy(), c.Now())
			})
			wantTypes(t, got, "RetryHeld")
			if f := got[0].(*retryv1.RetryHeld).GetFailure(); f.GetAlertType() != "ship_method_unmapped" || f.GetClass() != connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION {
				t.Fatalf("held for %v", f)
			}
			oldDeadline, _ := s.Deadline()
			// Twenty days held: longer than the 15-day window. Nothing fires, nothing expires.
			for range 20 * 24 {
				wantTypes(t, raised(t, s, func() error { return s.Fire(c.Advance(time.Hour)) }))
			}
			wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_HELD)
			if _, ok := s.WakeAt(); ok {
				t.Fatal("a held schedule wants a timer")
			}
			got = raised(t, s, func() error { return tc.release(s, ref, c.Now()) })
			wantTypes(t, got, tc.wantEvents...)
			if d, _ := s.Deadline(); !d.Equal(tc.wantDeadline(c.Now(), oldDeadline)) {
				t.Fatalf("deadline %s, want %s", d, tc.wantDeadline(c.Now(), oldDeadline))
			}
			if tc.wantTrigger != 0 {
				due, _ := s.DueCommand()
				if due.GetTrigger() != tc.wantTrigger || due.GetAttempt() != 1 || due.GetWindow() != 2 || s.ConsecutiveFailures() != 0 {
					t.Fatalf("due %v with %d failures; want attempt 1 of window 2 by %s, budget reset", due, s.ConsecutiveFailures(), tc.wantTrigger)
				}
			} else if s.ConsecutiveFailures() != 3 {
				t.Fatalf("%d failures counted, want 3", s.ConsecutiveFailures())
			}
			wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)
			checkFold(t, s)
		})
	}
}

func ceil(t time.Time) time.Time {
	if tr := t.Truncate(time.Second); !tr.Equal(t) {
		return tr.Add(time.Second)
	}
	return t
}

func TestSchedule_editOrResendAttemptsAtOnceWithAFreshWindow(t *testing.T) {
	t.Parallel()
	states := map[string]struct {
		ref        *connectorv1.RecordRef
		setup      func(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef)
		maxAge     time.Duration
		wantStatus retryv1.RetryStatus
	}{
		"scheduled": {orderRef("#8001"), func(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef) {
			must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
			fireDue(t, s, c)
			must(t, s.RecordFailure(failure(ref, "a1", c.Advance(time.Second)), transient, orderPolicy(), c.Now()))
		}, 15 * day, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED},
		"waiting for sync": {trackingRef("T-8002"), func(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef) {
			must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, trackingPolicy(0), c.Now()))
		}, 3 * day, retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC},
		"exhausted (resend after skip)": {orderRef("#8003"), func(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef) {
			walkOrder(t, s, c, ref, transient, t0.Add(16*day))
			wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED)
			c.Advance(30 * day)
		}, 15 * day, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED},
		"paused": {orderRef("#8004"), func(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef) {
			must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
			must(t, s.Pause(c.Advance(time.Minute)))
		}, 15 * day, retryv1.RetryStatus_RETRY_STATUS_PAUSED},
	}
	changes := map[connectorv1.RecordChange]retryv1.AttemptTrigger{
		connectorv1.RecordChange_RECORD_CHANGE_EDITED:           retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RECORD_EDITED,
		connectorv1.RecordChange_RECORD_CHANGE_RESEND_REQUESTED: retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RESEND_REQUESTED,
	}
	for name, st := range states {
		for change, trigger := range changes {
			t.Run(name+"/"+change.String(), func(t *testing.T) {
				t.Parallel()
				ref := proto.Clone(st.ref).(*connectorv1.RecordRef)
				ref.RecordId += change.String()
				s, c := newSchedule(ref), newClock()
				st.setup(t, s, c, ref)
				window := s.WindowNumber()
				got := raised(t, s, func() error { return s.RecordUpdated(updated(ref, change, c.Advance(time.Minute)), c.Now()) })
				wantTypes(t, got, "RetryWindowRestarted", "RetryAttemptDue")
				due := got[1].(*retryv1.RetryAttemptDue)
				if due.GetTrigger() != trigger || due.GetAttempt() != 1 || int(due.GetWindow()) != window+1 ||
					!due.GetDueAt().AsTime().Equal(c.Now()) || due.GetActor() != "ops@example.com" {
					t.Fatalf("due %v, want attempt 1 of window %d now, by %s", due, window+1, trigger)
				}
				if d, _ := s.Deadline(); !d.Equal(ceil(c.Now().Add(st.maxAge))) {
					t.Fatalf("deadline %s, want %s from now", d, st.maxAge)
				}
				if s.ConsecutiveFailures() != 0 || s.Attempts() != 1 {
					t.Fatalf("%d failures, %d attempts after the restart; want 0 and 1", s.ConsecutiveFailures(), s.Attempts())
				}
				wantStatus(t, s, st.wantStatus)
				checkFold(t, s)
			})
		}
	}
}

func TestSchedule_cancel(t *testing.T) {
	t.Parallel()
	cases := map[string]func(s *domain.Schedule, ref *connectorv1.RecordRef, now time.Time) error{
		"record update": func(s *domain.Schedule, ref *connectorv1.RecordRef, now time.Time) error {
			return s.RecordUpdated(updated(ref, connectorv1.RecordChange_RECORD_CHANGE_CANCELED, now), now)
		},
		"CancelRetry": func(s *domain.Schedule, _ *connectorv1.RecordRef, now time.Time) error {
			return s.Cancel("ops@example.com", now)
		},
	}
	for name, cancel := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ref := orderRef("#9001 " + name)
			s, c := newSchedule(ref), newClock()
			must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
			wantTypes(t, raised(t, s, func() error { return cancel(s, ref, c.Advance(time.Minute)) }), "RetryCanceled")
			wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_CANCELED)
			wantTypes(t, raised(t, s, func() error { return s.Fire(c.Advance(2 * time.Hour)) }))
			if err := s.RetryNow("ops@example.com", c.Now()); !errors.Is(err, domain.ErrWrongState) {
				t.Fatalf("RetryNow of a canceled schedule: %v, want ErrWrongState", err)
			}
			checkFold(t, s)
		})
	}
}

func TestSchedule_pauseAndResumeMoveTheDeadline(t *testing.T) {
	t.Parallel()
	ref := orderRef("#9101")
	s, c := newSchedule(ref), newClock()
	must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
	deadline, _ := s.Deadline()
	next, _ := s.NextAttemptAt()

	wantTypes(t, raised(t, s, func() error { return s.Pause(c.Advance(10 * time.Minute)) }), "RetryPaused")
	wantTypes(t, raised(t, s, func() error { return s.Pause(c.Now()) })) // a repeated outage event
	wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_PAUSED)
	if _, ok := s.WakeAt(); ok {
		t.Fatal("a paused schedule wants a timer")
	}
	// A failure during the outage (the owner's own attempt) counts but keeps the pause.
	must(t, s.RecordFailure(failure(ref, "own", c.Advance(20*time.Minute)), transient, orderPolicy(), c.Now()))
	wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_PAUSED)
	wantTypes(t, raised(t, s, func() error { return s.Fire(next.Add(time.Hour)) }))

	c.Set(t0.Add(5*time.Hour + 10*time.Minute))
	got := raised(t, s, func() error { return s.Resume(c.Now()) })
	wantTypes(t, got, "RetryResumed")
	res := got[0].(*retryv1.RetryResumed)
	if res.GetPausedFor().AsDuration() != 5*time.Hour {
		t.Fatalf("paused for %s, want 5h", res.GetPausedFor().AsDuration())
	}
	if d, _ := s.Deadline(); !d.Equal(deadline.Add(5 * time.Hour)) {
		t.Fatalf("deadline %s, want %s (5 hours later)", d, deadline.Add(5*time.Hour))
	}
	// The attempt whose time passed during the outage is due at once.
	if n, ok := s.NextAttemptAt(); !ok || !n.Equal(ceil(c.Now())) {
		t.Fatalf("next attempt %s, want now (%s)", n, c.Now())
	}
	wantTypes(t, raised(t, s, func() error { return s.Resume(c.Now()) }))
	attempt := fireDue(t, s, c).GetAttemptId()

	// A second outage adds up; the window then ends 15 days plus both outages after it began.
	must(t, s.Pause(c.Advance(time.Minute)))
	must(t, s.Resume(c.Advance(day)))
	c.Advance(time.Second)
	walkFrom(t, s, c, ref, attempt)
	ex := s.Changes()[len(s.Changes())-1].(*retryv1.RetryExhausted)
	want := deadline.Add(5*time.Hour + day)
	if end := ex.GetExhaustedAt().AsTime(); end.Before(want) || end.After(want.Add(time.Minute)) {
		t.Fatalf("exhausted at %s, want %s", end, want)
	}
	checkFold(t, s)
}

// walkFrom fails every attempt until the series ends.
func walkFrom(t *testing.T, s *domain.Schedule, c *clock, ref *connectorv1.RecordRef, attempt string) {
	t.Helper()
	for range 1000 {
		must(t, s.RecordFailure(failure(ref, attempt, c.Now()), transient, orderPolicy(), c.Now()))
		if _, ok := s.NextAttemptAt(); !ok {
			return
		}
		attempt = fireDue(t, s, c).GetAttemptId()
		c.Advance(time.Second)
	}
	t.Fatal("the series never ended")
}

func TestSchedule_pauseOfAHeldRecordKeepsItFrozen(t *testing.T) {
	t.Parallel()
	ref := orderRef("#9201")
	s, c := newSchedule(ref), newClock()
	must(t, s.RecordFailure(failure(ref, "a0", c.Now()), manual, orderPolicy(), c.Now()))
	deadline, _ := s.Deadline()
	must(t, s.Pause(c.Advance(time.Hour)))
	wantStatus(t, s, retryv1.RetryStatus_RETRY_STATUS_HELD)
	must(t, s.Resume(c.Advance(time.Hour)))
	if d, _ := s.Deadline(); !d.Equal(deadline) {
		t.Fatalf("deadline %s, want %s: a held record stays frozen after the outage", d, deadline)
	}
	// Leaving the hold moves the deadline by the whole frozen time.
	must(t, s.RecordFailure(failure(ref, "a1", c.Advance(time.Hour)), transient, orderPolicy(), c.Now()))
	if d, _ := s.Deadline(); !d.Equal(deadline.Add(3 * time.Hour)) {
		t.Fatalf("deadline %s, want %s", d, deadline.Add(3*time.Hour))
	}
	checkFold(t, s)
}

func TestSchedule_pauseWithoutARunningSeriesDoesNothing(t *testing.T) {
	t.Parallel()
	ref := orderRef("#9301")
	s, c := newSchedule(ref), newClock()
	wantTypes(t, raised(t, s, func() error { return s.Pause(c.Now()) }))
	wantTypes(t, raised(t, s, func() error { return s.Resume(c.Now()) }))
	must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
	must(t, s.RecordSucceeded(success(ref, "a1", c.Advance(time.Minute)), c.Now()))
	wantTypes(t, raised(t, s, func() error { return s.Pause(c.Now()) }))
}

func TestSchedule_rejectedIsSkippedAtOnce(t *testing.T) {
	t.Parallel()
	ref := orderRef("#9401")
	s, c := newSchedule(ref), newClock()
	got := raised(t, s, func() error { return s.RecordFailure(failure(ref, "a0", c.Now()), rejected, orderPolicy(), c.Now()) })
	wantTypes(t, got, "RetryExhausted")
	ex := got[0].(*retryv1.RetryExhausted)
	if ex.GetReason() != retryv1.ExhaustedReason_EXHAUSTED_REASON_REJECTED || ex.GetWindow().GetAttempts() != 0 {
		t.Fatalf("exhausted %v, want rejected with no attempts", ex)
	}
	if _, ok := s.WakeAt(); ok {
		t.Fatal("a rejected record wants a timer")
	}
	wantTypes(t, raised(t, s, func() error { return s.RetryNow("ops@example.com", c.Advance(time.Hour)) }), "RetryWindowRestarted", "RetryAttemptDue")
	checkFold(t, s)
}

func TestSchedule_commandErrors(t *testing.T) {
	t.Parallel()
	ref := orderRef("#9501")
	bad := func(mut func(*connectorv1.RecordFailed)) *connectorv1.RecordFailed {
		f := failure(ref, "a0", t0)
		mut(f)
		return f
	}
	badPolicy := orderPolicy()
	badPolicy.Interval = 0
	cases := map[string]struct {
		run       func(s *domain.Schedule) error
		wantField string // empty: ErrWrongState
	}{
		"RetryNow without a series": {func(s *domain.Schedule) error { return s.RetryNow("", t0) }, ""},
		"Cancel without a series":   {func(s *domain.Schedule) error { return s.Cancel("", t0) }, ""},
		"no failure time": {func(s *domain.Schedule) error {
			return s.RecordFailure(bad(func(f *connectorv1.RecordFailed) { f.FailedAt = nil }), transient, orderPolicy(), t0)
		}, "failed_at"},
		"no class": {func(s *domain.Schedule) error {
			return s.RecordFailure(failure(ref, "a0", t0), domain.Classification{}, orderPolicy(), t0)
		}, "class"},
		"bad policy": {func(s *domain.Schedule) error {
			return s.RecordFailure(failure(ref, "a0", t0), transient, badPolicy, t0)
		}, "policy.interval"},
		"another record": {func(s *domain.Schedule) error {
			return s.RecordFailure(failure(orderRef("#other"), "a0", t0), transient, orderPolicy(), t0)
		}, "record"},
		"long actor": {func(s *domain.Schedule) error { return s.RetryNow(strings.Repeat("x", 300), t0) }, "actor"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSchedule(ref)
			err := tc.run(s)
			if tc.wantField == "" {
				var se *domain.StateError
				if !errors.Is(err, domain.ErrWrongState) || !errors.As(err, &se) {
					t.Fatalf("err = %v, want a StateError", err)
				}
				return
			}
			var fe *connector.FieldError
			if !errors.Is(err, events.ErrInvalidArgument) || !errors.As(err, &fe) || fe.Field != tc.wantField {
				t.Fatalf("err = %v, want an invalid argument naming %s", err, tc.wantField)
			}
			if len(s.Changes()) != 0 {
				t.Fatalf("a refused command raised %v", types(s.Changes()))
			}
		})
	}
}

func TestSchedule_dueCommandAndSubject(t *testing.T) {
	t.Parallel()
	if got := domain.DueSubject(orderRef("x")); got != "retry.due.wms.order" {
		t.Fatalf("order subject %q", got)
	}
	if got := domain.DueSubject(trackingRef("x")); got != "retry.due.cart.tracking" {
		t.Fatalf("tracking subject %q", got)
	}
	ref := orderRef("#9601")
	s, c := newSchedule(ref), newClock()
	if _, ok := s.DueCommand(); ok {
		t.Fatal("a new schedule has a due command")
	}
	must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
	due := fireDue(t, s, c)
	ev := s.Changes()[len(s.Changes())-1].(*retryv1.RetryAttemptDue)
	if !proto.Equal(due, domain.DueCommandOf(ev)) {
		t.Fatalf("DueCommand %v differs from DueCommandOf %v", due, domain.DueCommandOf(ev))
	}
	deadline, _ := s.Deadline()
	if due.GetScheduleId() != s.ID() || due.GetAttemptId() != domain.AttemptID(s.ID(), 1, 1) ||
		!proto.Equal(due.GetRecord(), ref) || !due.GetDeadline().AsTime().Equal(deadline) ||
		due.GetTrigger() != retryv1.AttemptTrigger_ATTEMPT_TRIGGER_TIMER || s.DueSubject() != "retry.due.wms.order" {
		t.Fatalf("due command %v", due)
	}
}
