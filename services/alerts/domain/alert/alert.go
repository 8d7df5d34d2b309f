package alert

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
)

// Alert is the alert aggregate of one fingerprint. Build empty ones with New or NewFactory; they
// change only by folding events (Apply) or by commands, which raise events and fold them. Not
// safe for concurrent use.
type Alert struct {
	aggregate.Recorder

	cfg    Config
	stream events.StreamID

	// st is the current incarnation's state; nil until the first AlertRaised.
	st *alertsv1.Alert
	// closedAt is the latest time an incarnation was resolved or dismissed (kept across
	// incarnations): failures observed at or before it are ignored.
	closedAt time.Time
}

var _ aggregate.Root = (*Alert)(nil)

// EventTypes lists every event the alert aggregate stores, for the service's registry.
func EventTypes() []proto.Message {
	return []proto.Message{
		&alertsv1.AlertRaised{}, &alertsv1.AlertOccurred{}, &alertsv1.AlertResolved{},
		&alertsv1.AlertDismissed{}, &alertsv1.AlertReopened{}, &alertsv1.AlertEscalated{},
		&alertsv1.AlertNeedsAttention{}, &alertsv1.AlertCoveredByOutage{}, &alertsv1.AlertUncovered{},
	}
}

// ID returns the alert's id (its stream's id).
func (a *Alert) ID() string { return a.stream.ID }

// Stream returns the alert's stream.
func (a *Alert) Stream() events.StreamID { return a.stream }

// Config returns the policy the alert's commands apply.
func (a *Alert) Config() Config { return a.cfg }

// Exists reports whether the alert was ever raised.
func (a *Alert) Exists() bool { return a.st != nil }

// Status returns the alert's status (unspecified when it was never raised).
func (a *Alert) Status() alertsv1.AlertStatus { return a.st.GetStatus() }

// Open reports whether the alert is open.
func (a *Alert) Open() bool { return a.st.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_OPEN }

// Incarnation returns the current incarnation (0 when never raised).
func (a *Alert) Incarnation() uint32 { return a.st.GetIncarnation() }

// NeedsAttention reports whether the alert needs a person.
func (a *Alert) NeedsAttention() bool { return a.st.GetNeedsAttention() }

// Covered reports whether the alert is covered by a connection outage.
func (a *Alert) Covered() bool { return a.st.GetCoveredByOutage() }

// Snapshot returns a copy of the alert's full state, or nil when it was never raised.
func (a *Alert) Snapshot() *alertsv1.Alert {
	if a.st == nil {
		return nil
	}
	return proto.CloneOf(a.st)
}

// Apply folds one stored event into the state.
func (a *Alert) Apply(r events.Record) error {
	if err := r.Decoded(); err != nil {
		return err
	}
	return a.when(r.Message)
}

// raise folds an event a command decided on and records it.
func (a *Alert) raise(msg proto.Message) {
	if err := a.when(msg); err != nil {
		// Commands raise only the event types when folds; anything else is a bug here.
		panic(fmt.Sprintf("alert: raising %T: %v", msg, err))
	}
	a.Raise(msg)
}

