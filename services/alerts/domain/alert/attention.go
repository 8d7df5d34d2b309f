package alert

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector/classify"
)

// Escalate records that the retry service gave up on the alert's record (retries exhausted):
// AlertEscalated, then AlertNeedsAttention unless the alert already needs attention (or is
// covered by an outage: then Uncover raises it). Escalating
// an escalated alert changes nothing; an alert that is not open is an ErrWrongState (the app
// may acknowledge and drop it: a person dismissed it or the record went through meanwhile).
func (a *Alert) Escalate(reason string, now time.Time) error {
	if err := text("reason", reason, MaxReasonLen, true); err != nil {
		return err
	}
	if err := checkNow(now); err != nil {
		return err
	}
	if !a.Open() {
		return a.wrongState("escalate")
	}
	if a.st.GetEscalated() {
		return nil
	}
	a.raise(&alertsv1.AlertEscalated{
		Alert: a.ref(), Reason: reason, FirstSeenAt: a.st.GetFirstSeenAt(),
		Occurrences: a.st.GetOccurrences(), EscalatedAt: timestamppb.New(now),
	})
	if !a.st.GetNeedsAttention() && !a.st.GetCoveredByOutage() {
		a.needsAttention(alertsv1.AttentionReason_ATTENTION_REASON_RETRIES_EXHAUSTED, now)
	}
	return nil
}

// GraceDeadline returns when the open alert's grace period ends, and false when no timer is
// needed: the alert is not open, already needs attention, or is covered by an outage. The grace
// period runs from the alert's opening, or from the end of the outage that last covered it when
// that is later.
func (a *Alert) GraceDeadline() (time.Time, bool) {
	if !a.Open() || a.st.GetNeedsAttention() || a.st.GetCoveredByOutage() {
		return time.Time{}, false
	}
	start := a.st.GetOpenedAt().AsTime()
	if u := a.st.GetUncoveredAt(); u != nil && u.AsTime().After(start) {
		start = u.AsTime()
	}
	return start.Add(a.cfg.GracePeriod), true
}

// CheckGrace raises AlertNeedsAttention (grace period exceeded) when the grace period is over at
// now, and reports whether it did. It is safe to call at any time: early, late or repeatedly.
func (a *Alert) CheckGrace(now time.Time) bool {
	deadline, ok := a.GraceDeadline()
	if !ok || now.Before(deadline) {
		return false
	}
	a.needsAttention(alertsv1.AttentionReason_ATTENTION_REASON_GRACE_PERIOD_EXCEEDED, now)
	return true
}

// attendAtOnce raises AlertNeedsAttention when the open alert's class (or type) needs a person
// at once and it does not yet, unless an outage covers it.
func (a *Alert) attendAtOnce(now time.Time) {
	if !a.Open() || a.st.GetNeedsAttention() || a.st.GetCoveredByOutage() {
		return
	}
	if reason := atOnceReason(a.st); reason != alertsv1.AttentionReason_ATTENTION_REASON_UNSPECIFIED {
		a.needsAttention(reason, now)
	}
}

// atOnceReason returns why an alert needs attention as soon as it opens, or unspecified.
func atOnceReason(st *alertsv1.Alert) alertsv1.AttentionReason {
	if st.GetAlertType() == classify.TypeConnectionDown {
		return alertsv1.AttentionReason_ATTENTION_REASON_CONNECTION_DOWN
	}
	switch st.GetErrorClass() {
	case connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION:
		return alertsv1.AttentionReason_ATTENTION_REASON_MANUAL_ACTION
	case connectorv1.ErrorClass_ERROR_CLASS_AUTH:
		return alertsv1.AttentionReason_ATTENTION_REASON_AUTH
	case connectorv1.ErrorClass_ERROR_CLASS_REJECTED:
		return alertsv1.AttentionReason_ATTENTION_REASON_REJECTED
	}
	return alertsv1.AttentionReason_ATTENTION_REASON_UNSPECIFIED
}

func (a *Alert) needsAttention(reason alertsv1.AttentionReason, now time.Time) {
	a.raise(&alertsv1.AlertNeedsAttention{
		Alert: a.ref(), Reason: reason, LastFailure: proto.CloneOf(a.st.GetLastFailure()),
		FirstSeenAt: a.st.GetFirstSeenAt(), Occurrences: a.st.GetOccurrences(),
		NeedsAttentionAt: timestamppb.New(now),
	})
}
