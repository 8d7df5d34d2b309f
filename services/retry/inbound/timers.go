package inbound

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/app"
)

// OnTimer returns the handler of the schedules' durable timers: it fires the schedule. An error
// delivers the timer again later; a permanent one (a timer of a broken schedule) is logged and
// dropped, since delivering it again cannot help.
func OnTimer(a app.Application, log *slog.Logger) func(ctx context.Context, schedule events.StreamID, dueAt time.Time) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, schedule events.StreamID, dueAt time.Time) error {
		err := a.Commands.FireTimer.Handle(ctx, app.FireTimer{Schedule: schedule, DueAt: dueAt})
		if err != nil && (errors.Is(err, events.ErrInvalidArgument) || errors.Is(err, events.ErrUnknownType)) {
			log.Error("retry timer dropped", slog.String("schedule", schedule.String()),
				slog.Time("due_at", dueAt), slog.Any("error", err))
			return nil
		}
		return err
	}
}
