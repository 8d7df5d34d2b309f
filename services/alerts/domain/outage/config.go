package outage

import (
	"errors"
	"fmt"
	"time"

	"github.com/reboundhq/rebound/events"
)

// Config holds the detection policy. It applies when a command decides, never when events are
// folded.
type Config struct {
	// Threshold is how many distinct failing records inside Window mark an outage; default 20.
	Threshold int
	// Window is the sliding window; default 5 minutes.
	Window time.Duration
	// MaxListed is how many covered records an outage lists (in ConnectionRecovered and the
	// state); further ones are only counted. Default 1000, at least Threshold, at most 10000
	// (so ConnectionRecovered stays well under the NATS payload limit).
	MaxListed int
}

// Defaults.
const (
	DefaultThreshold = 20
	DefaultWindow    = 5 * time.Minute
	DefaultMaxListed = 1000
	maxMaxListed     = 10000
)

// DefaultConfig returns the default policy.
func DefaultConfig() Config {
	return Config{Threshold: DefaultThreshold, Window: DefaultWindow, MaxListed: DefaultMaxListed}
}

func (c Config) withDefaults() Config {
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.MaxListed == 0 {
		c.MaxListed = max(DefaultMaxListed, c.Threshold)
	}
	return c
}

// Validate reports every problem with the configuration (zero fields take their defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Threshold < 2 {
		errs = append(errs, fmt.Errorf("outage: threshold %d must be at least 2 (one failing record is not an outage)", c.Threshold))
	}
	if c.Window <= 0 {
		errs = append(errs, fmt.Errorf("outage: window %s must be positive", c.Window))
	}
	if c.MaxListed < c.Threshold || c.MaxListed > maxMaxListed {
		errs = append(errs, fmt.Errorf("outage: max listed %d must be between the threshold (%d) and %d", c.MaxListed, c.Threshold, maxMaxListed))
	}
	return errors.Join(errs...)
}

// NewFactory returns the function an aggregate.Repository makes empty detectors with.
func NewFactory(cfg Config) (func(events.StreamID) *Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return func(s events.StreamID) *Detector { return &Detector{cfg: cfg, stream: s} }, nil
}

// New returns an empty detector for the stream, checking the stream and the configuration.
func New(stream events.StreamID, cfg Config) (*Detector, error) {
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
