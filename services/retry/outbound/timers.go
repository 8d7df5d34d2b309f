// Package outbound holds the retry service's adapters to JetStream besides the event store: the
// durable timers (events/timer), the index (a key-value bucket) and the publisher of RetryDue
// commands (the RETRY_DUE stream).
package outbound

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/timer"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// DefaultTimerKind is the kind of the retry service's timers: their consumer is timer-retry on the
// timers stream. A persisted identifier.
const DefaultTimerKind = "retry"

// Timers keeps one durable timer per schedule on JetStream message schedules (package
// events/timer), kind DefaultTimerKind, key "<account>.<schedule id>". The timers stream is
// created on first use. It is safe for concurrent use.
type Timers struct {
	lazy *timer.Lazy
	js   jetstream.JetStream
	cfg  timer.Config
	kind string
	log  *slog.Logger
}

// NewTimers returns the timers of kind (DefaultTimerKind when empty) on the timers stream cfg
// describes. It does no I/O.
func NewTimers(js jetstream.JetStream, cfg timer.Config, kind string, log *slog.Logger) (*Timers, error) {
	if kind == "" {
		kind = DefaultTimerKind
	}
	if !timer.ValidKind(kind) {
		return nil, fmt.Errorf("retry timers: kind %q is not a valid timer kind", kind)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lazy, err := timer.NewLazy(js, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("retry timers: %w", err)
	}
	return &Timers{lazy: lazy, js: js, cfg: cfg, kind: kind, log: log}, nil
}

// Ensure creates the timers stream when it is missing.
func (t *Timers) Ensure(ctx context.Context) error {
	_, err := t.lazy.Scheduler(ctx)
	return err
}

// TimerKey returns the timer key of a schedule: "<account>.<schedule id>".
func TimerKey(schedule events.StreamID) string { return schedule.Account + "." + schedule.ID }

// scheduleOf parses a timer key back into the schedule's stream.
func scheduleOf(key string) (events.StreamID, error) {
	account, id, ok := strings.Cut(key, ".")
	st := events.StreamID{AggregateType: domain.AggregateType, Account: account, ID: id}
	if !ok {
		return st, &events.InvalidArgumentError{Field: "timer_key", Reason: fmt.Sprintf("%q is not <account>.<schedule id>", key)}
	}
	return st, st.Validate()
}

// Arm sets the schedule's timer to go off at at, replacing its pending one.
func (t *Timers) Arm(ctx context.Context, schedule events.StreamID, at time.Time) error {
	s, err := t.lazy.Scheduler(ctx)
	if err != nil {
		return err
	}
	return s.Schedule(ctx, t.kind, TimerKey(schedule), at, nil)
}

// Disarm removes the schedule's pending timer.
func (t *Timers) Disarm(ctx context.Context, schedule events.StreamID) error {
	s, err := t.lazy.Scheduler(ctx)
	if err != nil {
		return err
	}
	return s.Cancel(ctx, t.kind, TimerKey(schedule))
}

// Run calls fn for every timer that goes off, until ctx ends (see timer.Scheduler.Run): at least
// once per firing, never before its due time. A key that names no schedule is dropped (logged).
func (t *Timers) Run(ctx context.Context, fn func(ctx context.Context, schedule events.StreamID, dueAt time.Time) error) error {
	s, err := t.lazy.Scheduler(ctx)
	if err != nil {
		return err
	}
	return s.Run(ctx, t.kind, func(ctx context.Context, f timer.Fired) error {
		stream, err := scheduleOf(f.Key)
		if err != nil {
			t.log.Error("retry timer with a bad key dropped", slog.String("timer_key", f.Key), slog.Any("error", err))
			return nil
		}
		return fn(ctx, stream, f.DueAt)
	})
}

// Stream returns the timers stream (created when missing).
func (t *Timers) Stream(ctx context.Context) (jetstream.Stream, error) {
	if _, err := t.lazy.Scheduler(ctx); err != nil {
		return nil, err
	}
	name := t.cfg.Stream
	if name == "" {
		name = timer.DefaultStream
	}
	return t.js.Stream(ctx, name)
}

// ScheduleFilter returns the subject filter of the pending timers of account's schedules in the
// timers stream (events/timer: <prefix>.sched.<kind>.<key>.<unix second>).
func (t *Timers) ScheduleFilter(account string) string {
	prefix := t.cfg.Prefix
	if prefix == "" {
		prefix = timer.DefaultPrefix
	}
	return prefix + ".sched." + t.kind + "." + account + ".*.*"
}
