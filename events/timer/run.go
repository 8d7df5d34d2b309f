package timer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
)

// Fired is a timer that came due.
type Fired struct {
	// Kind and Key name the timer as Schedule got them.
	Kind string
	Key  string
	// DueAt is the time Schedule got, to the nanosecond, in UTC.
	DueAt time.Time
	// FiredAt is when Run handed the timer to the handler: never before DueAt by the clock of
	// the process that runs the handler.
	FiredAt time.Time
	// Payload is the payload Schedule got.
	Payload []byte
	// Delivery counts the deliveries of this firing: 1 the first time, more after a handler
	// failed, timed out or its process stopped before acknowledging.
	Delivery int
}

// Handler handles a fired timer. Returning nil acknowledges the firing: it is never delivered
// again. Returning an error delivers it again after a backoff (Config.RetryDelay, doubling, up to
// Config.MaxRetryDelay), forever.
//
// Delivery is at least once: a handler may see the same firing again (after a crash between the
// handler's effect and the acknowledgement), and a firing that a reschedule or cancel raced
// with. A handler must therefore be idempotent and compare DueAt with its own state (the retry
// service: an idempotent Fire command on the aggregate, which ignores a due time it no longer
// expects); the effect is then exactly once. Handlers run concurrently (Config.Workers) for
// different keys, and in rare cases for the same key.
type Handler func(ctx context.Context, f Fired) error

// Run handles the fired timers of kind with fn until ctx ends, then returns nil after the
// handlers in progress have returned. It reads them through the durable consumer "timer-<kind>"
// (created or updated here), so timers that fired while no Run was running are handled when one
// starts; several processes may run the same kind and share the work. Run returns an error when
// the consumer cannot be created or the connection is closed; it rides out server restarts and a
// deleted consumer by creating the consumer again.
func (s *Scheduler) Run(ctx context.Context, kind string, fn Handler) error {
	if !ValidKind(kind) {
		return &events.InvalidArgumentError{Field: "timer_kind", Reason: fmt.Sprintf("%q must be 1-%d characters of A-Z a-z 0-9 _ -", kind, MaxKindLen)}
	}
	if fn == nil {
		return errors.New("timer: Run needs a handler")
	}
	cons, err := s.consumer(ctx, kind)
	if err != nil {
		return err
	}
	r := &runner{s: s, kind: kind, fn: fn, work: make(chan jetstream.Msg),
		log: s.log.With(slog.String("timer_kind", kind))}
	var workers sync.WaitGroup
	for range s.cfg.Workers {
		workers.Go(func() {
			for m := range r.work {
				r.handle(ctx, m)
			}
		})
	}
	err = r.consumeUntilDone(ctx, cons)
	r.holds.Wait()
	close(r.work)
	workers.Wait()
	return err
}

func (s *Scheduler) consumer(ctx context.Context, kind string) (jetstream.Consumer, error) {
	c, err := s.js.CreateOrUpdateConsumer(ctx, s.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       consumerName(kind),
		Description:   "Rebound timers of kind " + kind,
		FilterSubject: s.subj.fireFilter(kind),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: s.cfg.MaxPending,
	})
	if err != nil {
		return nil, fmt.Errorf("timer: creating consumer %s on stream %s: %w", consumerName(kind), s.cfg.Stream, err)
	}
	return c, nil
}

type runner struct {
	s     *Scheduler
	kind  string
	fn    Handler
	work  chan jetstream.Msg
	holds sync.WaitGroup
	log   *slog.Logger
}

// consumeUntilDone reads fired timers until ctx ends, starting over with a fresh consumer after
// an error the iterator cannot recover from.
func (r *runner) consumeUntilDone(ctx context.Context, cons jetstream.Consumer) error {
	for {
		err := r.consume(ctx, cons)
		if ctx.Err() != nil {
			return nil
		}
		if connClosed(err) {
			return fmt.Errorf("timer: reading fired timers of %s: %w", r.kind, err)
		}
		r.log.Warn("timer consumer interrupted; starting it again", slog.Any("error", err))
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.s.cfg.RetryDelay):
			}
			if cons, err = r.s.consumer(ctx, r.kind); err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			if connClosed(err) {
				return err
			}
			r.log.Warn("timer consumer not available", slog.Any("error", err))
		}
	}
}

