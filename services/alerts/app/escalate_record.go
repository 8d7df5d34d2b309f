package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

// EscalateRecord is the retry service's RetryExhausted event: it gave up on a record.
type EscalateRecord struct {
	Envelope events.Envelope
	Event    *retryv1.RetryExhausted
}

// EscalateRecordHandler escalates every open alert of the record (retries exhausted). A series
// that ended because the failure was rejected is not an escalation (the alert already needs
// attention for it) and changes nothing.
type EscalateRecordHandler struct{ d Deps }

// Handle escalates the record's alerts. The alert of the failure that ended the series may not
// be stored yet when the series ended at its first failure (see raceWindow): it is waited for.
func (h EscalateRecordHandler) Handle(ctx context.Context, cmd EscalateRecord) error {
	e := cmd.Event
	if e.GetReason() == retryv1.ExhaustedReason_EXHAUSTED_REASON_REJECTED {
		return nil
	}
	ref := e.GetRecord()
	if ref == nil {
		return fieldErr("record", "is required")
	}
	entries, err := h.d.entries(ctx, ref)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(entries)+1)
	for _, en := range entries {
		ids = append(ids, en.AlertID)
	}
	last := ""
	if t := e.GetFailure().GetAlertType(); t != "" {
		last = alert.IDOf(ref, t)
		if !slices.Contains(ids, last) {
			ids = append(ids, last)
		}
	}
	reason := "retries_exhausted: " + strings.ToLower(strings.TrimPrefix(e.GetReason().String(), "EXHAUSTED_REASON_"))
	now := h.d.Clock.Now()
	meta := events.CausedBy(cmd.Envelope)
	return parallel(len(ids), func(i int) error {
		stream := alert.Stream(ref.GetAccountId(), ids[i])
		missing := false
		err := h.d.Alerts.Update(ctx, stream, meta, func(a *alert.Alert) error {
			missing = !a.Exists()
			return a.Escalate(reason, now)
		})
		switch err := applied(err); {
		case err == nil:
			return nil
		case errors.Is(err, domain.ErrWrongState) && missing && ids[i] == last && now.Sub(e.GetExhaustedAt().AsTime()) < raceWindow:
			return fmt.Errorf("alert %s of exhausted record %s is not stored yet: %w", stream.ID, ref.GetRecordId(), errNotYet)
		case errors.Is(err, domain.ErrWrongState):
			return nil // closed meanwhile, or never raised
		default:
			return fmt.Errorf("escalating alert %s: %w", stream.ID, err)
		}
	})
}
