package natsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/streams"
)

// DefaultStream is the name of the stream that holds every event. It is a persisted identifier.
const DefaultStream = "EVENTS"

// StreamConfig is how the EVENTS stream is set up.
type StreamConfig struct {
	// Name is the stream's name; default EVENTS.
	Name string
	// Replicas is the number of copies in a cluster; default 1.
	Replicas int
	// DuplicateWindow is how long the server remembers event ids for deduplication; default 2m.
	DuplicateWindow time.Duration
	// MaxBytes caps the stream's size (new events are refused beyond it); 0 means no cap.
	MaxBytes int64
}

func (c *StreamConfig) setDefaults() {
	if c.Name == "" {
		c.Name = DefaultStream
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
}

// Validate reports every problem with the configuration.
func (c StreamConfig) Validate() error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("natsstore: replicas %d must be between 1 and 5", c.Replicas))
	}
	if c.DuplicateWindow < 0 {
		errs = append(errs, fmt.Errorf("natsstore: duplicate window %s is negative", c.DuplicateWindow))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("natsstore: max bytes %d is negative", c.MaxBytes))
	}
	return errors.Join(errs...)
}

func (c StreamConfig) jetstream() jetstream.StreamConfig {
	maxBytes := c.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:               c.Name,
		Description:        "Rebound event store: every event of every aggregate",
		Subjects:           []string{"evt.>"},
		Retention:          jetstream.LimitsPolicy,
		Storage:            jetstream.FileStorage,
		Replicas:           c.Replicas,
		Discard:            jetstream.DiscardNew,
		MaxBytes:           maxBytes,
		MaxMsgs:            -1,
		MaxMsgsPerSubject:  -1,
		Duplicates:         c.DuplicateWindow,
		DenyDelete:         true,
		DenyPurge:          true,
		AllowDirect:        true,
		AllowAtomicPublish: true,
	}
}

// EnsureStream creates the events stream, or updates it when it differs from cfg, and returns
// it. Running it at every start is safe.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := streams.Ensure(ctx, js, cfg.jetstream())
	if err != nil {
		return nil, fmt.Errorf("natsstore: %w", err)
	}
	return s, nil
}
