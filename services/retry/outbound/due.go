package outbound

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/streams"
	"github.com/reboundhq/rebound/events/wire"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// Defaults of the due stream.
const (
	// DefaultDueStream is the stream RetryDue commands are published to. A persisted identifier.
	DefaultDueStream = "RETRY_DUE"
	// DefaultDueDuplicates is the due stream's duplicate window: a command published again
	// within it (same attempt id) is dropped. It outlasts the bus's redelivery of an unacked
	// RetryAttemptDue (AckWait 30 s, at most 5 min between deliveries).
	DefaultDueDuplicates = 10 * time.Minute
	// DefaultDueMaxAge is how long the due stream keeps a command.
	DefaultDueMaxAge = 7 * 24 * time.Hour
)

// Headers of a RetryDue message besides Nats-Msg-Id (the attempt id), for consumers that route
// or filter without decoding. Persisted identifiers.
const (
	HeaderCommandType  = "Rebound-Command-Type"
	HeaderAccountID    = "Rebound-Account-Id"
	HeaderConnectionID = "Rebound-Connection-Id"
	HeaderSystem       = "Rebound-System"
	HeaderAttemptID    = "Rebound-Attempt-Id"
)

// DueConfig configures the due stream.
type DueConfig struct {
	// Stream is the stream's name; default DefaultDueStream.
	Stream string
	// Duplicates is the duplicate window; default DefaultDueDuplicates.
	Duplicates time.Duration
	// MaxAge is how long a command is kept; default DefaultDueMaxAge.
	MaxAge time.Duration
	// Replicas is the number of copies in a cluster; default 1.
	Replicas int
}

func (c *DueConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultDueStream
	}
	if c.Duplicates == 0 {
		c.Duplicates = DefaultDueDuplicates
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultDueMaxAge
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
}

// Validate reports every problem with the configuration, with defaults applied first.
func (c DueConfig) Validate() error {
	c.setDefaults()
	var errs []error
	if c.Stream == "EVENTS" {
		errs = append(errs, errors.New("retry due stream: must not be the events stream"))
	}
	if c.Duplicates < 0 || c.MaxAge < 0 {
		errs = append(errs, errors.New("retry due stream: durations must not be negative"))
	}
	if c.MaxAge > 0 && c.Duplicates > c.MaxAge {
		errs = append(errs, fmt.Errorf("retry due stream: duplicate window %s longer than max age %s", c.Duplicates, c.MaxAge))
	}
	return errors.Join(errs...)
}

// StreamConfig returns the due stream's JetStream configuration: subjects retry.due.>, limits
// retention (every owner reads with a durable consumer of its own; commands stay MaxAge).
func (c DueConfig) StreamConfig() jetstream.StreamConfig {
	c.setDefaults()
	return jetstream.StreamConfig{
		Name:        c.Stream,
		Description: "Rebound RetryDue commands to record owners: retry.due.<system kind>.<record kind>",
		Subjects:    []string{domain.DueSubjectPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		Discard:     jetstream.DiscardOld,
		MaxAge:      c.MaxAge,
		Duplicates:  c.Duplicates,
		AllowDirect: true,
	}
}

// DuePublisher publishes RetryDue commands to the due stream, created (or updated) on first use.
// It is safe for concurrent use.
type DuePublisher struct {
	js  jetstream.JetStream
	cfg DueConfig

	mu    sync.Mutex
	ready bool
}

// NewDuePublisher returns the publisher. It does no I/O.
func NewDuePublisher(js jetstream.JetStream, cfg DueConfig) (*DuePublisher, error) {
	if js == nil {
		return nil, errors.New("retry due publisher: a JetStream context is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &DuePublisher{js: js, cfg: cfg}, nil
}

// Ensure creates or updates the due stream.
func (p *DuePublisher) Ensure(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ready {
		return nil
	}
	if _, err := streams.Ensure(ctx, p.js, p.cfg.StreamConfig()); err != nil {
		return fmt.Errorf("retry due stream: %w", err)
	}
	p.ready = true
	return nil
}

// Publish publishes due on domain.DueSubject of its record, with Nats-Msg-Id = its attempt id,
// and returns once the stream stored it (or dropped it as a repeat).
func (p *DuePublisher) Publish(ctx context.Context, due *retryv1.RetryDue, meta events.Metadata) error {
	if err := p.Ensure(ctx); err != nil {
		return err
	}
	data, err := proto.Marshal(due)
	if err != nil {
		return fmt.Errorf("retry due: encoding %s: %w", due.GetAttemptId(), err)
	}
	msg := nats.NewMsg(domain.DueSubject(due.GetRecord()))
	msg.Data = data
	h := msg.Header
	h.Set(wire.HeaderEventID, due.GetAttemptId())
	h.Set(HeaderCommandType, events.TypeName(due))
	h.Set(HeaderAttemptID, due.GetAttemptId())
	h.Set(HeaderAccountID, due.GetRecord().GetAccountId())
	h.Set(HeaderConnectionID, due.GetRecord().GetConnectionId())
	h.Set(HeaderSystem, due.GetRecord().GetSystem())
	if meta.CorrelationID != "" {
		h.Set(wire.HeaderCorrelationID, meta.CorrelationID)
	}
	if meta.CausationID != "" {
		h.Set(wire.HeaderCausationID, meta.CausationID)
	}
	if meta.TraceParent != "" {
		h.Set(wire.HeaderTraceParent, meta.TraceParent)
		if meta.TraceState != "" {
			h.Set(wire.HeaderTraceState, meta.TraceState)
		}
	}
	if _, err := p.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(p.cfg.Stream)); err != nil {
		return fmt.Errorf("retry due: publishing %s on %s: %w", due.GetAttemptId(), msg.Subject, err)
	}
	return nil
}
