package domain

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
)

// AggregateType is the aggregate type of retry schedules: their events are stored on
// evt.retry.<account>.<schedule id>.<EventType>. A persisted identifier.
const AggregateType = "retry"

// StreamOf returns the stream of the schedule of the record ref names: the record's account and
// its record key (which is also the schedule id).
func StreamOf(ref *connectorv1.RecordRef) events.StreamID {
	return events.StreamID{AggregateType: AggregateType, Account: ref.GetAccountId(), ID: connector.RecordKeyOf(ref)}
}

// Stream returns the stream of the schedule id (a record key) of account.
func Stream(account, scheduleID string) events.StreamID {
	return events.StreamID{AggregateType: AggregateType, Account: account, ID: scheduleID}
}

// Events returns an empty value of every event type of the aggregate, for the registry.
func Events() []proto.Message {
	return []proto.Message{
		&retryv1.RetryScheduled{},
		&retryv1.RetryWaitingForSync{},
		&retryv1.RetryAttemptDue{},
		&retryv1.RetryHeld{},
		&retryv1.RetryReleased{},
		&retryv1.RetryWindowRestarted{},
		&retryv1.RetryPaused{},
		&retryv1.RetryResumed{},
		&retryv1.RetryCompleted{},
		&retryv1.RetryExhausted{},
		&retryv1.RetryCanceled{},
	}
}

// phase is where the series stands, apart from a connection outage (the paused flag). Its values
// are persisted in snapshots (SnapshotSchema): add new ones at the end, never renumber.
type phase uint8

const (
	phaseNone      phase = iota // no series yet
	phaseScheduled              // an attempt is pending on a timer
	phaseWaiting                // the next sync cycle makes an attempt due
	phaseHeld                   // a person must edit or resend the record
	phaseCompleted
	phaseExhausted
	phaseCanceled
)

// active reports whether the series is running (not ended, not yet started).
func (p phase) active() bool { return p == phaseScheduled || p == phaseWaiting || p == phaseHeld }

// window is the Go form of retryv1.RetryWindow.
type window struct {
	number                  uint32
	startedAt               time.Time
	firstFailureAt          time.Time
	deadline                time.Time
	attempts                uint32
	consecutiveFailures     uint32
	consecutiveAuthFailures uint32
	policy                  Policy
}

func (w window) proto() *retryv1.RetryWindow {
	return &retryv1.RetryWindow{
		Number:                  w.number,
		StartedAt:               ts(w.startedAt),
		FirstFailureAt:          ts(w.firstFailureAt),
		Deadline:                ts(w.deadline),
		Attempts:                w.attempts,
		ConsecutiveFailures:     w.consecutiveFailures,
		Policy:                  w.policy.proto(),
		ConsecutiveAuthFailures: w.consecutiveAuthFailures,
	}
}

func windowOf(m *retryv1.RetryWindow) window {
	return window{
		number:                  m.GetNumber(),
		startedAt:               at(m.GetStartedAt()),
		firstFailureAt:          at(m.GetFirstFailureAt()),
		deadline:                at(m.GetDeadline()),
		attempts:                m.GetAttempts(),
		consecutiveFailures:     m.GetConsecutiveFailures(),
		consecutiveAuthFailures: m.GetConsecutiveAuthFailures(),
		policy:                  policyOf(m.GetPolicy()),
	}
}

// Schedule is the RetrySchedule aggregate: the retry series of one record. It changes only by
// applying its events; commands decide, raise events and apply them to themselves. It is not safe
// for concurrent use (the repository runs one command at a time per schedule). It saves and
// restores its state as a snapshot (MarshalSnapshot): a field added here must be added there.
type Schedule struct {
	aggregate.Recorder

	stream events.StreamID
	record *connectorv1.RecordRef

	phase       phase
	paused      bool
	pausedSince time.Time
	heldSince   time.Time
	// frozenSince is when the age window stopped (held or paused, whichever came first); zero
	// while it runs. Leaving the freeze moves the deadline by the frozen time.
	frozenSince time.Time

	win           window
	nextAttemptAt time.Time // the pending timer attempt; zero when none
	notBefore     time.Time // the external system's Retry-After bound; zero when none

	lastFailure     *retryv1.Failure
	lastAttempt     *retryv1.RetryAttempt
	exhaustedReason retryv1.ExhaustedReason
	endedAt         time.Time
	updatedAt       time.Time
}

var _ aggregate.Root = (*Schedule)(nil)

