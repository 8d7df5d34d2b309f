package alert

import (
	"errors"
	"fmt"
	"time"

	"github.com/reboundhq/rebound/events"
)

// Config holds the alert policy. It applies when a command decides, never when events are
// folded, so changing it never changes the state old events rebuild.
type Config struct {
	// GracePeriod is how long an alert Rebound retries by itself (transient, rate_limited) may
	// stay open before it needs attention; default 1 hour.
	GracePeriod time.Duration
	// RegressionWindow is how long after an alert closed a new failure reopens it as a
	// regression rather than opening a new alert; default 7 days.
	RegressionWindow time.Duration
}

// Defaults.
const (
	DefaultGracePeriod      = time.Hour
	DefaultRegressionWindow = 7 * 24 * time.Hour
)

// DefaultConfig returns the default policy.
func DefaultConfig() Config {
	return Config{GracePeriod: DefaultGracePeriod, RegressionWindow: DefaultRegressionWindow}
}

// withDefaults fills zero fields with their defaults.
func (c Config) withDefaults() Config {
	if c.GracePeriod == 0 {
		c.GracePeriod = DefaultGracePeriod
	}
	if c.RegressionWindow == 0 {
		c.RegressionWindow = DefaultRegressionWindow
	}
	return c
}

// Validate reports every problem with the configuration (zero fields take their defaults).
func (c Config) Validate() error {
	var errs []error
	if c.GracePeriod < 0 {
		errs = append(errs, fmt.Errorf("alert: grace period %s must be positive", c.GracePeriod))
	}
	if c.RegressionWindow < 0 {
		errs = append(errs, fmt.Errorf("alert: regression window %s must be positive", c.RegressionWindow))
	}
	return errors.Join(errs...)
}

// NewFactory returns the function an aggregate.Repository makes empty alerts with.
func NewFactory(cfg Config) (func(events.StreamID) *Alert, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return func(s events.StreamID) *Alert { return &Alert{cfg: cfg, stream: s} }, nil
}

// New returns an empty alert for the stream (no events yet), checking the stream and the
// configuration.
func New(stream events.StreamID, cfg Config) (*Alert, error) {
	if err := stream.Validate(); err != nil {
		return nil, err
	}
	if stream.AggregateType != AggregateType {
		return nil, &events.InvalidArgumentError{Field: "aggregate_type", Reason: fmt.Sprintf("%q is not %q", stream.AggregateType, AggregateType)}
	}
	f, err := NewFactory(cfg)
	if err != nil {
		return nil, err
	}
	return f(stream), nil
}
