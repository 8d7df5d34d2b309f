package retryqueue

import (
	"math"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"
)

// phase is where the series stands apart from an outage (the paused flag), as the aggregate
// keeps it. Stored: never renumber.
type phase int64

const (
	phaseNone phase = iota
	phaseScheduled
	phaseWaiting
	phaseHeld
	phaseCompleted
	phaseExhausted
	phaseCanceled
)

// schedule is one record's retry schedule as the read model folds it. It mirrors the
// RetrySchedule aggregate's fold (copying what events carry, never recomputing a time) so that
// the state it shows is the aggregate's Snapshot.
type schedule struct {
	id              string
	record          *connectorv1.RecordRef
	phase           phase
	paused          bool
	pausedSince     time.Time
	heldSince       time.Time
	win             *retryv1.RetryWindow // never changed in place: events may share it
	nextAttemptAt   time.Time
	notBefore       time.Time
	lastFailure     *retryv1.Failure
	lastAttempt     *retryv1.RetryAttempt
	exhaustedReason retryv1.ExhaustedReason
	endedAt         time.Time
	updatedAt       time.Time
}

// apply folds one retry event; it reports false for a message that is not one.
func (s *schedule) apply(msg proto.Message) bool {
	switch e := msg.(type) {
	case *retryv1.RetryScheduled:
		s.decided(e.GetRecord(), e.GetFailure(), e.GetWindow())
		s.phase, s.heldSince = phaseScheduled, time.Time{}
		s.nextAttemptAt, s.notBefore = at(e.GetNextAttemptAt()), at(e.GetNotBefore())
		s.updatedAt = at(e.GetScheduledAt())
	case *retryv1.RetryWaitingForSync:
		s.decided(e.GetRecord(), e.GetFailure(), e.GetWindow())
		s.phase, s.heldSince = phaseWaiting, time.Time{}
		s.nextAttemptAt, s.notBefore = time.Time{}, at(e.GetNotBefore())
		s.updatedAt = at(e.GetWaitingSince())
	case *retryv1.RetryHeld:
		s.decided(e.GetRecord(), e.GetFailure(), e.GetWindow())
		if s.phase != phaseHeld {
			s.heldSince = at(e.GetHeldAt())
		}
		s.phase = phaseHeld
		s.nextAttemptAt, s.notBefore = time.Time{}, time.Time{}
		s.updatedAt = at(e.GetHeldAt())
	case *retryv1.RetryAttemptDue:
		s.setRecord(e.GetRecord())
		s.setWindow(func(w *retryv1.RetryWindow) { w.Attempts = e.GetAttempt() })
		s.lastAttempt = &retryv1.RetryAttempt{
			Window: e.GetWindow(), Attempt: e.GetAttempt(), AttemptId: e.GetAttemptId(),
			DueAt: e.GetDueAt(), FiredAt: e.GetFiredAt(), Trigger: e.GetTrigger(),
			CycleId: e.GetCycleId(), Actor: e.GetActor(),
		}
		if next := at(e.GetNextAttemptAt()); !next.IsZero() {
			s.phase, s.nextAttemptAt = phaseScheduled, next
		} else {
			s.phase, s.nextAttemptAt = phaseWaiting, time.Time{}
		}
		s.updatedAt = at(e.GetFiredAt())
	case *retryv1.RetryReleased:
		s.restarted(e.GetRecord(), e.GetWindow(), at(e.GetReleasedAt()))
	case *retryv1.RetryWindowRestarted:
		s.restarted(e.GetRecord(), e.GetWindow(), at(e.GetRestartedAt()))
	case *retryv1.RetryPaused:
		s.setRecord(e.GetRecord())
		s.paused, s.pausedSince = true, at(e.GetPausedAt())
		s.updatedAt = s.pausedSince
	case *retryv1.RetryResumed:
		s.setRecord(e.GetRecord())
		s.paused, s.pausedSince = false, time.Time{}
		s.setWindow(func(w *retryv1.RetryWindow) { w.Deadline = e.GetDeadline() })
		if next := at(e.GetNextAttemptAt()); !next.IsZero() {
			s.nextAttemptAt = next
		}
		s.updatedAt = at(e.GetResumedAt())
	case *retryv1.RetryCompleted:
		s.setRecord(e.GetRecord())
		s.setWindow(func(w *retryv1.RetryWindow) { w.Attempts = e.GetAttempts() })
		s.ended(phaseCompleted, at(e.GetCompletedAt()))
	case *retryv1.RetryExhausted:
		s.decided(e.GetRecord(), e.GetFailure(), e.GetWindow())
		s.ended(phaseExhausted, at(e.GetExhaustedAt()))
		s.exhaustedReason = e.GetReason()
	case *retryv1.RetryCanceled:
		s.setRecord(e.GetRecord())
		s.ended(phaseCanceled, at(e.GetCanceledAt()))
	default:
		return false
	}
	return true
}

func (s *schedule) decided(rec *connectorv1.RecordRef, f *retryv1.Failure, w *retryv1.RetryWindow) {
	s.setRecord(rec)
	if f != nil {
		s.lastFailure = f
	}
	if w != nil {
		s.win = w
	}
	s.exhaustedReason, s.endedAt = retryv1.ExhaustedReason_EXHAUSTED_REASON_UNSPECIFIED, time.Time{}
}

