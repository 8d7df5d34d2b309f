package bus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
)

// subscriber is the watermill Subscriber of one Handler. Subscribe creates (or updates) two
// durable pull consumers named after the handler: one on the handler's stream filtered to its
// subjects, one on POISON filtered to redrive.<handler>. Their messages are spread over the
// handler's workers by aggregate; each worker hands the router one message at a time and waits
// for its Ack (then acks it to JetStream and waits for the server's confirmation) or Nack (then
// naks it with a growing delay). The output channel is closed once ctx ended (or Close was
// called) and every worker finished its message in flight. Safe for concurrent use.
type subscriber struct {
	js  jetstream.JetStream
	h   Handler
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	feeds   []feed // set by prepare
	closing chan struct{}
	closed  bool
	running sync.WaitGroup
}

var _ message.Subscriber = (*subscriber)(nil)

func newSubscriber(js jetstream.JetStream, h Handler, cfg Config, log *slog.Logger) *subscriber {
	return &subscriber{js: js, h: h, cfg: cfg, log: log, closing: make(chan struct{})}
}

// consumers is how the subscriber's two consumers are configured.
func (s *subscriber) consumers() (live, redrive jetstream.ConsumerConfig) {
	pending := s.h.Workers * s.cfg.PendingPerWorker
	base := jetstream.ConsumerConfig{
		Durable:       s.h.Name,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: pending,
	}
	live, redrive = base, base
	live.Description = "Rebound bus handler " + s.h.Name
	live.FilterSubjects = s.h.Subjects
	redrive.Description = "Rebound bus handler " + s.h.Name + ": re-driven poison messages"
	redrive.FilterSubjects = []string{RedriveSubject(s.h.Name)}
	return live, redrive
}

// prepare creates or updates the subscriber's consumers; Run calls it before the router
// starts, so that a consumer that cannot be created fails Run before any handler runs.
func (s *subscriber) prepare(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	liveCfg, redriveCfg := s.consumers()
	live, err := s.js.CreateOrUpdateConsumer(ctx, s.h.Stream, liveCfg)
	if err != nil {
		return fmt.Errorf("bus: creating consumer %s on stream %s: %w", s.h.Name, s.h.Stream, err)
	}
	redrive, err := s.js.CreateOrUpdateConsumer(ctx, PoisonStream, redriveCfg)
	if err != nil {
		return fmt.Errorf("bus: creating consumer %s on stream %s: %w", s.h.Name, PoisonStream, err)
	}
	s.feeds = []feed{
		{stream: s.h.Stream, cfg: liveCfg, cons: live},
		{stream: PoisonStream, cfg: redriveCfg, cons: redrive, redrive: true},
	}
	return nil
}

// Subscribe implements message.Subscriber; topic must be the handler's name.
func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic != s.h.Name {
		return nil, fmt.Errorf("bus: the subscriber of handler %s cannot subscribe to %q", s.h.Name, topic)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, fmt.Errorf("bus: the subscriber of handler %s is closed", s.h.Name)
	case s.feeds == nil:
		return nil, fmt.Errorf("bus: the consumers of handler %s are not set up", s.h.Name)
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	out := make(chan *message.Message)
	feeds := s.feeds
	s.running.Go(func() {
		defer cancel()
		defer close(out)
		sub := &subscription{s: s, out: out}
		sub.run(ctx, feeds)
	})
	return out, nil
}

// Close implements message.Subscriber: it ends every subscription and waits until their
// messages in flight are settled.
func (s *subscriber) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.closing)
	}
	s.mu.Unlock()
	s.running.Wait()
	return nil
}

// wait waits until every subscription ended.
func (s *subscriber) wait() { s.running.Wait() }
