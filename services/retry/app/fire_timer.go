package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reboundhq/rebound/events"
)

// FireTimer is a schedule's durable timer going off.
type FireTimer struct {
	// Schedule is the schedule's stream.
	Schedule events.StreamID
	// DueAt is the time the timer was armed for.
	DueAt time.Time
}

// FireTimerHandler runs the schedule's Fire command (idempotent: a pending attempt whose time
// came becomes due, a window that ran out ends the series, a stale timer changes nothing) and
// arms the timer again when the schedule needs one at another time.
type FireTimerHandler struct {
	schedules *Schedules
	clock     Clock
}

// NewFireTimerHandler returns the handler; every dependency is required.
func NewFireTimerHandler(schedules *Schedules, clock Clock) (FireTimerHandler, error) {
	if schedules == nil || clock == nil {
		return FireTimerHandler{}, errors.New("retry app: NewFireTimerHandler needs schedules and a clock")
	}
	return FireTimerHandler{schedules: schedules, clock: clock}, nil
}

// Handle fires the schedule. A timer of a schedule that does not exist is ignored.
func (h FireTimerHandler) Handle(ctx context.Context, cmd FireTimer) error {
	if err := cmd.Schedule.Validate(); err != nil {
		return err
	}
	now := h.clock.Now()
	if now.Before(cmd.DueAt) {
		// The timer never goes off early by the clock of its process; a clock of the service
		// that lags behind must not make Fire ignore it.
		now = cmd.DueAt
	}
	if err := h.schedules.Fire(ctx, cmd.Schedule, cmd.DueAt, now); err != nil {
		return fmt.Errorf("retry: firing the timer of %s due at %s: %w", cmd.Schedule, cmd.DueAt.Format(time.RFC3339Nano), err)
	}
	return nil
}