func (s *schedule) restarted(rec *connectorv1.RecordRef, w *retryv1.RetryWindow, t time.Time) {
	s.decided(rec, nil, w)
	s.phase, s.heldSince, s.nextAttemptAt = phaseScheduled, time.Time{}, time.Time{}
	if s.paused {
		s.pausedSince = t
	}
	s.updatedAt = t
}

func (s *schedule) ended(p phase, t time.Time) {
	s.phase, s.endedAt, s.updatedAt = p, t, t
	s.nextAttemptAt, s.notBefore = time.Time{}, time.Time{}
	s.paused, s.pausedSince, s.heldSince = false, time.Time{}, time.Time{}
	s.exhaustedReason = retryv1.ExhaustedReason_EXHAUSTED_REASON_UNSPECIFIED
}

func (s *schedule) setRecord(rec *connectorv1.RecordRef) {
	if rec != nil {
		s.record = rec
	}
}

// setWindow changes a copy of the window (events may share the current one).
func (s *schedule) setWindow(fn func(*retryv1.RetryWindow)) {
	w := &retryv1.RetryWindow{}
	if s.win != nil {
		w = proto.CloneOf(s.win)
	}
	fn(w)
	s.win = w
}

// status is the schedule's status, as the aggregate reports it.
func (s *schedule) status() retryv1.RetryStatus {
	switch s.phase {
	case phaseScheduled, phaseWaiting:
		if s.paused {
			return retryv1.RetryStatus_RETRY_STATUS_PAUSED
		}
		if s.phase == phaseScheduled {
			return retryv1.RetryStatus_RETRY_STATUS_SCHEDULED
		}
		return retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC
	case phaseHeld:
		return retryv1.RetryStatus_RETRY_STATUS_HELD
	case phaseCompleted:
		return retryv1.RetryStatus_RETRY_STATUS_COMPLETED
	case phaseExhausted:
		return retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED
	case phaseCanceled:
		return retryv1.RetryStatus_RETRY_STATUS_CANCELED
	}
	return retryv1.RetryStatus_RETRY_STATUS_UNSPECIFIED
}

// snapshot returns the query state, as the aggregate's Snapshot does.
func (s *schedule) snapshot() *retryv1.RetrySchedule {
	out := &retryv1.RetrySchedule{
		ScheduleId:      s.id,
		Record:          s.record,
		Status:          s.status(),
		LastFailure:     s.lastFailure,
		LastAttempt:     s.lastAttempt,
		NotBefore:       ts(s.notBefore),
		ExhaustedReason: s.exhaustedReason,
		EndedAt:         ts(s.endedAt),
		UpdatedAt:       ts(s.updatedAt),
	}
	if s.win.GetNumber() > 0 {
		out.Window = s.win
	}
	if s.phase == phaseScheduled {
		out.NextAttemptAt = ts(s.nextAttemptAt)
	}
	if s.phase == phaseHeld {
		out.HeldSince = ts(s.heldSince)
	}
	if s.paused {
		out.PausedSince = ts(s.pausedSince)
	}
	return out
}

// restore rebuilds the fold state from a stored snapshot and the private columns.
func restore(st *retryv1.RetrySchedule, ph phase, paused bool, nextRaw int64) *schedule {
	s := &schedule{
		id: st.GetScheduleId(), record: st.GetRecord(), phase: ph, paused: paused,
		pausedSince: at(st.GetPausedSince()), heldSince: at(st.GetHeldSince()), win: st.GetWindow(),
		notBefore: at(st.GetNotBefore()), lastFailure: st.GetLastFailure(), lastAttempt: st.GetLastAttempt(),
		exhaustedReason: st.GetExhaustedReason(), endedAt: at(st.GetEndedAt()), updatedAt: at(st.GetUpdatedAt()),
	}
	if nextRaw != 0 {
		s.nextAttemptAt = time.Unix(0, nextRaw).UTC()
	}
	return s
}

// Queues a schedule can be in (stored: never renumber).
const (
	queueNone    = 0
	queuePending = 1
	queueHeld    = 2
	queueSkipped = 3
)

// noDueTime sorts pending records without a timer after every timed one.
const noDueTime = math.MaxInt64

// queue returns the schedule's queue and its sort time there.
func (s *schedule) queue() (int64, int64) {
	switch s.status() {
	case retryv1.RetryStatus_RETRY_STATUS_SCHEDULED, retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC, retryv1.RetryStatus_RETRY_STATUS_PAUSED:
		if s.phase == phaseScheduled && !s.nextAttemptAt.IsZero() {
			return queuePending, s.nextAttemptAt.UnixNano()
		}
		return queuePending, noDueTime
	case retryv1.RetryStatus_RETRY_STATUS_HELD:
		return queueHeld, nanosOf(s.heldSince)
	case retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED:
		return queueSkipped, nanosOf(s.endedAt)
	}
	return queueNone, nanosOf(s.updatedAt)
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func at(pb *timestamppb.Timestamp) time.Time {
	if pb == nil {
		return time.Time{}
	}
	return pb.AsTime()
}

func nanosOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
