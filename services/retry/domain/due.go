package domain

import (
	"fmt"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
)

// DueSubjectPrefix is the first two tokens of every RetryDue subject. A persisted identifier.
const DueSubjectPrefix = "retry.due"

// DueSubject returns the subject a RetryDue for the record is published on:
// retry.due.<system kind>.<record kind>, in lower-case words (retry.due.wms.order,
// retry.due.cart.tracking). The record's owner subscribes to its subjects.
func DueSubject(ref *connectorv1.RecordRef) string {
	return DueSubjectPrefix + "." + SystemKindWord(ref.GetSystemKind()) + "." + KindWord(ref.GetRecordKind())
}

// DueSubject returns the subject of the schedule's RetryDue commands.
func (s *Schedule) DueSubject() string { return DueSubject(s.record) }

// AttemptID returns the id of an attempt of a schedule: "<schedule id>-w<window>-a<attempt>".
// It is unique per attempt over the schedule's whole life, since windows are numbered on.
func AttemptID(scheduleID string, window, attempt uint32) string {
	return fmt.Sprintf("%s-w%d-a%d", scheduleID, window, attempt)
}

// DueCommand returns the RetryDue of the last attempt the schedule made due; false when it made
// none.
func (s *Schedule) DueCommand() (*retryv1.RetryDue, bool) {
	a := s.lastAttempt
	if a == nil {
		return nil, false
	}
	return &retryv1.RetryDue{
		Record: clone(s.record), ScheduleId: s.stream.ID, Window: a.GetWindow(), Attempt: a.GetAttempt(),
		AttemptId: a.GetAttemptId(), DueAt: clone(a.GetDueAt()), FiredAt: clone(a.GetFiredAt()),
		Deadline: ts(s.win.deadline), Trigger: a.GetTrigger(), CycleId: a.GetCycleId(),
	}, true
}

// DueCommandOf returns the RetryDue to publish for a stored RetryAttemptDue, for a consumer of the
// events that does not load the schedule.
func DueCommandOf(e *retryv1.RetryAttemptDue) *retryv1.RetryDue {
	return &retryv1.RetryDue{
		Record: clone(e.GetRecord()), ScheduleId: connector.RecordKeyOf(e.GetRecord()), Window: e.GetWindow(),
		Attempt: e.GetAttempt(), AttemptId: e.GetAttemptId(), DueAt: clone(e.GetDueAt()),
		FiredAt: clone(e.GetFiredAt()), Deadline: clone(e.GetDeadline()), Trigger: e.GetTrigger(),
		CycleId: e.GetCycleId(),
	}
}
