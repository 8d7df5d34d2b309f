package domain

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
)

// Duration is a time.Duration written as text in configuration files: Go syntax ("90s", "1h30m")
// or a number of days ("15d", "1.5d").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler; whole days are written as "<n>d".
func (d Duration) MarshalText() ([]byte, error) {
	td := time.Duration(d)
	if td > 0 && td%(24*time.Hour) == 0 {
		return []byte(strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"), nil
	}
	return []byte(td.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || math.Abs(n) > float64(math.MaxInt64)/float64(24*time.Hour) {
			return fmt.Errorf("retry: invalid duration %q", s)
		}
		*d = Duration(n * float64(24*time.Hour))
		return nil
	}
	td, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("retry: invalid duration %q (e.g. 90s, 1h, 15d)", s)
	}
	*d = Duration(td)
	return nil
}

// PolicyConfig is one level of policy configuration. Every field is optional: a field that is
// set overrides the same field of every less specific level.
type PolicyConfig struct {
	// Mode is "timer" or "sync_cycle".
	Mode *Mode `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Interval is the time between attempts in timer mode.
	Interval *Duration `json:"interval,omitempty" yaml:"interval,omitempty"`
	// Jitter is the fraction by which an attempt time moves either way (0.1 = ±10 %).
	Jitter *float64 `json:"jitter,omitempty" yaml:"jitter,omitempty"`
	// MaxAge is the age window of a series.
	MaxAge *Duration `json:"max_age,omitempty" yaml:"max_age,omitempty"`
	// SlowSyncInterval and SlowSyncMaxAge scale the window to the connection's sync frequency:
	// when the connection syncs every SlowSyncInterval or less often, the window is
	// SlowSyncMaxAge instead of MaxAge. A zero SlowSyncInterval turns the scaling off.
	SlowSyncInterval *Duration `json:"slow_sync_interval,omitempty" yaml:"slow_sync_interval,omitempty"`
	// SlowSyncMaxAge is the window for connections that sync slowly (see SlowSyncInterval).
	SlowSyncMaxAge *Duration `json:"slow_sync_max_age,omitempty" yaml:"slow_sync_max_age,omitempty"`
	// MaxConsecutiveFailures ends a series at that many failures in a row; 0 means no limit.
	MaxConsecutiveFailures *int `json:"max_consecutive_failures,omitempty" yaml:"max_consecutive_failures,omitempty"`
	// AuthBackoffBase is the first delay after an auth failure.
	AuthBackoffBase *Duration `json:"auth_backoff_base,omitempty" yaml:"auth_backoff_base,omitempty"`
	// AuthBackoffMax caps the auth backoff.
	AuthBackoffMax *Duration `json:"auth_backoff_max,omitempty" yaml:"auth_backoff_max,omitempty"`
}

// over returns c with every unset field taken from base.
func (c PolicyConfig) over(base PolicyConfig) PolicyConfig {
	pick := func(v, b *Duration) *Duration {
		if v != nil {
			return v
		}
		return b
	}
	out := base
	if c.Mode != nil {
		out.Mode = c.Mode
	}
	out.Interval = pick(c.Interval, base.Interval)
	if c.Jitter != nil {
		out.Jitter = c.Jitter
	}
	out.MaxAge = pick(c.MaxAge, base.MaxAge)
	out.SlowSyncInterval = pick(c.SlowSyncInterval, base.SlowSyncInterval)
	out.SlowSyncMaxAge = pick(c.SlowSyncMaxAge, base.SlowSyncMaxAge)
	if c.MaxConsecutiveFailures != nil {
		out.MaxConsecutiveFailures = c.MaxConsecutiveFailures
	}
	out.AuthBackoffBase = pick(c.AuthBackoffBase, base.AuthBackoffBase)
	out.AuthBackoffMax = pick(c.AuthBackoffMax, base.AuthBackoffMax)
	return out
}

// policy returns the policy c describes for a connection that syncs every syncInterval (0 when
// unknown); unset fields are zero.
func (c PolicyConfig) policy(syncInterval time.Duration) Policy {
	d := func(v *Duration) time.Duration {
		if v == nil {
			return 0
		}
		return time.Duration(*v)
	}
	p := Policy{
		Interval:        d(c.Interval),
		MaxAge:          d(c.MaxAge),
		AuthBackoffBase: d(c.AuthBackoffBase),
		AuthBackoffMax:  d(c.AuthBackoffMax),
	}
	if c.Mode != nil {
		p.Mode = *c.Mode
	}
	if c.Jitter != nil {
		p.Jitter = *c.Jitter
	}
	if c.MaxConsecutiveFailures != nil {
		p.MaxConsecutiveFailures = *c.MaxConsecutiveFailures
	}
	if slow := d(c.SlowSyncInterval); slow > 0 && syncInterval >= slow {
		p.MaxAge = d(c.SlowSyncMaxAge)
	}
	return p
}

// validate reports the problems of the fields c sets, naming them under path.
func (c PolicyConfig) validate(path string) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &connector.FieldError{Field: path + "." + field, Reason: fmt.Sprintf(format, args...)})
	}
	positive := func(field string, v *Duration) {
		if v != nil && *v <= 0 {
			bad(field, "must be positive, not %s", time.Duration(*v))
		}
	}
	if c.Mode != nil && *c.Mode != ModeTimer && *c.Mode != ModeSyncCycle {
		bad("mode", "must be timer or sync_cycle")
	}
	positive("interval", c.Interval)
	if c.Jitter != nil && (math.IsNaN(*c.Jitter) || *c.Jitter < 0 || *c.Jitter > MaxJitter) {
		bad("jitter", "must be a fraction from 0 to %g, not %g", MaxJitter, *c.Jitter)
	}
	positive("max_age", c.MaxAge)
	if c.SlowSyncInterval != nil && *c.SlowSyncInterval < 0 {
		bad("slow_sync_interval", "must not be negative (0 turns the scaling off), not %s", time.Duration(*c.SlowSyncInterval))
	}
	positive("slow_sync_max_age", c.SlowSyncMaxAge)
	if n := c.MaxConsecutiveFailures; n != nil && (*n < 0 || int64(*n) > math.MaxUint32) {
		bad("max_consecutive_failures", "must be from 0 (no limit) to %d, not %d", uint32(math.MaxUint32), *n)
	}
	positive("auth_backoff_base", c.AuthBackoffBase)
	positive("auth_backoff_max", c.AuthBackoffMax)
	return errs
}

// ConnectionConfig overrides the policies of one connection.
type ConnectionConfig struct {
	// All applies to every record kind of the connection.
	All PolicyConfig `json:"all,omitzero" yaml:"all,omitempty"`
	// Kinds applies to one record kind of the connection ("order", "tracking", "inventory",
	// "product"); it wins over All.
	Kinds map[string]PolicyConfig `json:"kinds,omitempty" yaml:"kinds,omitempty"`
}

// Config is the retry policy configuration, as the service loads it from a file (JSON or YAML;
// durations as "90s", "1h", "15d"). Every level is partial and the most specific level that sets
// a field wins, from least to most specific: the built-in defaults of the record kind
// (DefaultConfig), All, Kinds[kind], Connections[id].All, Connections[id].Kinds[kind].
//
//	all:
//	  max_consecutive_failures: 100
//	kinds:
//	  order: {interval: 1h, jitter: 0.1, max_age: 15d}
//	connections:
//	  wms-7:
//	    kinds:
//	      order: {interval: 30m}
type Config struct {
	// All applies to every record kind of every connection.
	All PolicyConfig `json:"all,omitzero" yaml:"all,omitempty"`
	// Kinds applies to one record kind ("order", "tracking", "inventory", "product").
	Kinds map[string]PolicyConfig `json:"kinds,omitempty" yaml:"kinds,omitempty"`
	// Connections applies to one connection, by connection id.
	Connections map[string]ConnectionConfig `json:"connections,omitempty" yaml:"connections,omitempty"`
}

// Built-in defaults (DESIGN.md, "Retries").
const (
	// DefaultInterval is the hourly cadence of timer retries and the cap of the auth backoff.
	DefaultInterval = time.Hour
	// DefaultJitter is ±10 %.
	DefaultJitter = 0.1
	// DefaultOrderMaxAge is how long orders are retried: 15 days.
	DefaultOrderMaxAge = 15 * 24 * time.Hour
	// DefaultSyncMaxAge is the window of sync-cycle records: 3 days.
	DefaultSyncMaxAge = 3 * 24 * time.Hour
	// DefaultSlowSyncInterval: connections that sync this rarely or less get DefaultSlowSyncMaxAge.
	DefaultSlowSyncInterval = 24 * time.Hour
	// DefaultSlowSyncMaxAge is the window of sync-cycle records of daily (or rarer) connections.
	DefaultSlowSyncMaxAge = 30 * 24 * time.Hour
	// DefaultMaxConsecutiveFailures is "too many failures in a row".
	DefaultMaxConsecutiveFailures = 100
	// DefaultOrderMaxConsecutiveFailures is the order limit. An hourly order fails about 360
	// times in its 15-day window, so the general limit of 100 would end every order series after
	// about 4 days; orders get 400 (the window plus headroom for auth backoff and manual retries)
	// so that the 15-day window is what ends them.
	DefaultOrderMaxConsecutiveFailures = 400
	// DefaultAuthBackoffBase is the first delay after an auth failure; it doubles up to
	// DefaultInterval.
	DefaultAuthBackoffBase = time.Minute
)

// RecordKinds are the record kinds policies are configured for, in config words.
var RecordKinds = []string{"order", "tracking", "inventory", "product"}

// DefaultConfig returns the built-in defaults, every field set for every record kind: orders on
// an hourly timer (±10 %) for 15 days; tracking, inventory and product on each sync cycle of
// their connection for 3 days (30 days when the connection syncs daily or less often); auth
// failures backing off from 1 minute, doubling, up to the hour.
func DefaultConfig() Config {
	common := func(mode Mode, maxAge time.Duration, failures int) PolicyConfig {
		return PolicyConfig{
			Mode:                   ptr(mode),
			Interval:               ptr(Duration(DefaultInterval)),
			Jitter:                 ptr(DefaultJitter),
			MaxAge:                 ptr(Duration(maxAge)),
			SlowSyncInterval:       ptr(Duration(0)),
			SlowSyncMaxAge:         ptr(Duration(maxAge)),
			MaxConsecutiveFailures: ptr(failures),
			AuthBackoffBase:        ptr(Duration(DefaultAuthBackoffBase)),
			AuthBackoffMax:         ptr(Duration(DefaultInterval)),
		}
	}
	syncKind := func() PolicyConfig {
		c := common(ModeSyncCycle, DefaultSyncMaxAge, DefaultMaxConsecutiveFailures)
		c.SlowSyncInterval = ptr(Duration(DefaultSlowSyncInterval))
		c.SlowSyncMaxAge = ptr(Duration(DefaultSlowSyncMaxAge))
		return c
	}
	return Config{Kinds: map[string]PolicyConfig{
		"order":     common(ModeTimer, DefaultOrderMaxAge, DefaultOrderMaxConsecutiveFailures),
		"tracking":  syncKind(),
		"inventory": syncKind(),
		"product":   syncKind(),
	}}
}

func ptr[T any](v T) *T { return &v }

// Validate reports every problem of the configuration, joined: unknown record kinds, bad
// connection ids, bad values, and policies that are incomplete or inconsistent once the levels
// are merged. Each problem is a *connector.FieldError naming its path (kinds.order.jitter).
func (c Config) Validate() error {
	var errs []error
	kindKnown := func(k string) bool { return slices.Contains(RecordKinds, k) }
	errs = append(errs, c.All.validate("all")...)
	for _, k := range slices.Sorted(maps.Keys(c.Kinds)) {
		if !kindKnown(k) {
			errs = append(errs, &connector.FieldError{Field: "kinds." + k, Reason: "unknown record kind (order, tracking, inventory or product)"})
		}
		errs = append(errs, c.Kinds[k].validate("kinds."+k)...)
	}
	for _, id := range slices.Sorted(maps.Keys(c.Connections)) {
		cc, path := c.Connections[id], "connections."+id
		if !events.ValidToken(id) {
			errs = append(errs, &connector.FieldError{Field: path, Reason: "a connection id is 1-128 characters of A-Z a-z 0-9 _ -"})
		}
		errs = append(errs, cc.All.validate(path+".all")...)
		for _, k := range slices.Sorted(maps.Keys(cc.Kinds)) {
			if !kindKnown(k) {
				errs = append(errs, &connector.FieldError{Field: path + ".kinds." + k, Reason: "unknown record kind (order, tracking, inventory or product)"})
			}
			errs = append(errs, cc.Kinds[k].validate(path+".kinds."+k)...)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// The values are fine one by one; check the policies they merge into.
	defaults := DefaultConfig()
	check := func(path string, pc PolicyConfig) {
		if slow := pc.SlowSyncInterval; slow != nil && *slow > 0 && (pc.SlowSyncMaxAge == nil || *pc.SlowSyncMaxAge <= 0) {
			errs = append(errs, &connector.FieldError{Field: path + ".slow_sync_max_age", Reason: "is required when slow_sync_interval is set"})
		}
		for _, si := range []time.Duration{0, math.MaxInt64} {
			if err := pc.policy(si).Validate(); err != nil {
				errs = append(errs, prefixed(path, err)...)
			}
		}
	}
	for _, k := range RecordKinds {
		base := c.Kinds[k].over(c.All.over(defaults.Kinds[k]))
		check("kinds."+k, base)
		for _, id := range slices.Sorted(maps.Keys(c.Connections)) {
			cc := c.Connections[id]
			check("connections."+id+".kinds."+k, cc.Kinds[k].over(cc.All.over(base)))
		}
	}
	return errors.Join(dedup(errs)...)
}

// prefixed puts path in front of the field of every FieldError err joins.
func prefixed(path string, err error) []error {
	var out []error
	var joined interface{ Unwrap() []error }
	list := []error{err}
	if errors.As(err, &joined) {
		list = joined.Unwrap()
	}
	for _, e := range list {
		var fe *connector.FieldError
		if errors.As(e, &fe) {
			out = append(out, &connector.FieldError{Field: path + "." + fe.Field, Reason: fe.Reason})
		} else {
			out = append(out, fmt.Errorf("%s: %w", path, e))
		}
	}
	return out
}

func dedup(errs []error) []error {
	seen := make(map[string]bool, len(errs))
	out := errs[:0]
	for _, e := range errs {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out
}

// Policies resolves the policy of a record from the built-in defaults and a Config. It is
// immutable (it keeps no reference to the Config) and safe for concurrent use.
type Policies struct {
	kinds map[string]resolved            // by record kind, without connection overrides
	conns map[string]map[string]resolved // by connection id, then record kind
}

// resolved is a merged PolicyConfig: the policy and its sync-frequency scaling.
type resolved struct {
	policy           Policy
	slowSyncInterval time.Duration
	slowSyncMaxAge   time.Duration
}

func resolve(pc PolicyConfig) resolved {
	r := resolved{policy: pc.policy(0)}
	if pc.SlowSyncInterval != nil {
		r.slowSyncInterval = time.Duration(*pc.SlowSyncInterval)
	}
	if pc.SlowSyncMaxAge != nil {
		r.slowSyncMaxAge = time.Duration(*pc.SlowSyncMaxAge)
	}
	return r
}

// NewPolicies validates cfg and returns the policies it describes over the built-in defaults.
func NewPolicies(cfg Config) (*Policies, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("retry policies: %w", err)
	}
	defaults := DefaultConfig()
	ps := &Policies{kinds: make(map[string]resolved, len(RecordKinds)), conns: make(map[string]map[string]resolved, len(cfg.Connections))}
	for _, k := range RecordKinds {
		base := cfg.Kinds[k].over(cfg.All.over(defaults.Kinds[k]))
		ps.kinds[k] = resolve(base)
		for id, cc := range cfg.Connections {
			if ps.conns[id] == nil {
				ps.conns[id] = make(map[string]resolved, len(RecordKinds))
			}
			ps.conns[id][k] = resolve(cc.Kinds[k].over(cc.All.over(base)))
		}
	}
	return ps, nil
}

// DefaultPolicies returns the built-in defaults without overrides.
func DefaultPolicies() *Policies {
	ps, err := NewPolicies(Config{})
	if err != nil {
		panic(fmt.Sprintf("retry: the built-in policies are invalid: %v", err))
	}
	return ps
}

// For returns the policy of a record of the given kind on the given connection, for a connection
// that syncs every syncInterval (0 when unknown; it scales the window: SlowSyncMaxAge when the
// connection syncs every SlowSyncInterval or less often). The most specific configured level
// wins. A kind without defaults (unspecified) yields a zero policy, which does not validate.
func (ps *Policies) For(connectionID string, kind connectorv1.RecordKind, syncInterval time.Duration) Policy {
	k := KindWord(kind)
	r, ok := ps.conns[connectionID][k]
	if !ok {
		r = ps.kinds[k]
	}
	p := r.policy
	if r.slowSyncInterval > 0 && syncInterval >= r.slowSyncInterval {
		p.MaxAge = r.slowSyncMaxAge
	}
	return p
}

// KindWord returns the lower-case word of a record kind ("order", "tracking", ...), as used in
// configuration and in the RetryDue subject.
func KindWord(kind connectorv1.RecordKind) string {
	return strings.ToLower(strings.TrimPrefix(kind.String(), "RECORD_KIND_"))
}

// SystemKindWord returns the lower-case word of a system kind ("cart", "wms").
func SystemKindWord(kind connectorv1.SystemKind) string {
	return strings.ToLower(strings.TrimPrefix(kind.String(), "SYSTEM_KIND_"))
}
