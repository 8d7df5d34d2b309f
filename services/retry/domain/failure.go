package domain

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
)

// Classification is what the classifier said about a failure.
type Classification struct {
	// Class decides whether and how the record is retried.
	Class connectorv1.ErrorClass
	// AlertType is the alert type of the failure (e.g. "ship_method_unmapped"), if any; a held
	// record keeps it so people see what to fix.
	AlertType string
}

func (c Classification) validate() []error {
	var errs []error
	if _, ok := connectorv1.ErrorClass_name[int32(c.Class)]; !ok || c.Class == connectorv1.ErrorClass_ERROR_CLASS_UNSPECIFIED {
		errs = append(errs, fieldErr("class", "must be transient, rate_limited, auth, manual_action or rejected, not %d", c.Class))
	}
	if len(c.AlertType) > connector.MaxRefLen || !utf8.ValidString(c.AlertType) {
		errs = append(errs, fieldErr("alert_type", "must be valid UTF-8 of at most %d bytes", connector.MaxRefLen))
	}
	return errs
}

// RecordFailure records a failure of the record and decides what follows, by class:
//
//   - transient and rate_limited: the next attempt per the policy. Timer mode: now + Interval ±
//     Jitter, never before failed_at + Retry-After rounded up to the whole second, and not after
//     the deadline (the last attempt of a window is at the deadline). Sync-cycle mode: the first
//     sync cycle of the connection that starts after the failure and not before Retry-After.
//   - auth: as above with an exponential backoff (AuthBackoff of the auth failures in a row, ±
//     Jitter) instead of the interval; in sync-cycle mode the backoff delays the cycle that may
//     retry.
//   - manual_action: the record is held (RetryHeld) until it is edited or resent; the failure
//     uses no budget and the window does not age while held.
//   - rejected: never retried automatically: the series ends at once (RetryExhausted with reason
//     rejected), and a resend or an edit starts a fresh window.
//
// The series gives up (RetryExhausted) at the policy's consecutive-failure limit, when the
// failure comes at or after the deadline, or when Retry-After reaches past it. The first failure
// of a record (or the first after its series ended) starts a new series whose window begins at
// failed_at. A repeated report (same attempt id and time), a failure older than the end of the
// last series, and a failure of an exhausted record (it is skipped until a person resends it)
// change nothing. A non-manual failure of a held record ends the hold.
//
// Bad input is an error wrapping events.ErrInvalidArgument that names the field.
func (s *Schedule) RecordFailure(f *connectorv1.RecordFailed, c Classification, p Policy, now time.Time) error {
	if err := connector.ValidateFailed(f); err != nil {
		return err
	}
	errs := c.validate()
	if err := p.Validate(); err != nil {
		errs = append(errs, prefixed("policy", err)...)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := s.bind(f.GetRecord()); err != nil {
		return err
	}
	now = utc(now)
	failedAt := f.GetFailedAt().AsTime()
	if lf := s.lastFailure; lf != nil && lf.GetAttemptId() == f.GetAttemptId() && at(lf.GetFailedAt()).Equal(failedAt) {
		return nil
	}
	switch s.phase {
	case phaseExhausted:
		return nil
	case phaseCompleted, phaseCanceled:
		if failedAt.Before(s.endedAt) {
			return nil
		}
	}

	rec, fail := f.GetRecord(), failureOf(f, c)
	w, frozen := s.win, !s.frozenSince.IsZero()
	if !s.phase.active() {
		w = window{
			number:         s.win.number + 1,
			startedAt:      failedAt,
			firstFailureAt: failedAt,
			deadline:       ceilSecond(failedAt.Add(p.MaxAge)),
		}
		frozen = false
	}
	w.policy = p

	switch c.Class {
	case connectorv1.ErrorClass_ERROR_CLASS_REJECTED:
		w.consecutiveFailures++
		w.consecutiveAuthFailures = 0
		s.exhaust(rec, retryv1.ExhaustedReason_EXHAUSTED_REASON_REJECTED, fail, w, now)
		return nil
	case connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION:
		s.raise(&retryv1.RetryHeld{Record: rec, Failure: fail, Window: w.proto(), HeldAt: ts(now)})
		return nil
	}

	if s.phase == phaseHeld && !s.paused {
		// The hold ends: the window runs again, later by the held time.
		w.deadline = ceilSecond(w.deadline.Add(nonNegative(now.Sub(s.frozenSince))))
		frozen = false
	}
	deadline := w.deadline
	if frozen {
		// Paused: the window stands still; judge against the deadline it will have.
		deadline = ceilSecond(deadline.Add(nonNegative(now.Sub(s.frozenSince))))
	}
	auth := c.Class == connectorv1.ErrorClass_ERROR_CLASS_AUTH
	w.consecutiveFailures++
	if auth {
		w.consecutiveAuthFailures++
	} else {
		w.consecutiveAuthFailures = 0
	}
	if p.MaxConsecutiveFailures > 0 && w.consecutiveFailures >= uint32(p.MaxConsecutiveFailures) {
		s.exhaust(rec, retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_CONSECUTIVE_FAILURES, fail, w, now)
		return nil
	}
	if !now.Before(deadline) {
		s.exhaust(rec, retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE, fail, w, now)
		return nil
	}
	var notBefore time.Time
	if ra := f.GetRetryAfter(); ra != nil && ra.AsDuration() > 0 {
		notBefore = ceilSecond(failedAt.Add(ra.AsDuration()))
	}
	attempt := w.attempts + 1

	if p.Mode == ModeSyncCycle {
		gate, reason := notBefore, retryv1.ScheduleReason_SCHEDULE_REASON_FAILURE
		if !gate.IsZero() {
			reason = retryv1.ScheduleReason_SCHEDULE_REASON_RETRY_AFTER
		}
		if auth {
			d := p.AuthBackoff(int(w.consecutiveAuthFailures))
			if t := ceilSecond(now.Add(d + Jitter(s.stream.ID, w.number, attempt, d, p.Jitter))); t.After(gate) {
				gate, reason = t, retryv1.ScheduleReason_SCHEDULE_REASON_AUTH_BACKOFF
			}
		}
		if gate.After(deadline) {
			s.exhaust(rec, retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE, fail, w, now)
			return nil
		}
		s.raise(&retryv1.RetryWaitingForSync{
			Record: rec, Failure: fail, Window: w.proto(), Attempt: attempt,
			NotBefore: ts(gate), Reason: reason, WaitingSince: ts(now),
		})
		return nil
	}

	delay, reason := p.Interval, retryv1.ScheduleReason_SCHEDULE_REASON_FAILURE
	if auth {
		delay, reason = p.AuthBackoff(int(w.consecutiveAuthFailures)), retryv1.ScheduleReason_SCHEDULE_REASON_AUTH_BACKOFF
	}
	jitter := Jitter(s.stream.ID, w.number, attempt, delay, p.Jitter)
	next := ceilSecond(now.Add(delay + jitter))
	if notBefore.After(next) {
		next, reason, jitter = notBefore, retryv1.ScheduleReason_SCHEDULE_REASON_RETRY_AFTER, 0
	}
	if next.After(deadline) {
		if notBefore.After(deadline) {
			s.exhaust(rec, retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE, fail, w, now)
			return nil
		}
		next, reason, jitter = deadline, retryv1.ScheduleReason_SCHEDULE_REASON_WINDOW_END, 0
	}
	s.raise(&retryv1.RetryScheduled{
		Record: rec, Failure: fail, Window: w.proto(), Attempt: attempt,
		NextAttemptAt: ts(next), Jitter: durationpb.New(jitter), NotBefore: ts(notBefore),
		Reason: reason, ScheduledAt: ts(now),
	})
	return nil
}

// exhaust ends the series.
func (s *Schedule) exhaust(rec *connectorv1.RecordRef, reason retryv1.ExhaustedReason, f *retryv1.Failure, w window, now time.Time) {
	s.raise(&retryv1.RetryExhausted{Record: rec, Failure: f, Window: w.proto(), Reason: reason, ExhaustedAt: ts(now)})
}

func failureOf(f *connectorv1.RecordFailed, c Classification) *retryv1.Failure {
	return &retryv1.Failure{
		AttemptId:  f.GetAttemptId(),
		Message:    f.GetMessage(),
		Code:       f.GetCode(),
		HttpStatus: f.GetHttpStatus(),
		RetryAfter: clone(f.GetRetryAfter()),
		FailedAt:   clone(f.GetFailedAt()),
		Class:      c.Class,
		AlertType:  c.AlertType,
	}
}

// bind checks that ref is the schedule's record (the schedule of a fresh value takes it).
func (s *Schedule) bind(ref *connectorv1.RecordRef) error {
	st := StreamOf(ref)
	if s.stream.ID == "" {
		s.stream = st
		return nil
	}
	if st.Account != s.stream.Account || st.ID != s.stream.ID {
		return fieldErr("record", "is record %s of account %s, not this schedule's record %s of account %s",
			st.ID, st.Account, s.stream.ID, s.stream.Account)
	}
	return nil
}

func fieldErr(field, format string, args ...any) error {
	return &connector.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

func nonNegative(d time.Duration) time.Duration { return max(d, 0) }

// utc drops the monotonic reading and the location, so stored and computed times compare alike.
func utc(t time.Time) time.Time { return t.UTC().Round(0) }
