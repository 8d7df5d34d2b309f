package domain

import (
	"slices"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
)

// Fire is the durable timer's command, called at WakeAt (or any time later). When the pending
// timer attempt is due it makes it due (RetryAttemptDue); when the window is over (a record
// waiting for a sync cycle past its deadline, or a follow-up timer past the deadline whose attempt
// never reported) it ends the series (RetryExhausted, max_age). Otherwise it does nothing, which
// makes it idempotent: firing twice for one attempt makes it due once, and an early or stale
// timer is harmless (re-arm at WakeAt).
//
// In timer mode the due attempt carries a follow-up time on the policy's cadence, so an attempt
// whose report never comes is made due again; the report, when it comes, reschedules it.
func (s *Schedule) Fire(now time.Time) error {
	now = utc(now)
	if s.paused {
		return nil
	}
	switch s.phase {
	case phaseScheduled:
		if s.nextAttemptAt.IsZero() || now.Before(s.nextAttemptAt) {
			return nil
		}
		if s.nextAttemptAt.After(s.win.deadline) {
			s.exhaust(s.record, retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE, nil, s.win, now)
			return nil
		}
		s.fire(s.record, retryv1.AttemptTrigger_ATTEMPT_TRIGGER_TIMER, "", "", s.nextAttemptAt, now)
	case phaseWaiting:
		if !now.Before(s.win.deadline) {
			s.exhaust(s.record, retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE, nil, s.win, now)
		}
	}
	return nil
}

// SyncCycleStarted makes the pending attempt of a record waiting for a sync cycle due, when the
// cycle is of the record's connection, moves the record's kind, started after the last failure
// and the last attempt, and not before the Retry-After (or auth backoff) bound. A cycle at or
// after the deadline ends the series instead (max_age). Any other cycle, a repeated cycle, and a
// cycle while the record is not waiting (scheduled, held, paused, ended) change nothing.
// A cycle of another account or connection is an invalid argument.
func (s *Schedule) SyncCycleStarted(c *connectorv1.SyncCycleStarted, now time.Time) error {
	if err := connector.ValidateSyncCycle(c); err != nil {
		return err
	}
	if s.record == nil {
		return nil
	}
	if c.GetAccountId() != s.record.GetAccountId() || c.GetConnectionId() != s.record.GetConnectionId() {
		return fieldErr("connection_id", "cycle of connection %s (account %s) is not the record's connection %s (account %s)",
			c.GetConnectionId(), c.GetAccountId(), s.record.GetConnectionId(), s.record.GetAccountId())
	}
	if kinds := c.GetRecordKinds(); len(kinds) > 0 && !slices.Contains(kinds, s.record.GetRecordKind()) {
		return nil
	}
	if s.phase != phaseWaiting || s.paused {
		return nil
	}
	now = utc(now)
	started := c.GetStartedAt().AsTime()
	if s.lastAttempt != nil && s.lastAttempt.GetCycleId() == c.GetCycleId() {
		return nil
	}
	if !started.After(s.syncAfter()) || started.Before(s.notBefore) {
		return nil
	}
	if !now.Before(s.win.deadline) {
		s.exhaust(s.record, retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE, nil, s.win, now)
		return nil
	}
	s.fire(s.record, retryv1.AttemptTrigger_ATTEMPT_TRIGGER_SYNC_CYCLE, "", c.GetCycleId(), started, now)
	return nil
}

// syncAfter is the time a cycle must start after to make an attempt due: the last failure and the
// last attempt.
func (s *Schedule) syncAfter() time.Time {
	t := at(s.lastFailure.GetFailedAt())
	if due := at(s.lastAttempt.GetDueAt()); due.After(t) {
		t = due
	}
	return t
}

// RetryNow is RetryService.RetryNow: a person asks for an attempt now. A scheduled or waiting
// record's attempt becomes due at once (even while its connection is down), or at the
// external system's Retry-After bound when that is still ahead (RetryScheduled). A held or
// exhausted record is retried as if it were resent: a fresh window and an attempt. A record
// without a running series (never failed, completed, canceled) is ErrWrongState.
func (s *Schedule) RetryNow(actor string, now time.Time) error {
	if err := validActor(actor); err != nil {
		return err
	}
	now = utc(now)
	const trigger = retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RETRY_NOW
	switch s.phase {
	case phaseScheduled, phaseWaiting:
		s.attemptNow(s.record, trigger, actor, now)
	case phaseHeld, phaseExhausted:
		s.restart(s.record, trigger, actor, now)
	default:
		return &StateError{Command: "RetryNow", Status: s.Status()}
	}
	return nil
}

// restart starts a fresh window (releasing a held record) and makes an attempt due.
func (s *Schedule) restart(rec *connectorv1.RecordRef, trigger retryv1.AttemptTrigger, actor string, now time.Time) {
	w := window{
		number:         s.win.number + 1,
		startedAt:      now,
		firstFailureAt: s.win.firstFailureAt,
		deadline:       ceilSecond(now.Add(s.win.policy.MaxAge)),
		policy:         s.win.policy,
	}
	if s.phase == phaseHeld {
		s.raise(&retryv1.RetryReleased{Record: rec, Trigger: trigger, Actor: actor, Window: w.proto(), ReleasedAt: ts(now)})
	} else {
		s.raise(&retryv1.RetryWindowRestarted{Record: rec, Trigger: trigger, Actor: actor, Window: w.proto(), RestartedAt: ts(now)})
	}
	s.attemptNow(rec, trigger, actor, now)
}

// attemptNow makes the next attempt due now, or schedules it at the Retry-After bound when that is
// still ahead.
func (s *Schedule) attemptNow(rec *connectorv1.RecordRef, trigger retryv1.AttemptTrigger, actor string, now time.Time) {
	if s.notBefore.After(now) {
		if s.phase == phaseScheduled && s.nextAttemptAt.Equal(s.notBefore) {
			return
		}
		s.raise(&retryv1.RetryScheduled{
			Record: rec, Window: s.win.proto(), Attempt: s.win.attempts + 1,
			NextAttemptAt: ts(s.notBefore), NotBefore: ts(s.notBefore),
			Reason: retryv1.ScheduleReason_SCHEDULE_REASON_RETRY_AFTER, ScheduledAt: ts(now),
		})
		return
	}
	s.fire(rec, trigger, actor, "", now, now)
}

// fire makes the next attempt of the window due.
func (s *Schedule) fire(rec *connectorv1.RecordRef, trigger retryv1.AttemptTrigger, actor, cycleID string, dueAt, now time.Time) {
	w := s.win
	attempt := w.attempts + 1
	ev := &retryv1.RetryAttemptDue{
		Record: rec, Window: w.number, Attempt: attempt, AttemptId: AttemptID(s.stream.ID, w.number, attempt),
		DueAt: ts(dueAt), FiredAt: ts(now), Trigger: trigger, CycleId: cycleID, Actor: actor,
		Deadline: ts(w.deadline),
	}
	if p := w.policy; p.Mode == ModeTimer {
		ev.NextAttemptAt = ts(ceilSecond(now.Add(p.Interval + Jitter(s.stream.ID, w.number, attempt+1, p.Interval, p.Jitter))))
	}
	s.raise(ev)
}
