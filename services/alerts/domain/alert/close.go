package alert

import (
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
)

// Resolution says what resolved an alert and when.
type Resolution struct {
	// Cause is what resolved it.
	Cause alertsv1.ResolutionCause
	// At is when the record went through or the connection recovered (the fact's time).
	At time.Time
	// AttemptID is the attempt that went through, if any.
	AttemptID string
}

// ResolutionOf returns the resolution a record's success brings.
func ResolutionOf(s *connectorv1.RecordSucceeded) Resolution {
	return Resolution{
		Cause:     alertsv1.ResolutionCause_RESOLUTION_CAUSE_RECORD_SUCCEEDED,
		At:        s.GetSucceededAt().AsTime(),
		AttemptID: s.GetAttemptId(),
	}
}

// Resolve closes the open alert because its record went through (or, for a connection_down
// alert, its connection recovered). It changes nothing when the alert is already closed, or
// when r.At is before the alert's last failure (the success is older than the failure). An alert
// that was never raised is an ErrWrongState.
func (a *Alert) Resolve(r Resolution, now time.Time) error {
	if _, ok := alertsv1.ResolutionCause_name[int32(r.Cause)]; !ok || r.Cause == alertsv1.ResolutionCause_RESOLUTION_CAUSE_UNSPECIFIED {
		return fieldErr("cause", "%v is not a resolution cause", r.Cause)
	}
	if r.At.IsZero() {
		return fieldErr("at", "is required")
	}
	if err := text("attempt_id", r.AttemptID, connector.MaxRefLen, false); err != nil {
		return err
	}
	if err := checkNow(now); err != nil {
		return err
	}
	switch {
	case !a.Exists():
		return a.wrongState("resolve")
	case !a.Open():
		return nil
	case r.At.Before(a.st.GetLastSeenAt().AsTime()):
		return nil // the record failed again after this success
	}
	a.raise(&alertsv1.AlertResolved{
		Alert:       a.ref(),
		Cause:       r.Cause,
		AttemptId:   r.AttemptID,
		ResolvedAt:  timestamppb.New(r.At),
		FirstSeenAt: a.st.GetFirstSeenAt(),
		Occurrences: a.st.GetOccurrences(),
		RecordedAt:  timestamppb.New(now),
	})
	return nil
}

// MaxReasonLen bounds free-text reasons (dismissal, escalation).
const MaxReasonLen = 1024

// Dismiss closes the open alert on a person's behalf: by is who (a user's email or
// "api-key:<id>"), reason why (may be empty). Dismissing an alert that is not open is an
// ErrWrongState.
func (a *Alert) Dismiss(by, reason string, now time.Time) error {
	if err := text("by", by, connector.MaxRefLen, true); err != nil {
		return err
	}
	if err := text("reason", reason, MaxReasonLen, false); err != nil {
		return err
	}
	if err := checkNow(now); err != nil {
		return err
	}
	if !a.Open() {
		return a.wrongState("dismiss")
	}
	a.raise(&alertsv1.AlertDismissed{Alert: a.ref(), DismissedBy: by, Reason: reason, DismissedAt: timestamppb.New(now)})
	return nil
}

// text checks a free-text argument.
func text(field, v string, maxLen int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return fieldErr(field, "is required")
	case len(v) > maxLen:
		return fieldErr(field, "is %d bytes long; at most %d", len(v), maxLen)
	case !utf8.ValidString(v):
		return fieldErr(field, "is not valid UTF-8")
	}
	return nil
}
