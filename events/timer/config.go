package timer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultStream is the name of the stream that holds every timer. It is a persisted identifier.
const DefaultStream = "TIMERS"

// DefaultPrefix is the first token of every timer subject. It is a persisted identifier.
const DefaultPrefix = "timers"

// Config configures the timers stream and the Scheduler that uses it.
type Config struct {
	// Stream is the stream's name; default TIMERS. Never the events stream.
	Stream string
	// Prefix is the first token of the stream's subjects (<prefix>.sched.> and <prefix>.fire.>);
	// default "timers". Two deployments sharing one NATS account need different prefixes.
	Prefix string
	// Replicas is the number of copies in a cluster; default 1.
	Replicas int
	// Workers is how many fired timers Run hands to its handler at once; default 4.
	Workers int
	// MaxPending caps the fired timers of one kind delivered to Run and not yet acknowledged
	// (the consumer's MaxAckPending); default 1024.
	MaxPending int
	// AckWait is how long the server waits for a handler to finish before it delivers the fired
	// timer again; default 30s.
	AckWait time.Duration
	// RetryDelay is the wait before a fired timer whose handler failed is delivered again; it
	// doubles with each failure up to MaxRetryDelay. Defaults 1s and 1m.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
}

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.MaxPending == 0 {
		c.MaxPending = 1024
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = time.Second
	}
	if c.MaxRetryDelay == 0 {
		c.MaxRetryDelay = time.Minute
	}
}

// Validate reports every problem with the configuration. Zero values stand for the defaults.
func (c Config) Validate() error {
	var errs []error
	if c.Stream == "EVENTS" {
		errs = append(errs, errors.New("timer: the timers stream must not be the events stream"))
	}
	if c.Stream != "" && !validToken(c.Stream, 64) {
		errs = append(errs, fmt.Errorf("timer: stream name %q must be 1-64 characters of A-Z a-z 0-9 _ -", c.Stream))
	}
	if c.Prefix != "" && !validToken(c.Prefix, 32) {
		errs = append(errs, fmt.Errorf("timer: prefix %q must be 1-32 characters of A-Z a-z 0-9 _ -", c.Prefix))
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("timer: replicas %d must be between 1 and 5", c.Replicas))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("timer: workers %d is negative", c.Workers))
	}
	if c.MaxPending < 0 {
		errs = append(errs, fmt.Errorf("timer: max pending %d is negative", c.MaxPending))
	}
	if c.AckWait != 0 && c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("timer: ack wait %s must be at least 1s", c.AckWait))
	}
	if c.RetryDelay < 0 {
		errs = append(errs, fmt.Errorf("timer: retry delay %s is negative", c.RetryDelay))
	}
	if c.MaxRetryDelay < 0 {
		errs = append(errs, fmt.Errorf("timer: max retry delay %s is negative", c.MaxRetryDelay))
	}
	return errors.Join(errs...)
}

func (c Config) jetstream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        c.Stream,
		Description: "Rebound durable timers: pending schedules and fired timers",
		Subjects:    []string{c.Prefix + ".sched.>", c.Prefix + ".fire.>"},
		// A fired timer stays until a Run of its kind acknowledges it; schedules, which no
		// consumer reads, stay until they fire or are replaced or cancelled.
		Retention: jetstream.WorkQueuePolicy,
		Storage:   jetstream.FileStorage,
		Replicas:  c.Replicas,
		// Message schedules require discard-old and roll-ups (the server adds a roll-up to every
		// schedule, and a firing purges its schedule).
		Discard:     jetstream.DiscardOld,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxAge:      0,
		AllowRollup: true,
		DenyPurge:   false,
		// One message per subject: a schedule subject holds one schedule, and a fired timer
		// that has not been handled yet is replaced when the same key fires again.
		MaxMsgsPerSubject: 1,
		Duplicates:        time.Minute,
		AllowMsgSchedules: true,
	}
}

// EnsureStream creates the timers stream, or updates it to cfg when it exists, and returns it.
// Running it at every start is safe.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := js.CreateOrUpdateStream(ctx, cfg.jetstream())
	if err != nil {
		return nil, fmt.Errorf("timer: creating or updating stream %s: %w", cfg.Stream, err)
	}
	return s, nil
}