// New returns the empty schedule of a stream (see StreamOf); it is the factory for
// aggregate.NewRepository. Commands refuse records of another stream.
func New(stream events.StreamID) *Schedule { return &Schedule{stream: stream} }

// ID returns the schedule id (the record key).
func (s *Schedule) ID() string { return s.stream.ID }

// Stream returns the schedule's stream.
func (s *Schedule) Stream() events.StreamID { return s.stream }

// Record returns the record the schedule is for, as its latest event names it; nil before the
// first event. Callers must not modify it.
func (s *Schedule) Record() *connectorv1.RecordRef { return s.record }

// Status returns where the schedule stands.
func (s *Schedule) Status() retryv1.RetryStatus {
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

// NextAttemptAt returns when the pending timer attempt is due; false when none is armed (waiting
// for a sync cycle, held, paused, ended).
func (s *Schedule) NextAttemptAt() (time.Time, bool) {
	if s.phase != phaseScheduled || s.paused || s.nextAttemptAt.IsZero() {
		return time.Time{}, false
	}
	return s.nextAttemptAt, true
}

// WakeAt returns when the service must call Fire: the pending timer attempt, or the deadline of
// a record waiting for a sync cycle (Fire then ends the window, should no cycle come). False when
// no timer is needed (held, paused, ended). The time is whole seconds. The service arms one
// durable timer per schedule at WakeAt after every command.
func (s *Schedule) WakeAt() (time.Time, bool) {
	if t, ok := s.NextAttemptAt(); ok {
		return t, true
	}
	if s.phase == phaseWaiting && !s.paused {
		return s.win.deadline, true
	}
	return time.Time{}, false
}

// Deadline returns when the current window ends, as it stands (a hold or a pause in progress
// moves it later when it ends); false before the first failure.
func (s *Schedule) Deadline() (time.Time, bool) {
	return s.win.deadline, !s.win.deadline.IsZero()
}

// Attempts returns how many retry attempts became due in the current window.
func (s *Schedule) Attempts() int { return int(s.win.attempts) }

// ConsecutiveFailures returns the failures counted against the policy's limit in this window.
func (s *Schedule) ConsecutiveFailures() int { return int(s.win.consecutiveFailures) }

// WindowNumber returns the number of the current window (0 before the first failure).
func (s *Schedule) WindowNumber() int { return int(s.win.number) }

// Policy returns the policy of the last decision.
func (s *Schedule) Policy() Policy { return s.win.policy }

// Snapshot returns the schedule's state as the query message.
func (s *Schedule) Snapshot() *retryv1.RetrySchedule {
	out := &retryv1.RetrySchedule{
		ScheduleId:      s.stream.ID,
		Record:          clone(s.record),
		Status:          s.Status(),
		LastFailure:     clone(s.lastFailure),
		LastAttempt:     clone(s.lastAttempt),
		NotBefore:       ts(s.notBefore),
		ExhaustedReason: s.exhaustedReason,
		EndedAt:         ts(s.endedAt),
		UpdatedAt:       ts(s.updatedAt),
	}
	if s.win.number > 0 {
		out.Window = s.win.proto()
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

// Apply folds one stored event into the state. It copies the values the event carries and never
// recomputes a time, so the same history always rebuilds the same state.
func (s *Schedule) Apply(r events.Record) error {
	if err := r.Decoded(); err != nil {
		return err
	}
	return s.apply(r.Message)
}

// raise applies an event the schedule decided and records it.
func (s *Schedule) raise(msg proto.Message) {
	if err := s.apply(msg); err != nil {
		panic(fmt.Sprintf("retry: applying own event: %v", err)) // every raised type is handled
	}
	s.Raise(msg)
}

func (s *Schedule) apply(msg proto.Message) error {
	switch e := msg.(type) {
	case *retryv1.RetryScheduled:
		s.decided(e.GetRecord(), e.GetFailure(), e.GetWindow())
		s.phase, s.heldSince = phaseScheduled, time.Time{}
		s.nextAttemptAt, s.notBefore = at(e.GetNextAttemptAt()), at(e.GetNotBefore())
		s.refreeze(at(e.GetScheduledAt()))
		s.updatedAt = at(e.GetScheduledAt())
	case *retryv1.RetryWaitingForSync:
		s.decided(e.GetRecord(), e.GetFailure(), e.GetWindow())
		s.phase, s.heldSince = phaseWaiting, time.Time{}
		s.nextAttemptAt, s.notBefore = time.Time{}, at(e.GetNotBefore())
		s.refreeze(at(e.GetWaitingSince()))
		s.updatedAt = at(e.GetWaitingSince())
	case *retryv1.RetryHeld:
		s.decided(e.GetRecord(), e.GetFailure(), e.GetWindow())
		if s.phase != phaseHeld {
			s.heldSince = at(e.GetHeldAt())
		}
		s.phase = phaseHeld
		s.nextAttemptAt, s.notBefore = time.Time{}, time.Time{}
		s.refreeze(at(e.GetHeldAt()))
		s.updatedAt = at(e.GetHeldAt())
	case *retryv1.RetryAttemptDue:
		s.setRecord(e.GetRecord())
		s.win.attempts = e.GetAttempt()
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
		s.refreeze(s.pausedSince)
		s.updatedAt = s.pausedSince
	case *retryv1.RetryResumed:
		s.setRecord(e.GetRecord())
		s.paused, s.pausedSince = false, time.Time{}
		s.win.deadline = at(e.GetDeadline())
		if next := at(e.GetNextAttemptAt()); !next.IsZero() {
			s.nextAttemptAt = next
		}
		s.refreeze(at(e.GetResumedAt()))
		s.updatedAt = at(e.GetResumedAt())
	case *retryv1.RetryCompleted:
		s.setRecord(e.GetRecord())
		s.win.attempts = e.GetAttempts()
		s.ended(phaseCompleted, at(e.GetCompletedAt()))
	case *retryv1.RetryExhausted:
		s.decided(e.GetRecord(), e.GetFailure(), e.GetWindow())
		s.ended(phaseExhausted, at(e.GetExhaustedAt()))
		s.exhaustedReason = e.GetReason()
	case *retryv1.RetryCanceled:
		s.setRecord(e.GetRecord())
		s.ended(phaseCanceled, at(e.GetCanceledAt()))
	default:
		return fmt.Errorf("retry schedule: %w", &events.UnknownTypeError{Type: events.TypeName(msg)})
	}
	return nil
}

// decided applies the parts every decision event shares.
func (s *Schedule) decided(rec *connectorv1.RecordRef, f *retryv1.Failure, w *retryv1.RetryWindow) {
	s.setRecord(rec)
	if f != nil {
		s.lastFailure = f
	}
	if w != nil {
		s.win = windowOf(w)
	}
	s.exhaustedReason, s.endedAt = retryv1.ExhaustedReason_EXHAUSTED_REASON_UNSPECIFIED, time.Time{}
}

// restarted applies a fresh window (RetryReleased, RetryWindowRestarted); the attempt event that
// follows it in the same append sets the phase.
func (s *Schedule) restarted(rec *connectorv1.RecordRef, w *retryv1.RetryWindow, t time.Time) {
	s.decided(rec, nil, w)
	s.phase, s.heldSince, s.nextAttemptAt = phaseScheduled, time.Time{}, time.Time{}
	if s.paused {
		// The fresh window starts frozen: the connection is still down.
		s.pausedSince, s.frozenSince = t, t
	} else {
		s.frozenSince = time.Time{}
	}
	s.updatedAt = t
}

// ended applies the end of a series.
func (s *Schedule) ended(p phase, t time.Time) {
	s.phase, s.endedAt, s.updatedAt = p, t, t
	s.nextAttemptAt, s.notBefore = time.Time{}, time.Time{}
	s.paused, s.pausedSince, s.heldSince, s.frozenSince = false, time.Time{}, time.Time{}, time.Time{}
	s.exhaustedReason = retryv1.ExhaustedReason_EXHAUSTED_REASON_UNSPECIFIED
}

// refreeze starts the freeze at t when the record just became held or paused, and ends it when
// it is neither any more.
func (s *Schedule) refreeze(t time.Time) {
	switch {
	case s.phase != phaseHeld && !s.paused:
		s.frozenSince = time.Time{}
	case s.frozenSince.IsZero():
		s.frozenSince = t
	}
}

func (s *Schedule) setRecord(rec *connectorv1.RecordRef) {
	if rec != nil {
		s.record = rec
	}
}

// ts converts a time to a timestamp; the zero time is nil.
func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// at converts a timestamp to a UTC time; nil is the zero time.
func at(pb *timestamppb.Timestamp) time.Time {
	if pb == nil {
		return time.Time{}
	}
	return pb.AsTime()
}

// clone deep-copies m; a nil message stays nil.
func clone[M proto.Message](m M) M { return proto.Clone(m).(M) }
