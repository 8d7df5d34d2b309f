package domain

import (
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
)

// RecordSucceeded completes the series (RetryCompleted): a success at any time ends it, also
// while held, paused or exhausted. A success of a record without a running or exhausted series
// changes nothing.
func (s *Schedule) RecordSucceeded(m *connectorv1.RecordSucceeded, now time.Time) error {
	if err := connector.ValidateSucceeded(m); err != nil {
		return err
	}
	if err := s.bind(m.GetRecord()); err != nil {
		return err
	}
	if !s.phase.active() && s.phase != phaseExhausted {
		return nil
	}
	s.raise(&retryv1.RetryCompleted{
		Record: m.GetRecord(), AttemptId: m.GetAttemptId(), SucceededAt: m.GetSucceededAt(),
		Window: s.win.number, Attempts: s.win.attempts, CompletedAt: ts(utc(now)),
	})
	return nil
}

// RecordUpdated applies an edit, a resend or a cancellation of the record. An edit or a resend of
// a record with a running or exhausted series starts a fresh window (RetryReleased when it was
// held, RetryWindowRestarted otherwise: new deadline, no failures counted, attempt numbers from 1)
// and makes an attempt due at once (RetryAttemptDue), or at the external system's Retry-After bound
// when that is still ahead. A resend after the record was skipped works the same way. A
// cancellation ends the series (RetryCanceled). Updates of a record without such a series change
// nothing: the owner sends it as usual, and a failure starts a series.
func (s *Schedule) RecordUpdated(u *connectorv1.RecordUpdated, now time.Time) error {
	if err := connector.ValidateUpdated(u); err != nil {
		return err
	}
	if err := s.bind(u.GetRecord()); err != nil {
		return err
	}
	if !s.phase.active() && s.phase != phaseExhausted {
		return nil
	}
	now = utc(now)
	switch u.GetChange() {
	case connectorv1.RecordChange_RECORD_CHANGE_CANCELED:
		s.raise(&retryv1.RetryCanceled{Record: u.GetRecord(), Actor: u.GetActor(), CanceledAt: ts(now)})
	case connectorv1.RecordChange_RECORD_CHANGE_EDITED:
		s.restart(u.GetRecord(), retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RECORD_EDITED, u.GetActor(), now)
	case connectorv1.RecordChange_RECORD_CHANGE_RESEND_REQUESTED:
		s.restart(u.GetRecord(), retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RESEND_REQUESTED, u.GetActor(), now)
	}
	return nil
}

// Cancel is RetryService.CancelRetry: no further attempts (RetryCanceled). It is allowed while the
// series runs or is exhausted (which takes the record off the skipped list); otherwise it is
// ErrWrongState.
func (s *Schedule) Cancel(actor string, now time.Time) error {
	if err := validActor(actor); err != nil {
		return err
	}
	if !s.phase.active() && s.phase != phaseExhausted {
		return &StateError{Command: "CancelRetry", Status: s.Status()}
	}
	s.raise(&retryv1.RetryCanceled{Record: s.record, Actor: actor, CanceledAt: ts(utc(now))})
	return nil
}

// Pause stops the series while the record's connection is down (RetryPaused): no attempt becomes
// due (except one a person asks for) and the age window stands still. It does nothing unless the
// series runs and is not paused already, so a repeated or late outage event is harmless.
func (s *Schedule) Pause(now time.Time) error {
	if !s.phase.active() || s.paused {
		return nil
	}
	s.raise(&retryv1.RetryPaused{Record: s.record, PausedAt: ts(utc(now))})
	return nil
}

// Resume ends a pause (RetryResumed): the deadline moves by the paused time (unless the record is
// also held, whose release starts a fresh window anyway) and a timer attempt whose time passed
// during the pause becomes due at once; the service drains that backlog at a bounded rate. It
// does nothing unless the schedule is paused.
func (s *Schedule) Resume(now time.Time) error {
	if !s.paused {
		return nil
	}
	now = utc(now)
	deadline := s.win.deadline
	if s.phase != phaseHeld {
		deadline = ceilSecond(deadline.Add(nonNegative(now.Sub(s.frozenSince))))
	}
	var next time.Time
	if s.phase == phaseScheduled && !s.nextAttemptAt.IsZero() {
		next = s.nextAttemptAt
		if c := ceilSecond(now); c.After(next) {
			next = c
		}
	}
	s.raise(&retryv1.RetryResumed{
		Record: s.record, ResumedAt: ts(now), PausedFor: durationpb.New(nonNegative(now.Sub(s.pausedSince))),
		Deadline: ts(deadline), NextAttemptAt: ts(next),
	})
	return nil
}

func validActor(actor string) error {
	if len(actor) > connector.MaxRefLen || !utf8.ValidString(actor) {
		return fieldErr("actor", "must be valid UTF-8 of at most %d bytes", connector.MaxRefLen)
	}
	return nil
}
