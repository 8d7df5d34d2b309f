package app

import (
	"context"
	"errors"
	"fmt"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// RecordUpdate is a stored RecordUpdated report: the record was edited, resent or cancelled.
type RecordUpdate struct {
	// Env is the envelope of the stored RecordUpdated.
	Env events.Envelope
	// Update is the report.
	Update *connectorv1.RecordUpdated
}

// RecordUpdateHandler applies an edit or a resend (a fresh window and an attempt at once) or a
// cancellation (no further attempts) to the record's schedule.
type RecordUpdateHandler struct {
	schedules *Schedules
	clock     Clock
}

// NewRecordUpdateHandler returns the handler; every dependency is required.
func NewRecordUpdateHandler(schedules *Schedules, clock Clock) (RecordUpdateHandler, error) {
	if schedules == nil || clock == nil {
		return RecordUpdateHandler{}, errors.New("retry app: NewRecordUpdateHandler needs schedules and a clock")
	}
	return RecordUpdateHandler{schedules: schedules, clock: clock}, nil
}

// Handle applies the update. An update of a record without a retry series changes nothing.
func (h RecordUpdateHandler) Handle(ctx context.Context, cmd RecordUpdate) error {
	if err := connector.ValidateUpdated(cmd.Update); err != nil {
		return err
	}
	now := h.clock.Now()
	stream := domain.StreamOf(cmd.Update.GetRecord())
	if _, err := h.schedules.Do(ctx, stream, events.CausedBy(cmd.Env), func(s *domain.Schedule) error {
		return s.RecordUpdated(cmd.Update, now)
	}); err != nil {
		return fmt.Errorf("retry: applying %s of %s: %w", cmd.Update.GetChange(), stream, err)
	}
	return nil
}
