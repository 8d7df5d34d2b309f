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

// RecordSuccess is a stored RecordSucceeded report: the record's retry series is over.
type RecordSuccess struct {
	// Env is the envelope of the stored RecordSucceeded.
	Env events.Envelope
	// Success is the report.
	Success *connectorv1.RecordSucceeded
}

// RecordSuccessHandler completes the record's schedule and removes its timer.
type RecordSuccessHandler struct {
	schedules *Schedules
	clock     Clock
}

// NewRecordSuccessHandler returns the handler; every dependency is required.
func NewRecordSuccessHandler(schedules *Schedules, clock Clock) (RecordSuccessHandler, error) {
	if schedules == nil || clock == nil {
		return RecordSuccessHandler{}, errors.New("retry app: NewRecordSuccessHandler needs schedules and a clock")
	}
	return RecordSuccessHandler{schedules: schedules, clock: clock}, nil
}

// Handle completes the schedule. A success of a record that never failed changes nothing.
func (h RecordSuccessHandler) Handle(ctx context.Context, cmd RecordSuccess) error {
	if err := connector.ValidateSucceeded(cmd.Success); err != nil {
		return err
	}
	now := h.clock.Now()
	stream := domain.StreamOf(cmd.Success.GetRecord())
	if _, err := h.schedules.Do(ctx, stream, events.CausedBy(cmd.Env), func(s *domain.Schedule) error {
		return s.RecordSucceeded(cmd.Success, now)
	}); err != nil {
		return fmt.Errorf("retry: recording success %s of %s: %w", cmd.Success.GetAttemptId(), stream, err)
	}
	return nil
}
