package bus

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes a Bus. The zero value is valid: every zero field takes its default.
type Config struct {
	// AckWait is how long JetStream waits for a delivered message's ack before it delivers the
	// message again; default 30s. It must exceed the longest in-process retry series.
	AckWait time.Duration
	// PendingPerWorker is how many unacked messages a handler's consumer may have out per worker
	// (the consumer's MaxAckPending is Workers × PendingPerWorker); default 32.
	PendingPerWorker int
	// Retry is the in-process retry of retryable errors.
	Retry RetryConfig
	// NakDelay is how long JetStream waits before delivering a message again after the bus gave
	// up on it in process; it doubles with every delivery up to MaxNakDelay. Default 1s.
	NakDelay time.Duration
	// MaxNakDelay caps NakDelay; default 5m.
	MaxNakDelay time.Duration
	// DedupSize is how many recently handled event ids each handler remembers to skip
	// redelivered duplicates; default 10000.
	DedupSize int
	// ShutdownTimeout bounds how long Run waits for in-flight messages once its context ended;
	// default 30s. Messages still in flight then are left to JetStream to deliver again.
	ShutdownTimeout time.Duration
}

// RetryConfig is the in-process retry with exponential backoff of retryable errors.
type RetryConfig struct {
	// MaxAttempts is how many times a handler is called for one delivery, the first included;
	// default 4. 1 disables in-process retries (JetStream still redelivers after NakDelay).
	MaxAttempts int
	// InitialInterval is the wait before the second attempt; default 100ms.
	InitialInterval time.Duration
	// MaxInterval caps the wait, which doubles after every attempt; default 2s.
	MaxInterval time.Duration
}

func (c *Config) setDefaults() {
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.PendingPerWorker == 0 {
		c.PendingPerWorker = 32
	}
	if c.Retry.MaxAttempts == 0 {
		c.Retry.MaxAttempts = 4
	}
	if c.Retry.InitialInterval == 0 {
		c.Retry.InitialInterval = 100 * time.Millisecond
	}
	if c.Retry.MaxInterval == 0 {
		c.Retry.MaxInterval = 2 * time.Second
	}
	if c.NakDelay == 0 {
		c.NakDelay = time.Second
	}
	if c.MaxNakDelay == 0 {
		c.MaxNakDelay = 5 * time.Minute
	}
	if c.DedupSize == 0 {
		c.DedupSize = 10000
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
}

// Validate reports every problem with the configuration, with defaults applied first.
func (c Config) Validate() error {
	c.setDefaults()
	var errs []error
	nonNegative := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("bus: %s %s is negative", name, d))
		}
	}
	nonNegative("AckWait", c.AckWait)
	nonNegative("Retry.InitialInterval", c.Retry.InitialInterval)
	nonNegative("Retry.MaxInterval", c.Retry.MaxInterval)
	nonNegative("NakDelay", c.NakDelay)
	nonNegative("MaxNakDelay", c.MaxNakDelay)
	nonNegative("ShutdownTimeout", c.ShutdownTimeout)
	if c.PendingPerWorker < 0 {
		errs = append(errs, fmt.Errorf("bus: PendingPerWorker %d is negative", c.PendingPerWorker))
	}
	if c.Retry.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("bus: Retry.MaxAttempts %d is negative", c.Retry.MaxAttempts))
	}
	if c.DedupSize < 0 {
		errs = append(errs, fmt.Errorf("bus: DedupSize %d is negative", c.DedupSize))
	}
	if c.Retry.MaxInterval < c.Retry.InitialInterval {
		errs = append(errs, fmt.Errorf("bus: Retry.MaxInterval %s is shorter than Retry.InitialInterval %s",
			c.Retry.MaxInterval, c.Retry.InitialInterval))
	}
	if c.MaxNakDelay < c.NakDelay {
		errs = append(errs, fmt.Errorf("bus: MaxNakDelay %s is shorter than NakDelay %s", c.MaxNakDelay, c.NakDelay))
	}
	if len(errs) == 0 && c.Retry.budget() >= c.AckWait {
		errs = append(errs, fmt.Errorf("bus: %d attempts wait %s between them, not less than AckWait %s: "+
			"JetStream would deliver the message again while it is being retried",
			c.Retry.MaxAttempts, c.Retry.budget(), c.AckWait))
	}
	return errors.Join(errs...)
}

// backoff returns the wait after the given attempt (1-based).
func (r RetryConfig) backoff(attempt int) time.Duration {
	d := r.InitialInterval
	for i := 1; i < attempt && d < r.MaxInterval; i++ {
		d *= 2
	}
	return min(d, r.MaxInterval)
}

// budget is the total time one delivery spends waiting between attempts.
func (r RetryConfig) budget() time.Duration {
	var total time.Duration
	for a := 1; a < r.MaxAttempts; a++ {
		total += r.backoff(a)
	}
	return total
}

// nakDelay is how long JetStream waits before the next delivery after the given one (1-based).
func (c Config) nakDelay(delivered uint64) time.Duration {
	d := c.NakDelay
	for i := uint64(1); i < delivered && d < c.MaxNakDelay; i++ {
		d *= 2
	}
	return min(d, c.MaxNakDelay)
}
