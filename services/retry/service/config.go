package service

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/timer"
	"github.com/reboundhq/rebound/services/retry/domain"
	"github.com/reboundhq/rebound/services/retry/inbound"
	"github.com/reboundhq/rebound/services/retry/outbound"
)

// Config configures the retry service. The zero value runs the built-in policies and
// classification rules with the default names.
type Config struct {
	// Policies are the retry policies over the built-in defaults (domain.Config). Leave it nil
	// to use PoliciesFile or the defaults.
	Policies *domain.Config
	// PoliciesFile is a policies file (YAML or JSON; see LoadPolicies and the README). Used when
	// Policies is nil.
	PoliciesFile string
	// Classifier classifies failures; default classify.Default() (the alerts service must use
	// the same rules).
	Classifier *classify.Classifier

	// Workers is how many messages each bus handler handles at once; default 32.
	Workers int
	// FanOut is how many schedules one sync cycle or one outage event updates at once;
	// default 16.
	FanOut int
	// DrainRate is how many paused schedules a second are resumed per connection after it
	// recovered; default 20. DrainBurst lets that many go at once; default 1.
	DrainRate  float64
	DrainBurst int
	// CacheSize is how many schedules the repository keeps in memory; default 10000. A
	// schedule that leaves the cache is saved as a snapshot (unless DisableSnapshots), and loaded
	// from it and the events after it the next time.
	CacheSize int
	// DisableSnapshots turns snapshots off: a schedule that is not cached is folded from all its
	// events. Snapshots are on by default (see Deps.Snapshots).
	DisableSnapshots bool
	// DueStaleAfter: a RetryAttemptDue older than this is not sent as a RetryDue (a new or long
	// stopped due consumer catching up); default 1h, negative sends every one.
	DueStaleAfter time.Duration

	// HandlerPrefix starts the bus handler names; default "retry" (retry-records, retry-sync,
	// retry-outage, retry-due). Persisted: a new prefix starts new consumers.
	HandlerPrefix string
	// TimerKind is the kind of the timers (their consumer is timer-<kind>); default "retry".
	TimerKind string
	// Timers configures the timers stream (default TIMERS, subjects timers.>) and how many
	// fired timers are handled at once (Timers.Workers, default 32 here).
	Timers timer.Config
	// Due configures the RETRY_DUE stream.
	Due outbound.DueConfig
	// IndexBucket is the index's key-value bucket; default RETRY_INDEX.
	IndexBucket string
	// Replicas is the number of copies of the index bucket in a cluster, and of the SNAPSHOTS
	// bucket when the service creates it; default 1.
	Replicas int
	// OnlyAccount, when set, makes the bus handlers read only that account's events; for
	// benchmarks that run a service of their own next to the real one.
	OnlyAccount string
}

// Defaults of Config.
const (
	DefaultWorkers       = 32
	DefaultFanOut        = 16
	DefaultDrainRate     = 20
	DefaultCacheSize     = 10_000
	DefaultDueStaleAfter = time.Hour
	DefaultTimerWorkers  = 32
)

func (c *Config) setDefaults() {
	if c.Classifier == nil {
		c.Classifier = classify.Default()
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.FanOut == 0 {
		c.FanOut = DefaultFanOut
	}
	if c.DrainRate == 0 {
		c.DrainRate = DefaultDrainRate
	}
	if c.DrainBurst == 0 {
		c.DrainBurst = 1
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.DueStaleAfter == 0 {
		c.DueStaleAfter = DefaultDueStaleAfter
	}
	if c.HandlerPrefix == "" {
		c.HandlerPrefix = inbound.DefaultHandlerPrefix
	}
	if c.TimerKind == "" {
		c.TimerKind = outbound.DefaultTimerKind
	}
	if c.IndexBucket == "" {
		c.IndexBucket = outbound.DefaultIndexBucket
	}
	if c.Timers.Workers == 0 {
		// Firing a schedule is a few round trips (append, re-arm); more workers keep a burst
		// of timers due in the same second within it.
		c.Timers.Workers = DefaultTimerWorkers
	}
}

// Validate reports every problem with the configuration, defaults applied first. It does not
// read PoliciesFile (New does).
func (c Config) Validate() error {
	c.setDefaults()
	var errs []error
	if c.Policies != nil && c.PoliciesFile != "" {
		errs = append(errs, errors.New("retry config: set Policies or PoliciesFile, not both"))
	}
	if c.Policies != nil {
		errs = append(errs, c.Policies.Validate())
	}
	if c.Workers < 0 || c.FanOut < 0 || c.CacheSize < 0 || c.DrainBurst < 0 || c.Replicas < 0 {
		errs = append(errs, errors.New("retry config: Workers, FanOut, CacheSize, DrainBurst and Replicas must not be negative"))
	}
	if c.DrainRate < 0 {
		errs = append(errs, fmt.Errorf("retry config: DrainRate %g must be positive", c.DrainRate))
	}
	if !timer.ValidKind(c.TimerKind) {
		errs = append(errs, fmt.Errorf("retry config: TimerKind %q is not a valid timer kind", c.TimerKind))
	}
	if names := inbound.NamesWithPrefix(c.HandlerPrefix); len(names.Records) > 64 || !validName(c.HandlerPrefix) {
		errs = append(errs, fmt.Errorf("retry config: HandlerPrefix %q must be a short name of a-z 0-9 _ -", c.HandlerPrefix))
	}
	if c.OnlyAccount != "" && !events.ValidToken(c.OnlyAccount) {
		errs = append(errs, fmt.Errorf("retry config: OnlyAccount %q is not an account id", c.OnlyAccount))
	}
	errs = append(errs, c.Timers.Validate(), c.Due.Validate())
	return errors.Join(errs...)
}

func validName(s string) bool {
	if s == "" || len(s) > 48 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !('a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}

// policies returns the policies the configuration describes.
func (c Config) policies() (*domain.Policies, error) {
	switch {
	case c.Policies != nil:
		return domain.NewPolicies(*c.Policies)
	case c.PoliciesFile != "":
		pc, err := LoadPolicies(c.PoliciesFile)
		if err != nil {
			return nil, err
		}
		return domain.NewPolicies(pc)
	}
	return domain.DefaultPolicies(), nil
}

// LoadPolicies reads a policies file: YAML (or JSON, which is YAML) in the form of domain.Config,
// durations as "90s", "1h" or "15d". Unknown keys are errors; the values are validated.
//
//	all:
//	  max_consecutive_failures: 100
//	kinds:
//	  order: {interval: 1h, jitter: 0.1, max_age: 15d}
//	  tracking: {max_age: 3d, slow_sync_interval: 24h, slow_sync_max_age: 30d}
//	connections:
//	  wms-7:
//	    kinds:
//	      order: {interval: 30m}
func LoadPolicies(path string) (domain.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return domain.Config{}, fmt.Errorf("retry policies: %w", err)
	}
	cfg, err := ParsePolicies(data)
	if err != nil {
		return domain.Config{}, fmt.Errorf("retry policies: %s: %w", path, err)
	}
	return cfg, nil
}

// ParsePolicies reads a policies file's content (see LoadPolicies). An empty file is the
// defaults.
func ParsePolicies(data []byte) (domain.Config, error) {
	var cfg domain.Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return domain.Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return domain.Config{}, err
	}
	return cfg, nil
}
