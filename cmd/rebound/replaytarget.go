package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// replayTarget is where a replay publishes: a JetStream stream that captures the subject (acked
// publishes) or core NATS.
type replayTarget interface {
	// publish sends one message.
	publish(ctx context.Context, m *nats.Msg) error
	// confirm returns once everything published so far was stored (JetStream) or received by
	// the server (core NATS).
	confirm(ctx context.Context) error
	// name is the state file's "target".
	name() string
	// describe says how the target is reached, for people.
	describe() string
}

// newReplayTarget picks how to publish to subject: through JetStream when a stream captures it
// (refusing the event store's own stream), else core NATS.
func newReplayTarget(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, subject, eventStream string) (replayTarget, error) {
	stream, err := js.StreamNameBySubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return &coreTarget{nc: nc}, nil
	case err != nil:
		return nil, fmt.Errorf("finding the stream that captures %s: %w", subject, err)
	case stream == eventStream:
		return nil, fmt.Errorf("%w: --to-subject %q is captured by the event store's stream %s: publishing there would append to it", errUsage, subject, stream)
	}
	pub, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	return &streamTarget{js: pub, stream: stream}, nil
}

// coreTarget publishes with core NATS: the subscribers listening at the time get the events;
// nothing stores them.
type coreTarget struct{ nc *nats.Conn }

func (t *coreTarget) publish(_ context.Context, m *nats.Msg) error { return t.nc.PublishMsg(m) }
func (t *coreTarget) confirm(ctx context.Context) error            { return t.nc.FlushWithContext(ctx) }
func (t *coreTarget) name() string                                 { return "core" }
func (t *coreTarget) describe() string {
	return "core NATS (no stream captures it: only subscribers listening now receive the events)"
}

// streamTarget publishes into a JetStream stream and waits for its acknowledgements.
type streamTarget struct {
	js      jetstream.JetStream
	stream  string
	futures []jetstream.PubAckFuture
}

func (t *streamTarget) publish(_ context.Context, m *nats.Msg) error {
	f, err := t.js.PublishMsgAsync(m, jetstream.WithExpectStream(t.stream))
	if err != nil {
		return err
	}
	t.futures = append(t.futures, f)
	return nil
}

func (t *streamTarget) confirm(ctx context.Context) error {
	defer func() { t.futures = t.futures[:0] }()
	for _, f := range t.futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("stream %s refused an event: %w", t.stream, err)
		case <-ctx.Done():
			return fmt.Errorf("waiting for stream %s to acknowledge: %w", t.stream, ctx.Err())
		}
	}
	return nil
}

func (t *streamTarget) name() string { return "jetstream:" + t.stream }
func (t *streamTarget) describe() string {
	return "JetStream stream " + t.stream + " (each event acknowledged; a resumed run's repeats are dropped by Nats-Msg-Id)"
}
