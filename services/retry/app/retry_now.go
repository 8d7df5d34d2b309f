package app

import (
	"context"
	"errors"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// Authorize decides, once the schedule is loaded, whether the caller may learn about it: found
// says whether the record has a schedule, record is its record (nil when not found). A non-nil
// error refuses the call and is returned as is.
type Authorize func(found bool, record *connectorv1.RecordRef) error

// RetryNow is a person asking for an attempt of a record now.
type RetryNow struct {
	// Schedule is the schedule's stream (the record's account and key).
	Schedule events.StreamID
	// Actor is who asks.
	Actor string
	// Authorize checks the caller against the loaded schedule; required.
	Authorize Authorize
}

// RetryNowResult is the schedule after RetryNow.
type RetryNowResult struct {
	// Schedule is the schedule as stored after the command.
	Schedule *retryv1.RetrySchedule
	// AttemptID is the attempt made due; empty when it was scheduled at Retry-After instead.
	AttemptID string
}

// RetryNowHandler makes an attempt due at once (a fresh window for a held or exhausted record).
type RetryNowHandler struct {
	schedules *Schedules
	clock     Clock
}

// NewRetryNowHandler returns the handler; every dependency is required.
func NewRetryNowHandler(schedules *Schedules, clock Clock) (RetryNowHandler, error) {
	if schedules == nil || clock == nil {
		return RetryNowHandler{}, errors.New("retry app: NewRetryNowHandler needs schedules and a clock")
	}
	return RetryNowHandler{schedules: schedules, clock: clock}, nil
}

// Handle runs the command. Errors: the Authorize error, events.ErrNotFound when the record has no
// schedule, domain.ErrWrongState when its state does not allow it, events.ErrInvalidArgument for
// a bad actor, events.ErrConcurrencyConflict when the schedule kept changing.
func (h RetryNowHandler) Handle(ctx context.Context, cmd RetryNow) (RetryNowResult, error) {
	if cmd.Authorize == nil {
		return RetryNowResult{}, errors.New("retry app: RetryNow needs an Authorize check")
	}
	if err := cmd.Schedule.Validate(); err != nil {
		return RetryNowResult{}, err
	}
	now := h.clock.Now()
	var attemptID string
	s, err := h.schedules.Do(ctx, cmd.Schedule, events.Metadata{}, func(s *domain.Schedule) error {
		attemptID = ""
		if err := authorizeLoaded(s, cmd.Schedule, cmd.Authorize); err != nil {
			return err
		}
		if err := s.RetryNow(cmd.Actor, now); err != nil {
			return err
		}
		for _, ev := range s.Changes() {
			if due, ok := ev.(*retryv1.RetryAttemptDue); ok {
				attemptID = due.GetAttemptId()
			}
		}
		return nil
	})
	if err != nil {
		return RetryNowResult{}, err
	}
	return RetryNowResult{Schedule: s, AttemptID: attemptID}, nil
}

// authorizeLoaded runs the caller's check on a loaded schedule and reports a missing one.
func authorizeLoaded(s *domain.Schedule, stream events.StreamID, authorize Authorize) error {
	rec := s.Record()
	if err := authorize(rec != nil, rec); err != nil {
		return err
	}
	if rec == nil {
		return notFound(stream)
	}
	return nil
}
