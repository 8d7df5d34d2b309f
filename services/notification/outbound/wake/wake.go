// Package wake keeps the notification service's wake timers: one durable timer per mailbox
// (events/timer, kind Kind, key "<account>.<contact id>"), due when the mailbox next has
// something to do (its contact's next digest, a retry, a claim that runs out). A firing is only
// a prompt: the handler (app Wake) sends what is due at that moment and arms the timer again, so
// a timer that is early, late, repeated or left over does no harm.
package wake

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/timer"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
)

// Kind is the timer kind of wake timers; its consumer is "timer-notification-wake". A persisted
// identifier.
const Kind = "notification-wake"

// Timers schedules wake timers and runs their handler. The timers stream is set up on first
// use, so building one does no I/O. It is safe for concurrent use.
type Timers struct {
	log  *slog.Logger
	lazy *timer.Lazy
	// armed is the time each mailbox's timer was last armed at by this process.
	armed sync.Map
}

// New returns the wake timers on js, with the timers stream cfg describes.
func New(js jetstream.JetStream, cfg timer.Config, log *slog.Logger) (*Timers, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lazy, err := timer.NewLazy(js, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("wake: %w", err)
	}
	return &Timers{lazy: lazy, log: log}, nil
}

// Key returns the timer key of a mailbox.
func Key(stream events.StreamID) string { return timer.AggregateKey(stream) }

// StreamOf returns the mailbox stream a timer key names.
func StreamOf(key string) (events.StreamID, error) {
	return timer.ParseAggregateKey(mailbox.AggregateType, key)
}

// Schedule arms the mailbox's wake timer at at, replacing the one it had. Arming the same time
// again is skipped within the process.
func (t *Timers) Schedule(ctx context.Context, stream events.StreamID, at time.Time) error {
	key := Key(stream)
	if prev, ok := t.armed.Load(key); ok && prev.(time.Time).Equal(at) {
		return nil
	}
	s, err := t.lazy.Scheduler(ctx)
	if err != nil {
		return err
	}
	if err := s.Schedule(ctx, Kind, key, at, nil); err != nil {
		t.armed.Delete(key)
		return err
	}
	t.armed.Store(key, at)
	return nil
}

// Run hands every wake timer that fires to fn until ctx ends; see timer.Scheduler.Run. A
// firing whose key is not a mailbox's is dropped.
func (t *Timers) Run(ctx context.Context, fn func(ctx context.Context, stream events.StreamID, due time.Time) error) error {
	s, err := t.lazy.Scheduler(ctx)
	if err != nil {
		return err
	}
	return s.Run(ctx, Kind, func(ctx context.Context, f timer.Fired) error {
		stream, err := StreamOf(f.Key)
		if err != nil {
			t.log.Error("wake timer with a malformed key dropped", slog.String("timer_key", f.Key), slog.Any("error", err))
			return nil
		}
		if prev, ok := t.armed.Load(f.Key); ok && prev.(time.Time).Equal(f.DueAt) {
			t.armed.Delete(f.Key) // fired: arming it again must publish
		}
		return fn(ctx, stream, f.DueAt)
	})
}
