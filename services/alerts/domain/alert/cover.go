package alert

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
)

// CoverByOutage flags the open alert as covered by an outage of its connection (ConnectionDown,
// RecordCoveredByOutage): it raises no attention of its own and has no grace deadline until
// Uncover. It changes nothing when the alert is closed, already covered by that outage, or of a
// class an outage does not cover (only transient and auth failures count towards an outage).
// An alert that was never raised is an ErrWrongState.
func (a *Alert) CoverByOutage(o *alertsv1.OutageRef, now time.Time) error {
	if err := checkNow(now); err != nil {
		return err
	}
	if !a.Exists() {
		return a.wrongState("cover")
	}
	if err := checkOutage("outage", o, a.st.GetRecord().GetConnectionId()); err != nil {
		return err
	}
	if !a.Open() || !coverable(a.st.GetErrorClass()) || a.coveredBy(o) {
		return nil
	}
	a.raise(&alertsv1.AlertCoveredByOutage{Alert: a.ref(), Outage: proto.CloneOf(o), CoveredAt: timestamppb.New(now)})
	return nil
}

// Uncover removes the flag CoverByOutage set, when the outage o ended at recoveredAt
// (ConnectionRecovered). The alert's grace period runs again from recoveredAt; an open alert
// that escalated while covered needs attention now (AlertNeedsAttention). It changes
// nothing when o does not cover the alert (whatever the alert's status). An alert that was
// never raised is an ErrWrongState.
func (a *Alert) Uncover(o *alertsv1.OutageRef, recoveredAt, now time.Time) error {
	if recoveredAt.IsZero() {
		return fieldErr("recovered_at", "is required")
	}
	if err := checkNow(now); err != nil {
		return err
	}
	if !a.Exists() {
		return a.wrongState("uncover")
	}
	if err := checkOutage("outage", o, a.st.GetRecord().GetConnectionId()); err != nil {
		return err
	}
	if !a.coveredBy(o) {
		return nil
	}
	a.raise(&alertsv1.AlertUncovered{
		Alert: a.ref(), Outage: proto.CloneOf(a.st.GetOutage()),
		RecoveredAt: timestamppb.New(recoveredAt), UncoveredAt: timestamppb.New(now),
	})
	if a.Open() && a.st.GetEscalated() && !a.st.GetNeedsAttention() {
		a.needsAttention(alertsv1.AttentionReason_ATTENTION_REASON_RETRIES_EXHAUSTED, now)
	}
	return nil
}

// coveredBy reports whether the outage o covers the alert now.
func (a *Alert) coveredBy(o *alertsv1.OutageRef) bool {
	cur := a.st.GetOutage()
	return a.st.GetCoveredByOutage() && cur.GetConnectionId() == o.GetConnectionId() && cur.GetNumber() == o.GetNumber()
}

// coverable reports whether failures of the class count towards an outage.
func coverable(c connectorv1.ErrorClass) bool {
	return c == connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT || c == connectorv1.ErrorClass_ERROR_CLASS_AUTH
}