func connClosed(err error) bool {
	return errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrConnectionClosed)
}

func (r *runner) consume(ctx context.Context, cons jetstream.Consumer) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(min(r.s.cfg.MaxPending, 256)))
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				releaseBuffered(it)
			}
			return err
		}
		r.dispatch(ctx, m)
	}
}

// releaseBuffered gives the fired timers the iterator has buffered back to the server, so that
// another process handles them at once instead of after the ack wait.
func releaseBuffered(it jetstream.MessagesContext) {
	it.Drain()
	for {
		m, err := it.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			return
		}
		_ = m.Nak()
	}
}

// dispatch hands m to a worker, or holds it until its due time when the server fired it early
// (the server fires at the start of the due second).
func (r *runner) dispatch(ctx context.Context, m jetstream.Msg) {
	due, err := time.Parse(time.RFC3339Nano, m.Headers().Get(dueHeader))
	wait := time.Until(due)
	if err != nil || wait <= 0 {
		select {
		case r.work <- m:
		case <-ctx.Done():
			_ = m.Nak()
		}
		return
	}
	r.holds.Go(func() {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			_ = m.Nak()
			return
		}
		select {
		case r.work <- m:
		case <-ctx.Done():
			_ = m.Nak()
		}
	})
}

func (r *runner) handle(ctx context.Context, m jetstream.Msg) {
	if ctx.Err() != nil {
		_ = m.Nak()
		return
	}
	f, err := r.fired(m)
	if err != nil {
		r.log.Error("malformed fired timer dropped", slog.String("subject", m.Subject()), slog.Any("error", err))
		_ = m.Term()
		return
	}
	f.FiredAt = time.Now()
	if err := r.call(ctx, f); err != nil {
		delay := r.backoff(f.Delivery)
		if ctx.Err() != nil {
			delay = 0 // stopping: let another process take it at once
		}
		r.log.Warn("timer handler failed; delivering it again later",
			slog.String("timer_key", f.Key), slog.Time("due_at", f.DueAt), slog.Int("delivery", f.Delivery),
			slog.Duration("retry_in", delay), slog.Any("error", err))
		_ = m.NakWithDelay(delay)
		return
	}
	// The handler's effect is done: make sure the server has the acknowledgement even when ctx
	// ended meanwhile, so the firing is not delivered again.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := m.DoubleAck(actx); err != nil {
		r.log.Warn("timer acknowledgement failed; it may be delivered again",
			slog.String("timer_key", f.Key), slog.Any("error", err))
	}
}

func (r *runner) call(ctx context.Context, f Fired) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("timer: handler panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return r.fn(ctx, f)
}

func (r *runner) fired(m jetstream.Msg) (Fired, error) {
	key, ok := r.s.subj.keyOf(r.kind, m.Subject())
	if !ok || !ValidKey(key) {
		return Fired{}, fmt.Errorf("subject %q is not a fired timer of kind %s", m.Subject(), r.kind)
	}
	due, err := time.Parse(time.RFC3339Nano, m.Headers().Get(dueHeader))
	if err != nil {
		return Fired{}, fmt.Errorf("header %s: %w", dueHeader, err)
	}
	delivery := 1
	if md, err := m.Metadata(); err == nil {
		delivery = int(md.NumDelivered)
	}
	return Fired{Kind: r.kind, Key: key, DueAt: due.UTC(), Payload: m.Data(), Delivery: delivery}, nil
}

func (r *runner) backoff(delivery int) time.Duration {
	d := r.s.cfg.RetryDelay
	for i := 1; i < delivery && d < r.s.cfg.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, r.s.cfg.MaxRetryDelay)
}
