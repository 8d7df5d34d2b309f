package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
)

// Bus runs handlers on a watermill router over JetStream. Register handlers with Handle, then
// call Run once. It is safe for concurrent use.
type Bus struct {
	js     jetstream.JetStream
	reg    *events.Registry
	log    *slog.Logger
	cfg    Config
	router *message.Router

	mu      sync.Mutex
	subs    map[string]*subscriber
	started bool
}

// ErrNoHandlers is what Run returns when no handler was registered.
var ErrNoHandlers = errors.New("bus: no handlers registered")

// New returns a bus that consumes with js and decodes with reg. log receives one line per
// poisoned message and per message the router gives back to JetStream; nil discards them.
// New does no I/O: Run sets up the streams and consumers.
func New(js jetstream.JetStream, reg *events.Registry, log *slog.Logger, cfg Config) (*Bus, error) {
	var errs []error
	if js == nil {
		errs = append(errs, errors.New("bus: New needs a JetStream context"))
	}
	if reg == nil {
		errs = append(errs, errors.New("bus: New needs a registry"))
	}
	errs = append(errs, cfg.Validate())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.ShutdownTimeout},
		watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{
			slog.LevelInfo:  slog.LevelDebug,
			slog.LevelError: slog.LevelWarn,
		}))
	if err != nil {
		return nil, fmt.Errorf("bus: creating the router: %w", err)
	}
	return &Bus{js: js, reg: reg, log: log, cfg: cfg, router: router, subs: make(map[string]*subscriber)}, nil
}

// Handle registers a handler; it must be called before Run. Its middleware chain, outermost
// first: correlation id, poison (permanent errors), panic recovery, decoding, deduplication by
// event id, retry with backoff (retryable errors).
func (b *Bus) Handle(h Handler) error {
	if err := h.Validate(); err != nil {
		return err
	}
	h.setDefaults()
	h.Subjects = append([]string(nil), h.Subjects...)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return fmt.Errorf("bus: handler %s registered after Run", h.Name)
	}
	if _, dup := b.subs[h.Name]; dup {
		return fmt.Errorf("bus: handler %s is already registered", h.Name)
	}
	sub := newSubscriber(b.js, h, b.cfg, b.log)
	b.subs[h.Name] = sub
	wh := b.router.AddConsumerHandler(h.Name, h.Name, sub, handle(h.Func))
	wh.AddMiddleware(
		correlation,
		poisoning(b.js, h.Name, b.log),
		recoverer,
		decoding(b.reg, h.Decode),
		newDedup(b.cfg.DedupSize).middleware(h.Name, b.log),
		retrying(b.cfg.Retry),
	)
	return nil
}

// Run sets up the POISON stream and every handler's consumers, then handles messages until ctx
// ends. It then stops fetching, waits for the messages in flight (at most
// Config.ShutdownTimeout) and returns nil. A Bus runs once.
func (b *Bus) Run(ctx context.Context) error {
	b.mu.Lock()
	switch {
	case b.started:
		b.mu.Unlock()
		return errors.New("bus: Run called twice")
	case len(b.subs) == 0:
		b.mu.Unlock()
		return ErrNoHandlers
	}
	b.started = true
	subs := make([]*subscriber, 0, len(b.subs))
	for _, s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()

	if _, err := EnsurePoisonStream(ctx, b.js); err != nil {
		return err
	}
	for _, s := range subs {
		if err := s.prepare(ctx); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopClose := context.AfterFunc(ctx, func() {
		if err := b.router.Close(); err != nil {
			b.log.Warn("bus router closed before every message was settled", slog.Any("error", err))
		}
	})
	err := b.router.Run(ctx)
	if err != nil {
		// The router failed to start: do not wait for its close, which would wait for handlers
		// that never started.
		stopClose()
	}
	cancel()
	for _, s := range subs {
		s.wait()
	}
	if err != nil {
		return fmt.Errorf("bus: running the router: %w", err)
	}
	return nil
}

// Running is closed once Run has created every consumer and the handlers run; it stays open
// when Run fails before that.
func (b *Bus) Running() chan struct{} { return b.router.Running() }
