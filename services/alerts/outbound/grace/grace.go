// Package grace keeps the alerts service's grace-period timers: one durable timer per alert
// (events/timer, kind Kind, key "<account>.<alert id>"), due when the alert's grace period ends.
// A firing is only a prompt to check the alert: the handler asks the alert (CheckGrace), which
// ignores a firing it no longer expects, so a timer that is early, late, repeated or left over
// from a resolved alert does no harm.
package grace

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/timer"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

// Kind is the timer kind of grace-period timers; its consumer is "timer-alerts-grace". A
// persisted identifier.
const Kind = "alerts-grace"

// Timers schedules grace timers and runs their handler. The timers stream is set up on first
// use, so building one does no I/O. It is safe for concurrent use.
type Timers struct {
	lazy *timer.Lazy
	log  *slog.Logger
}

// New returns the grace timers on js, with the timers stream cfg describes.
func New(js jetstream.JetStream, cfg timer.Config, log *slog.Logger) (*Timers, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lazy, err := timer.NewLazy(js, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("grace: %w", err)
	}
	return &Timers{lazy: lazy, log: log}, nil
}

// Key returns the timer key of an alert.
func Key(stream events.StreamID) string { return timer.AggregateKey(stream) }

// StreamOf returns the alert stream a timer key names.
func StreamOf(key string) (events.StreamID, error) {
	return timer.ParseAggregateKey(alert.AggregateType, key)
}

// Schedule arms the alert's grace timer at at, replacing the one it had.
func (t *Timers) Schedule(ctx context.Context, stream events.StreamID, at time.Time) error {
	s, err := t.lazy.Scheduler(ctx)
	if err != nil {
		return err
	}
	return s.Schedule(ctx, Kind, Key(stream), at, nil)
}

// Run hands every grace timer that fires to fn until ctx ends; see timer.Scheduler.Run. A
// firing whose key is not an alert's is dropped.
func (t *Timers) Run(ctx context.Context, fn func(ctx context.Context, stream events.StreamID, due time.Time) error) error {
	s, err := t.lazy.Scheduler(ctx)
	if err != nil {
		return err
	}
	return s.Run(ctx, Kind, func(ctx context.Context, f timer.Fired) error {
		stream, err := StreamOf(f.Key)
		if err != nil {
			t.log.Error("grace timer with a malformed key dropped", slog.String("timer_key", f.Key), slog.Any("error", err))
			return nil
		}
		return fn(ctx, stream, f.DueAt)
	})
}
