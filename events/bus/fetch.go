package bus

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// feed is one consumer a subscription fetches from.
type feed struct {
	stream  string
	cfg     jetstream.ConsumerConfig
	cons    jetstream.Consumer
	redrive bool
}

const (
	// restartDelay is how long a feed waits before it recreates a consumer whose fetching
	// stopped (deleted consumer, closed connection).
	restartDelay = time.Second
	// drainWait bounds the wait for each buffered message when a feed stops: they are in the
	// client's buffer already, or close behind.
	drainWait = 100 * time.Millisecond
	// infoTimeout bounds the consumer info request of a stopping feed.
	infoTimeout = 5 * time.Second
)

// fetch pulls messages from one consumer and queues each on the worker of its aggregate, until
// ctx ends. When the consumer stops delivering before that, it recreates it.
func (sub *subscription) fetch(ctx context.Context, f feed) {
	for {
		err := sub.pump(ctx, f)
		if ctx.Err() != nil {
			return
		}
		sub.s.log.Warn("bus consumer stopped, restarting it", slog.String("handler_name", sub.s.h.Name),
			slog.String("stream", f.stream), slog.Any("error", err))
		t := time.NewTimer(restartDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if cons, err := sub.s.js.CreateOrUpdateConsumer(ctx, f.stream, f.cfg); err == nil {
			f.cons = cons
		}
	}
}

// pump moves messages from the consumer to the worker queues. When ctx ends it hands the
// messages it still buffers to the queues too, where the workers nak them in stream order:
// JetStream then redelivers them, before newer ones, to whichever process consumes next.
func (sub *subscription) pump(ctx context.Context, f feed) error {
	it, err := f.cons.Messages(jetstream.PullMaxMessages(f.cfg.MaxAckPending))
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				sub.drain(ctx, it, f)
			}
			return err
		}
		j, ok := sub.job(msg, f.redrive)
		if !ok {
			continue
		}
		select {
		case sub.queueOf(j) <- j:
		case <-ctx.Done():
			sub.handBack(j)
			sub.drain(ctx, it, f)
			return ctx.Err()
		}
	}
}

// drain stops the iterator and hands back every message it still buffers. Then it makes the
// server forget the iterator's pull request before the workers nak anything: a nak'ed message
// the server tries to deliver to a request nobody listens to any more goes to the back of its
// redelivery queue, behind later messages. (A consumer info request does that clean-up.)
func (sub *subscription) drain(ctx context.Context, it jetstream.MessagesContext, f feed) {
	it.Drain()
	for {
		msg, err := it.Next(jetstream.NextMaxWait(drainWait))
		if err != nil {
			break
		}
		if j, ok := sub.job(msg, f.redrive); ok {
			sub.handBack(j)
		}
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), infoTimeout)
	defer cancel()
	_, _ = f.cons.Info(ictx)
}

// handBack queues a message during the shutdown, or naks it at once when its queue is full.
func (sub *subscription) handBack(j job) {
	select {
	case sub.queueOf(j) <- j:
	default:
		_ = j.msg.Nak()
	}
}

func (sub *subscription) job(msg jetstream.Msg, redrive bool) (job, bool) {
	j, err := newJob(msg, redrive)
	if err != nil {
		// Without JetStream metadata there is nothing to ack: JetStream did not send it.
		sub.s.log.Warn("bus received a message without JetStream metadata", slog.String("handler_name", sub.s.h.Name),
			slog.String("subject", msg.Subject()), slog.Any("error", err))
		return job{}, false
	}
	return j, true
}

func (sub *subscription) queueOf(j job) chan job {
	key := orderKey(j.d.Subject)
	if sub.s.h.Partition != nil {
		key = sub.s.h.Partition(j.d)
	}
	return sub.queues[workerIndex(key, len(sub.queues))]
}
