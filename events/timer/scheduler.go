package timer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
)

// Scheduler schedules, reschedules and cancels durable timers and runs the handlers of fired
// ones. It is safe for concurrent use.
type Scheduler struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	cfg    Config
	subj   subjects
	log    *slog.Logger
}

// New returns a Scheduler on js, creating or updating the timers stream (EnsureStream). A nil
// logger discards the log.
func New(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) (*Scheduler, error) {
	if js == nil {
		return nil, errors.New("timer: New needs a JetStream context")
	}
	cfg.setDefaults()
	st, err := EnsureStream(ctx, js, cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{js: js, stream: st, cfg: cfg, subj: subjects{prefix: cfg.Prefix}, log: log}, nil
}

// Schedule arms the timer (kind, key) to fire at at with payload, replacing any pending timer
// of that key (a reschedule). A time in the past fires at once (within about 250 ms). Repeating
// a call with the same arguments replaces the pending timer with an equal one; once the timer
// has fired, a repeat arms it again.
//
// The server schedules in whole seconds: the timer is stored for the start of at's second and
// Run holds a timer that arrives early until at, so a handler never runs before at (by the
// clock of the process that runs it) and normally runs a few milliseconds after it.
//
// A Schedule that returns an error may or may not have replaced the pending timer; retry it.
// A reschedule or cancel racing with the firing of the timer it replaces may still let that
// firing through: handlers get the due time in Fired.DueAt and must ignore a firing their
// state no longer expects.
func (s *Scheduler) Schedule(ctx context.Context, kind, key string, at time.Time, payload []byte) error {
	if err := validate(kind, key); err != nil {
		return err
	}
	if at.IsZero() {
		return &events.InvalidArgumentError{Field: "timer_at", Reason: "the due time is missing"}
	}
	ack, err := s.publish(ctx, kind, key, at, payload)
	if err != nil {
		return err
	}
	// Remove every older generation of the key: the one just stored stays, and so does any
	// newer one a concurrent Schedule stored (last writer wins).
	if err := s.stream.Purge(ctx,
		jetstream.WithPurgeSubject(s.subj.schedules(kind, key)),
		jetstream.WithPurgeSequence(ack.Sequence),
	); err != nil {
		return fmt.Errorf("timer: replacing the earlier schedule of %s %s: %w", kind, key, err)
	}
	return nil
}

// publish stores the schedule of one generation of (kind, key).
func (s *Scheduler) publish(ctx context.Context, kind, key string, at time.Time, payload []byte) (*jetstream.PubAck, error) {
	ack, err := s.js.PublishMsg(ctx, s.scheduleMsg(kind, key, at, payload), s.scheduleOpts(kind, key, at)...)
	if err != nil {
		return nil, fmt.Errorf("timer: scheduling %s %s at %s: %w", kind, key, at.UTC().Format(time.RFC3339Nano), err)
	}
	return ack, nil
}

func (s *Scheduler) scheduleMsg(kind, key string, at time.Time, payload []byte) *nats.Msg {
	m := nats.NewMsg(s.subj.schedule(kind, key, dueSecond(at)))
	m.Header.Set(dueHeader, at.UTC().Format(time.RFC3339Nano))
	m.Data = payload
	return m
}

func (s *Scheduler) scheduleOpts(kind, key string, at time.Time) []jetstream.PublishOpt {
	return []jetstream.PublishOpt{
		jetstream.WithScheduleAt(dueSecond(at)),
		jetstream.WithScheduleTarget(s.subj.fire(kind, key)),
		jetstream.WithExpectStream(s.cfg.Stream),
	}
}

// dueSecond is the whole second the server fires a timer due at at: the start of at's second.
func dueSecond(at time.Time) time.Time {
	sec := at.Unix()
	if sec < 0 {
		sec = 0
	}
	return time.Unix(sec, 0).UTC()
}

// Cancel removes the pending timer (kind, key), and its fired timer when no Run has handled
// it yet. A handler already running for the key finishes. Cancelling a key without a timer is
// not an error.
func (s *Scheduler) Cancel(ctx context.Context, kind, key string) error {
	if err := validate(kind, key); err != nil {
		return err
	}
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(s.subj.schedules(kind, key))); err != nil {
		return fmt.Errorf("timer: cancelling %s %s: %w", kind, key, err)
	}
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(s.subj.fire(kind, key))); err != nil {
		return fmt.Errorf("timer: cancelling the fired timer %s %s: %w", kind, key, err)
	}
	return nil
}