// when folds one event. It depends on the event alone (and the state), never on the config.
func (a *Alert) when(msg proto.Message) error {
	if _, raised := msg.(*alertsv1.AlertRaised); !raised && a.st == nil {
		return fmt.Errorf("alert: %s before AlertRaised", events.TypeName(msg))
	}
	switch e := msg.(type) {
	case *alertsv1.AlertRaised:
		f := e.GetFailure()
		a.st = &alertsv1.Alert{
			AlertId:     e.GetAlert().GetAlertId(),
			Incarnation: e.GetAlert().GetIncarnation(),
			Record:      proto.CloneOf(e.GetAlert().GetRecord()),
			AlertType:   e.GetAlert().GetAlertType(),
			ErrorClass:  e.GetAlert().GetErrorClass(),
			Immediate:   e.GetAlert().GetImmediate(),
			Status:      alertsv1.AlertStatus_ALERT_STATUS_OPEN,
			FirstSeenAt: f.GetFailedAt(),
			LastSeenAt:  f.GetFailedAt(),
			OpenedAt:    f.GetFailedAt(),
			RaisedAt:    e.GetRaisedAt(),
			Occurrences: 1,
			LastFailure: proto.CloneOf(f),
		}
	case *alertsv1.AlertOccurred:
		a.takeRef(e.GetAlert(), e.GetFailure())
		a.st.Occurrences = e.GetOccurrences()
		a.st.LastSeenAt = e.GetLastSeenAt()
	case *alertsv1.AlertReopened:
		a.takeRef(e.GetAlert(), e.GetFailure())
		a.st.Status = alertsv1.AlertStatus_ALERT_STATUS_OPEN
		a.st.Occurrences = e.GetOccurrences()
		a.st.ReopenCount = e.GetReopenCount()
		a.st.ReopenedAt = e.GetReopenedAt()
		a.st.OpenedAt = e.GetFailure().GetFailedAt()
		a.st.LastSeenAt = later(a.st.GetLastSeenAt(), e.GetFailure().GetFailedAt())
		a.st.NeedsAttention, a.st.NeedsAttentionReason, a.st.NeedsAttentionAt = false, alertsv1.AttentionReason_ATTENTION_REASON_UNSPECIFIED, nil
		a.st.Escalated, a.st.EscalationReason, a.st.EscalatedAt = false, "", nil
	case *alertsv1.AlertResolved:
		a.st.Status = alertsv1.AlertStatus_ALERT_STATUS_RESOLVED
		a.st.ResolvedAt = e.GetResolvedAt()
		a.st.ResolutionCause = e.GetCause()
		a.st.ResolvedBy = e.GetAttemptId()
		a.closed(e.GetResolvedAt())
	case *alertsv1.AlertDismissed:
		a.st.Status = alertsv1.AlertStatus_ALERT_STATUS_DISMISSED
		a.st.DismissedAt = e.GetDismissedAt()
		a.st.DismissedBy = e.GetDismissedBy()
		a.st.DismissReason = e.GetReason()
		a.closed(e.GetDismissedAt())
	case *alertsv1.AlertEscalated:
		a.st.Escalated = true
		a.st.EscalationReason = e.GetReason()
		a.st.EscalatedAt = e.GetEscalatedAt()
	case *alertsv1.AlertNeedsAttention:
		a.st.NeedsAttention = true
		a.st.NeedsAttentionReason = e.GetReason()
		a.st.NeedsAttentionAt = e.GetNeedsAttentionAt()
	case *alertsv1.AlertCoveredByOutage:
		a.st.CoveredByOutage = true
		a.st.Outage = proto.CloneOf(e.GetOutage())
		a.st.CoveredAt = e.GetCoveredAt()
	case *alertsv1.AlertUncovered:
		a.st.CoveredByOutage = false
		a.st.UncoveredAt = e.GetRecoveredAt()
	default:
		return fmt.Errorf("alert: %w: %s is not an alert event", events.ErrUnknownType, events.TypeName(msg))
	}
	return nil
}

// takeRef updates what the latest failure says: class, record references, last failure.
func (a *Alert) takeRef(ref *alertsv1.AlertRef, f *alertsv1.Failure) {
	if last := a.st.GetLastFailure(); last != nil && f.GetFailedAt().AsTime().Before(last.GetFailedAt().AsTime()) {
		return // an older failure arrived late: it counts, but says nothing newer
	}
	a.st.LastFailure = proto.CloneOf(f)
	a.st.ErrorClass = ref.GetErrorClass()
	a.st.Immediate = ref.GetImmediate()
	a.st.Record = proto.CloneOf(ref.GetRecord())
}

func (a *Alert) closed(at *timestamppb.Timestamp) {
	if t := at.AsTime(); t.After(a.closedAt) {
		a.closedAt = t
	}
}

// later returns the later of two timestamps.
func later(x, y *timestamppb.Timestamp) *timestamppb.Timestamp {
	if x == nil || (y != nil && y.AsTime().After(x.AsTime())) {
		return y
	}
	return x
}

// ref returns the AlertRef of the current state, for events.
func (a *Alert) ref() *alertsv1.AlertRef {
	return &alertsv1.AlertRef{
		AlertId:     a.st.GetAlertId(),
		Incarnation: a.st.GetIncarnation(),
		Record:      proto.CloneOf(a.st.GetRecord()),
		AlertType:   a.st.GetAlertType(),
		ErrorClass:  a.st.GetErrorClass(),
		Immediate:   a.st.GetImmediate(),
	}
}
