package alert

import (
	"fmt"
	"regexp"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain"
)

// Failure is a RecordFailure command: a connector's report with its classification.
type Failure struct {
	// Report is the failure as the connector reported it.
	Report *connectorv1.RecordFailed
	// Result is the classifier's verdict on Report.
	Result classify.Result
	// Outage, when set, says the record's connection is down: an alert of a transient or auth
	// class opens (or stays) covered by it, without notifications of its own.
	Outage *alertsv1.OutageRef
}

// Outcome says what a failure did to an alert.
type Outcome int

// Outcomes of RecordFailure and RaiseConnectionDown.
const (
	// Ignored means nothing changed: a repeated attempt, or a failure observed at or before the
	// alert's latest closing.
	Ignored Outcome = iota
	// Raised means a new alert opened: the fingerprint's first, or a new incarnation.
	Raised
	// Occurred means an open alert got one more occurrence.
	Occurred
	// Reopened means a closed alert reopened as a regression.
	Reopened
)

func (o Outcome) String() string {
	switch o {
	case Ignored:
		return "ignored"
	case Raised:
		return "raised"
	case Occurred:
		return "occurred"
	case Reopened:
		return "reopened"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

var alertTypeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// RecordFailure records a failure of the alert's fingerprint: it raises the alert, adds an
// occurrence, reopens it or opens a new incarnation (see the package documentation), then flags
// it covered when f.Outage says the connection is down, and raises AlertNeedsAttention when its
// class needs a person at once. A report that does not belong to this alert, or is invalid, is
// an error wrapping events.ErrInvalidArgument naming the field.
func (a *Alert) RecordFailure(f Failure, now time.Time) (Outcome, error) {
	if err := connector.ValidateFailed(f.Report); err != nil {
		return Ignored, err
	}
	if err := checkResult(f.Result); err != nil {
		return Ignored, err
	}
	if err := checkNow(now); err != nil {
		return Ignored, err
	}
	r := f.Report
	if id := IDOf(r.GetRecord(), f.Result.AlertType); a.stream.ID != "" && id != a.stream.ID {
		return Ignored, fieldErr("record", "the failure's alert is %s, not %s", id, a.stream.ID)
	}
	if f.Outage != nil {
		if err := checkOutage("outage", f.Outage, r.GetRecord().GetConnectionId()); err != nil {
			return Ignored, err
		}
	}
	ref := &alertsv1.AlertRef{
		AlertId:    IDOf(r.GetRecord(), f.Result.AlertType),
		Record:     proto.CloneOf(r.GetRecord()),
		AlertType:  f.Result.AlertType,
		ErrorClass: f.Result.Class,
		Immediate:  f.Result.Immediate,
	}
	failure := &alertsv1.Failure{
		AttemptId:  r.GetAttemptId(),
		Message:    r.GetMessage(),
		Code:       r.GetCode(),
		HttpStatus: r.GetHttpStatus(),
		RuleId:     f.Result.RuleID,
		FailedAt:   r.GetFailedAt(),
	}
	out := a.fail(ref, failure, now)
	if out == Ignored {
		return out, nil
	}
	if f.Outage != nil && coverable(a.st.GetErrorClass()) && !a.coveredBy(f.Outage) {
		a.raise(&alertsv1.AlertCoveredByOutage{Alert: a.ref(), Outage: proto.CloneOf(f.Outage), CoveredAt: timestamppb.New(now)})
	}
	a.attendAtOnce(now)
	return out, nil
}

// RaiseConnectionDown records an outage of the alert's connection (the alert being the
// connection's connection_down alert, see ConnectionAlertID): it raises the alert, reopens it
// or opens a new incarnation like a failure would, and it needs attention at once. immediate
// says whether connection_down alerts are notified at once (classify.Classifier.Immediate).
func (a *Alert) RaiseConnectionDown(down *alertsv1.ConnectionDown, immediate bool, now time.Time) (Outcome, error) {
	if down == nil {
		return Ignored, fieldErr("connection_down", "is required")
	}
	if err := checkNow(now); err != nil {
		return Ignored, err
	}
	c := down.GetConnection()
	if !events.ValidToken(c.GetAccountId()) {
		return Ignored, fieldErr("connection.account_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", c.GetAccountId())
	}
	if err := checkOutage("outage", down.GetOutage(), c.GetConnectionId()); err != nil {
		return Ignored, err
	}
	if id := ConnectionAlertID(c.GetAccountId(), c.GetConnectionId()); a.stream.ID != "" && id != a.stream.ID {
		return Ignored, fieldErr("connection", "the connection's alert is %s, not %s", id, a.stream.ID)
	}
	class := down.GetErrorClass()
	if class != connectorv1.ErrorClass_ERROR_CLASS_AUTH {
		class = connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT
	}
	ref := &alertsv1.AlertRef{
		AlertId: ConnectionAlertID(c.GetAccountId(), c.GetConnectionId()),
		Record: &connectorv1.RecordRef{
			AccountId: c.GetAccountId(), AccountKind: c.GetAccountKind(), WarehouseId: c.GetWarehouseId(),
			ConnectionId: c.GetConnectionId(), SystemKind: c.GetSystemKind(), System: c.GetSystem(),
		},
		AlertType:  classify.TypeConnectionDown,
		ErrorClass: class,
		Immediate:  immediate,
	}
	failure := &alertsv1.Failure{
		AttemptId: fmt.Sprintf("outage-%d", down.GetOutage().GetNumber()),
		Message: fmt.Sprintf("%d records of connection %s failed within %s",
			len(down.GetCoveredRecords()), c.GetConnectionId(), down.GetWindow().AsDuration()),
		Code:     classify.TypeConnectionDown,
		RuleId:   "outage",
		FailedAt: down.GetOutage().GetDownAt(),
	}
	out := a.fail(ref, failure, now)
	if out != Ignored {
		a.attendAtOnce(now)
	}
	return out, nil
}

// fail applies the lifecycle rules to one failure and raises what they decide.
func (a *Alert) fail(ref *alertsv1.AlertRef, f *alertsv1.Failure, now time.Time) Outcome {
	at := f.GetFailedAt().AsTime()
	if !a.closedAt.IsZero() && !at.After(a.closedAt) {
		return Ignored // observed before the alert was last closed
	}
	switch a.Status() {
	case alertsv1.AlertStatus_ALERT_STATUS_UNSPECIFIED:
		ref.Incarnation = 1
		a.raise(&alertsv1.AlertRaised{Alert: ref, Failure: f, RaisedAt: timestamppb.New(now)})
		return Raised
	case alertsv1.AlertStatus_ALERT_STATUS_OPEN:
		if f.GetAttemptId() == a.st.GetLastFailure().GetAttemptId() {
			return Ignored // the same attempt reported twice
		}
		ref.Incarnation = a.st.GetIncarnation()
		a.raise(&alertsv1.AlertOccurred{
			Alert: ref, Failure: f, Occurrences: a.st.GetOccurrences() + 1,
			LastSeenAt: later(a.st.GetLastSeenAt(), f.GetFailedAt()), RecordedAt: timestamppb.New(now),
		})
		return Occurred
	}
	// Resolved or dismissed, and the failure is newer than the closing.
	status, closedAt := a.Status(), a.st.GetResolvedAt()
	if status == alertsv1.AlertStatus_ALERT_STATUS_DISMISSED {
		closedAt = a.st.GetDismissedAt()
	}
	if at.Sub(closedAt.AsTime()) > a.cfg.RegressionWindow {
		ref.Incarnation = a.st.GetIncarnation() + 1
		a.raise(&alertsv1.AlertRaised{Alert: ref, Failure: f, RaisedAt: timestamppb.New(now)})
		return Raised
	}
	ref.Incarnation = a.st.GetIncarnation()
	a.raise(&alertsv1.AlertReopened{
		Alert: ref, Failure: f, PreviousStatus: status, ClosedAt: closedAt,
		ReopenCount: a.st.GetReopenCount() + 1, Occurrences: a.st.GetOccurrences() + 1,
		ReopenedAt: timestamppb.New(now),
	})
	return Reopened
}

// checkResult checks a classification.
func checkResult(r classify.Result) error {
	if !alertTypeRE.MatchString(r.AlertType) {
		return fieldErr("result.alert_type", "%q must be a snake_case alert type", r.AlertType)
	}
	if _, ok := connectorv1.ErrorClass_name[int32(r.Class)]; !ok || r.Class == connectorv1.ErrorClass_ERROR_CLASS_UNSPECIFIED {
		return fieldErr("result.class", "%v is not an error class", r.Class)
	}
	return nil
}

// checkOutage checks an outage reference for the given connection.
func checkOutage(field string, o *alertsv1.OutageRef, connectionID string) error {
	switch {
	case o == nil:
		return fieldErr(field, "is required")
	case !events.ValidToken(o.GetConnectionId()):
		return fieldErr(field+".connection_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", o.GetConnectionId())
	case connectionID != "" && o.GetConnectionId() != connectionID:
		return fieldErr(field+".connection_id", "%q is not the alert's connection %q", o.GetConnectionId(), connectionID)
	case o.GetNumber() == 0:
		return fieldErr(field+".number", "is required")
	case o.GetDownAt() == nil || o.GetDownAt().CheckValid() != nil:
		return fieldErr(field+".down_at", "is required and must be a valid time")
	}
	return nil
}

func checkNow(now time.Time) error {
	if now.IsZero() {
		return fieldErr("now", "is required")
	}
	return nil
}

func fieldErr(field, format string, args ...any) error {
	return &connector.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// wrongState returns the ErrWrongState of a refused command.
func (a *Alert) wrongState(command string) error {
	state := "not raised"
	switch a.Status() {
	case alertsv1.AlertStatus_ALERT_STATUS_OPEN:
		state = "open"
	case alertsv1.AlertStatus_ALERT_STATUS_RESOLVED:
		state = "resolved"
	case alertsv1.AlertStatus_ALERT_STATUS_DISMISSED:
		state = "dismissed"
	}
	return &domain.StateError{Aggregate: AggregateType, ID: a.stream.ID, Command: command, State: state}
}
