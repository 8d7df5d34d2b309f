package alerts

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
)

// refOf returns the AlertRef every alert event starts with, or nil for another message.
func refOf(msg proto.Message) *alertsv1.AlertRef {
	switch e := msg.(type) {
	case *alertsv1.AlertRaised:
		return e.GetAlert()
	case *alertsv1.AlertOccurred:
		return e.GetAlert()
	case *alertsv1.AlertReopened:
		return e.GetAlert()
	case *alertsv1.AlertResolved:
		return e.GetAlert()
	case *alertsv1.AlertDismissed:
		return e.GetAlert()
	case *alertsv1.AlertEscalated:
		return e.GetAlert()
	case *alertsv1.AlertNeedsAttention:
		return e.GetAlert()
	case *alertsv1.AlertCoveredByOutage:
		return e.GetAlert()
	case *alertsv1.AlertUncovered:
		return e.GetAlert()
	}
	return nil
}

// fold applies one alert event to the state of its incarnation (nil when the read model has no
// row for it yet) and returns the new state. It mirrors the Alert aggregate's fold: the read
// model shows what the aggregate holds. It never changes a message it was given in place (the
// state may share parts with the events), only the state's own fields.
func fold(st *alertsv1.Alert, msg proto.Message) *alertsv1.Alert {
	if raised, ok := msg.(*alertsv1.AlertRaised); ok {
		f := raised.GetFailure()
		ref := raised.GetAlert()
		return &alertsv1.Alert{
			AlertId:     ref.GetAlertId(),
			Incarnation: ref.GetIncarnation(),
			Record:      ref.GetRecord(),
			AlertType:   ref.GetAlertType(),
			ErrorClass:  ref.GetErrorClass(),
			Immediate:   ref.GetImmediate(),
			Status:      alertsv1.AlertStatus_ALERT_STATUS_OPEN,
			FirstSeenAt: f.GetFailedAt(),
			LastSeenAt:  f.GetFailedAt(),
			OpenedAt:    f.GetFailedAt(),
			RaisedAt:    raised.GetRaisedAt(),
			Occurrences: 1,
			LastFailure: f,
		}
	}
	if st == nil {
		// The incarnation's AlertRaised is missing (a store that lost it, or a filter that hid
		// it): keep what the event says rather than stop the read model.
		ref := refOf(msg)
		st = &alertsv1.Alert{
			AlertId: ref.GetAlertId(), Incarnation: ref.GetIncarnation(), Record: ref.GetRecord(),
			AlertType: ref.GetAlertType(), ErrorClass: ref.GetErrorClass(), Immediate: ref.GetImmediate(),
			Status: alertsv1.AlertStatus_ALERT_STATUS_OPEN,
		}
	}
	switch e := msg.(type) {
	case *alertsv1.AlertOccurred:
		takeRef(st, e.GetAlert(), e.GetFailure())
		st.Occurrences = e.GetOccurrences()
		st.LastSeenAt = e.GetLastSeenAt()
	case *alertsv1.AlertReopened:
		takeRef(st, e.GetAlert(), e.GetFailure())
		st.Status = alertsv1.AlertStatus_ALERT_STATUS_OPEN
		st.Occurrences = e.GetOccurrences()
		st.ReopenCount = e.GetReopenCount()
		st.ReopenedAt = e.GetReopenedAt()
		st.OpenedAt = e.GetFailure().GetFailedAt()
		st.LastSeenAt = later(st.GetLastSeenAt(), e.GetFailure().GetFailedAt())
		st.NeedsAttention, st.NeedsAttentionReason, st.NeedsAttentionAt = false, alertsv1.AttentionReason_ATTENTION_REASON_UNSPECIFIED, nil
		st.Escalated, st.EscalationReason, st.EscalatedAt = false, "", nil
	case *alertsv1.AlertResolved:
		st.Status = alertsv1.AlertStatus_ALERT_STATUS_RESOLVED
		st.ResolvedAt = e.GetResolvedAt()
		st.ResolutionCause = e.GetCause()
		st.ResolvedBy = e.GetAttemptId()
	case *alertsv1.AlertDismissed:
		st.Status = alertsv1.AlertStatus_ALERT_STATUS_DISMISSED
		st.DismissedAt = e.GetDismissedAt()
		st.DismissedBy = e.GetDismissedBy()
		st.DismissReason = e.GetReason()
	case *alertsv1.AlertEscalated:
		st.Escalated = true
		st.EscalationReason = e.GetReason()
		st.EscalatedAt = e.GetEscalatedAt()
	case *alertsv1.AlertNeedsAttention:
		st.NeedsAttention = true
		st.NeedsAttentionReason = e.GetReason()
		st.NeedsAttentionAt = e.GetNeedsAttentionAt()
	case *alertsv1.AlertCoveredByOutage:
		st.CoveredByOutage = true
		st.Outage = e.GetOutage()
		st.CoveredAt = e.GetCoveredAt()
	case *alertsv1.AlertUncovered:
		st.CoveredByOutage = false
		st.UncoveredAt = e.GetRecoveredAt()
	}
	return st
}

// takeRef updates what the latest failure says: class, record references, last failure. An
// older failure that arrived late counts, but says nothing newer.
func takeRef(st *alertsv1.Alert, ref *alertsv1.AlertRef, f *alertsv1.Failure) {
	if last := st.GetLastFailure(); last != nil && f.GetFailedAt().AsTime().Before(last.GetFailedAt().AsTime()) {
		return
	}
	st.LastFailure = f
	st.ErrorClass = ref.GetErrorClass()
	st.Immediate = ref.GetImmediate()
	st.Record = ref.GetRecord()
}

// later returns the later of two timestamps.
func later(x, y *timestamppb.Timestamp) *timestamppb.Timestamp {
	if x == nil || (y != nil && y.AsTime().After(x.AsTime())) {
		return y
	}
	return x
}
