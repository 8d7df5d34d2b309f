package app

import (
	"context"
	"errors"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// CancelRetry is a person asking to stop retrying a record.
type CancelRetry struct {
	// Schedule is the schedule's stream (the record's account and key).
	Schedule events.StreamID
	// Actor is who asks.
	Actor string
	// Authorize checks the caller against the loaded schedule; required.
	Authorize Authorize
}

// CancelRetryHandler cancels the record's retry series and removes its timer.
type CancelRetryHandler struct {
	schedules *Schedules
	clock     Clock
}

// NewCancelRetryHandler returns the handler; every dependency is required.
func NewCancelRetryHandler(schedules *Schedules, clock Clock) (CancelRetryHandler, error) {
	if schedules == nil || clock == nil {
		return CancelRetryHandler{}, errors.New("retry app: NewCancelRetryHandler needs schedules and a clock")
	}
	return CancelRetryHandler{schedules: schedules, clock: clock}, nil
}

// Handle runs the command and returns the schedule after it. Errors as RetryNowHandler.Handle.
func (h CancelRetryHandler) Handle(ctx context.Context, cmd CancelRetry) (*retryv1.RetrySchedule, error) {
	if cmd.Authorize == nil {
		return nil, errors.New("retry app: CancelRetry needs an Authorize check")
	}
	if err := cmd.Schedule.Validate(); err != nil {
		return nil, err
	}
	now := h.clock.Now()
	return h.schedules.Do(ctx, cmd.Schedule, events.Metadata{}, func(s *domain.Schedule) error {
		if err := authorizeLoaded(s, cmd.Schedule, cmd.Authorize); err != nil {
			return err
		}
		return s.Cancel(cmd.Actor, now)
	})
}
