package timer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
)

// Lazy is a Scheduler made (with its stream) on first use, so that a service can be built
// without I/O. It is safe for concurrent use.
type Lazy struct {
	js  jetstream.JetStream
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	s  *Scheduler
}

// NewLazy checks the configuration and returns a Lazy; it does no I/O.
func NewLazy(js jetstream.JetStream, cfg Config, log *slog.Logger) (*Lazy, error) {
	if js == nil {
		return nil, errors.New("timer: NewLazy needs a JetStream context")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Lazy{js: js, cfg: cfg, log: log}, nil
}

// Scheduler returns the scheduler, making it and the timers stream on first use.
func (l *Lazy) Scheduler(ctx context.Context) (*Scheduler, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s != nil {
		return l.s, nil
	}
	s, err := New(ctx, l.js, l.cfg, l.log)
	if err != nil {
		return nil, fmt.Errorf("timer: setting up the timers: %w", err)
	}
	l.s = s
	return s, nil
}

// AggregateKey is the timer key of a timer kept per aggregate: "<account>.<aggregate id>" (the
// aggregate type is the kind's business).
func AggregateKey(s events.StreamID) string { return s.Account + "." + s.ID }

// ParseAggregateKey returns the stream of aggregateType that an AggregateKey names.
func ParseAggregateKey(aggregateType, key string) (events.StreamID, error) {
	account, id, ok := strings.Cut(key, ".")
	s := events.StreamID{AggregateType: aggregateType, Account: account, ID: id}
	if !ok {
		return events.StreamID{}, &events.InvalidArgumentError{Field: "timer_key", Reason: fmt.Sprintf("%q is not <account>.<aggregate id>", key)}
	}
	if err := s.Validate(); err != nil {
		return events.StreamID{}, err
	}
	return s, nil
}
