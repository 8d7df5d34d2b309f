package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

// CheckGrace is a grace timer that fired for an alert.
type CheckGrace struct {
	Stream events.StreamID
	// DueAt is the timer's due time; with the stream it identifies the firing, so a firing
	// handled twice raises nothing twice.
	DueAt time.Time
}

// CheckGraceHandler makes an open alert whose grace period is over need attention. A firing the
// alert no longer expects (resolved, covered, already needing attention) changes nothing; one
// that came before a deadline that moved later (the alert was uncovered or reopened) arms the
// timer again.
type CheckGraceHandler struct{ d Deps }

// Handle checks the alert.
func (h CheckGraceHandler) Handle(ctx context.Context, cmd CheckGrace) error {
	now := h.d.Clock.Now()
	id := events.DeterministicEventID("alerts-grace", cmd.Stream.String(), cmd.DueAt.UTC().Format(time.RFC3339Nano))
	meta := events.Metadata{CorrelationID: id, CausationID: id}
	var dl deadline
	err := h.d.Alerts.Update(ctx, cmd.Stream, meta, func(a *alert.Alert) error {
		a.CheckGrace(now)
		dl = deadlineOf(a)
		return nil
	})
	if errors.Is(err, aggregate.ErrAlreadyApplied) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking the grace period of alert %s: %w", cmd.Stream.ID, err)
	}
	if dl.ok && dl.at.After(now) {
		return h.d.schedule(ctx, cmd.Stream, dl)
	}
	return nil
}
