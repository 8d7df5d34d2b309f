package bus

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/wire"
)

// ackTimeout bounds the wait for the server's confirmation of an ack.
const ackTimeout = 10 * time.Second

// job is one fetched message and the delivery it stands for.
type job struct {
	msg jetstream.Msg
	d   Delivery
}

func newJob(msg jetstream.Msg, redrive bool) (job, error) {
	md, err := msg.Metadata()
	if err != nil {
		return job{}, err
	}
	if redrive {
		return job{msg: msg, d: redriveDelivery(msg, md)}, nil
	}
	return job{msg: msg, d: Delivery{
		Subject:      msg.Subject(),
		Header:       msg.Headers(),
		Data:         msg.Data(),
		Stream:       md.Stream,
		Sequence:     md.Sequence.Stream,
		Timestamp:    md.Timestamp,
		NumDelivered: md.NumDelivered,
	}}, nil
}

// subscription is one Subscribe call: its feeds fill one queue per worker.
type subscription struct {
	s      *subscriber
	out    chan<- *message.Message
	queues []chan job
}

// run fetches and processes messages until ctx ends, then waits for the messages in flight
// (at most ShutdownTimeout) and naks the ones still queued so that they are delivered again
// at once.
func (sub *subscription) run(ctx context.Context, feeds []feed) {
	// Messages in flight keep their context when ctx ends, so that their writes can finish;
	// work ends only when the shutdown times out.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopTimer := context.AfterFunc(ctx, func() {
		t := time.NewTimer(sub.s.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelWork()
		case <-work.Done():
		}
	})
	defer stopTimer()

	sub.queues = make([]chan job, sub.s.h.Workers)
	for i := range sub.queues {
		// Room for everything both consumers may have pending, so that one busy worker never
		// holds up the others.
		sub.queues[i] = make(chan job, 2*sub.s.h.Workers*sub.s.cfg.PendingPerWorker)
	}
	var fetchers sync.WaitGroup
	for _, f := range feeds {
		fetchers.Go(func() { sub.fetch(ctx, f) })
	}
	fetched := make(chan struct{})
	go func() {
		fetchers.Wait()
		close(fetched)
	}()
	var workers sync.WaitGroup
	for _, q := range sub.queues {
		workers.Go(func() { sub.work(ctx, work, q, fetched) })
	}
	workers.Wait()
}

// work processes its queue's messages one at a time, in order. Once ctx ended, it naks what is
// left in the queue, in order, after the feeds stopped (see drain).
func (sub *subscription) work(ctx, work context.Context, q chan job, fetched <-chan struct{}) {
	nak := func(j job) {
		<-fetched
		_ = j.msg.Nak()
	}
	for {
		select {
		case <-ctx.Done():
			<-fetched
			for {
				select {
				case j := <-q:
					_ = j.msg.Nak()
				default:
					return
				}
			}
		case j := <-q:
			if ctx.Err() != nil || !sub.process(ctx, work, j) {
				nak(j)
			}
		}
	}
}

// process hands one message to the router and settles it with JetStream: acked (with the
// server's confirmation) after the router's Ack, naked with a growing delay after its Nack. It
// returns false, leaving the message unsettled, when ctx ended before the router took it.
func (sub *subscription) process(ctx, work context.Context, j job) bool {
	mctx, cancel := context.WithCancel(work)
	defer cancel()
	mctx = context.WithValue(mctx, deliveryKey, &j.d)
	mctx = context.WithValue(mctx, stoppingKey, ctx.Done())
	wm := message.NewMessageWithContext(mctx, messageUUID(j.d), j.d.Data)
	for k, v := range j.d.Header {
		if len(v) > 0 {
			wm.Metadata.Set(k, v[0])
		}
	}
	select {
	case sub.out <- wm:
	case <-ctx.Done():
		return false
	}
	select {
	case <-wm.Acked():
		actx, acancel := context.WithTimeout(work, ackTimeout)
		err := j.msg.DoubleAck(actx)
		acancel()
		if err != nil {
			sub.s.log.Warn("bus ack not confirmed, the message may be delivered again",
				slog.String("handler_name", sub.s.h.Name), slog.String("subject", j.d.Subject),
				slog.Uint64("sequence", j.d.Sequence), slog.Any("error", err))
		}
	case <-wm.Nacked():
		// When the nak is lost, JetStream delivers the message again after AckWait.
		_ = j.msg.NakWithDelay(sub.s.cfg.nakDelay(j.d.NumDelivered))
	case <-work.Done():
		// The shutdown timed out: JetStream delivers the message again after AckWait.
	}
	return true
}

func messageUUID(d Delivery) string {
	if id := d.Header.Get(wire.HeaderEventID); id != "" {
		return id
	}
	return fmt.Sprintf("%s:%d", d.Stream, d.Sequence)
}

// orderKey is what decides a message's worker: its aggregate (evt.<aggregate>.<account>.<id>)
// for an event subject, the whole subject otherwise.
func orderKey(subject string) string {
	if strings.HasPrefix(subject, events.SubjectPrefix+".") && strings.Count(subject, ".") == 4 {
		return subject[:strings.LastIndexByte(subject, '.')]
	}
	return subject
}

func workerIndex(key string, workers int) int {
	if workers <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(workers))
}
