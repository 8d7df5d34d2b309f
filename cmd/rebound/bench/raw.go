package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/reboundhq/rebound/events/natsstore"
)

// rawStream is a stream configured like EVENTS, for the raw nats.go baselines.
func rawStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	return js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "BENCH_RAW", Subjects: []string{"raw.>"}, Storage: jetstream.FileStorage,
		Discard: jetstream.DiscardNew, Duplicates: 2 * time.Minute, DenyDelete: true, DenyPurge: true,
		AllowDirect: true, AllowAtomicPublish: true,
	})
}

// rawSyncPublish publishes synchronously from `publishers` goroutines for d.
func rawSyncPublish(ctx context.Context, js jetstream.JetStream, publishers int, d time.Duration, payload []byte) (Result, error) {
	var (
		n       atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		firstEr error
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for p := range publishers {
		wg.Go(func() {
			subject := fmt.Sprintf("raw.sync.%d", p)
			for time.Now().Before(deadline) {
				if _, err := js.Publish(ctx, subject, payload); err != nil {
					errOnce.Do(func() { firstEr = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if firstEr != nil {
		return Result{}, fmt.Errorf("raw synchronous publish: %w", firstEr)
	}
	return Result{Name: fmt.Sprintf("raw JetStream synchronous publish, %d publishers", publishers),
		Value: float64(n.Load()) / time.Since(start).Seconds(), Unit: "msgs/s"}, nil
}

// rawConditionalPublish is rawSyncPublish with what the store's append needs of the server on
// every message: a Nats-Msg-Id and an expected last sequence over the subject's wildcard. It
// shows what those checks cost the server, apart from the store's own work.
func rawConditionalPublish(ctx context.Context, js jetstream.JetStream, publishers int, d time.Duration, payload []byte) (Result, error) {
	var (
		n       atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		firstEr error
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for p := range publishers {
		wg.Go(func() {
			subject, filter := fmt.Sprintf("raw.cond.%d.Type", p), fmt.Sprintf("raw.cond.%d.*", p)
			var last uint64
			for i := 0; time.Now().Before(deadline); i++ {
				msg := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{
					"Nats-Msg-Id":                                 {fmt.Sprintf("cond-%d-%d", p, i)},
					"Nats-Expected-Last-Subject-Sequence":         {strconv.FormatUint(last, 10)},
					"Nats-Expected-Last-Subject-Sequence-Subject": {filter},
				}}
				ack, err := js.PublishMsg(ctx, msg)
				if err != nil {
					errOnce.Do(func() { firstEr = err })
					return
				}
				last = ack.Sequence
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if firstEr != nil {
		return Result{}, fmt.Errorf("raw conditional publish: %w", firstEr)
	}
	return Result{Name: fmt.Sprintf("raw JetStream conditional publish (msg id + expected subject seq), %d publishers", publishers),
		Value: float64(n.Load()) / time.Since(start).Seconds(), Unit: "msgs/s"}, nil
}

// rawAsyncPublish publishes count messages asynchronously and waits for every ack.
func rawAsyncPublish(ctx context.Context, js jetstream.JetStream, count int, payload []byte) (Result, error) {
	start := time.Now()
	for i := range count {
		if _, err := js.PublishAsync(fmt.Sprintf("raw.async.%d", i%64), payload); err != nil {
			return Result{}, fmt.Errorf("raw asynchronous publish: %w", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-time.After(2 * time.Minute):
		return Result{}, fmt.Errorf("raw asynchronous publish: acks still pending after 2 minutes")
	}
	return Result{Name: "raw JetStream asynchronous publish", Value: float64(count) / time.Since(start).Seconds(), Unit: "msgs/s"}, nil
}

// fillDirectGetSubject publishes size messages on the subject the direct-get figures read.
func fillDirectGetSubject(ctx context.Context, js jetstream.JetStream, size int, payload []byte) error {
	for range size {
		if _, err := js.Publish(ctx, directGetSubject, payload); err != nil {
			return err
		}
	}
	return nil
}

const directGetSubject = "raw.get.one"

// rawDirectGet reads the direct-get subject's messages back with jetstreamext.GetBatch (the
// client library's batched direct get), `size` per batch, for d.
func rawDirectGet(ctx context.Context, js jetstream.JetStream, size int, d time.Duration) (Result, error) {
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		it, err := jetstreamext.GetBatch(ctx, js, "BENCH_RAW", size, jetstreamext.GetBatchSubject(directGetSubject), jetstreamext.GetBatchSeq(1))
		if err != nil {
			return Result{}, fmt.Errorf("raw batched direct get: %w", err)
		}
		for _, err := range it {
			if err != nil {
				return Result{}, fmt.Errorf("raw batched direct get: %w", err)
			}
			n++
		}
	}
	return Result{Name: fmt.Sprintf("raw JetStream batched direct get, jetstreamext.GetBatch (%d per batch)", size),
		Value: float64(n) / time.Since(start).Seconds(), Unit: "msgs/s"}, nil
}

// rawDirectGetShared is rawDirectGet through the store's own direct-get client (one reply
// subscription for every request), without decoding: what a load costs before Rebound's work.
func rawDirectGetShared(ctx context.Context, js jetstream.JetStream, size int, d time.Duration) (Result, error) {
	g, err := natsstore.NewDirectGetter(js, "BENCH_RAW")
	if err != nil {
		return Result{}, err
	}
	defer g.Close()
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		got, err := g.Get(ctx, directGetSubject, 1, size, func(natsstore.RawMsg) error { return nil })
		if err != nil {
			return Result{}, fmt.Errorf("raw batched direct get: %w", err)
		}
		n += got
	}
	return Result{Name: fmt.Sprintf("raw JetStream batched direct get, store's client (%d per batch)", size),
		Value: float64(n) / time.Since(start).Seconds(), Unit: "msgs/s"}, nil
}

// rawOrderedConsumer reads every message of the stream with an ordered consumer.
func rawOrderedConsumer(ctx context.Context, js jetstream.JetStream, stream string) (Result, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return Result{}, err
	}
	total := st.CachedInfo().State.Msgs
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	msgs, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return Result{}, err
	}
	defer msgs.Stop()
	var n uint64
	for n < total {
		if _, err := msgs.Next(); err != nil {
			return Result{}, fmt.Errorf("raw ordered consumer: %w", err)
		}
		n++
	}
	return Result{Name: "raw JetStream ordered consumer", Value: float64(n) / time.Since(start).Seconds(), Unit: "msgs/s"}, nil
}
