package domain_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

func TestPolicies_defaults(t *testing.T) {
	t.Parallel()
	ps := domain.DefaultPolicies()
	order := domain.Policy{
		Mode: domain.ModeTimer, Interval: time.Hour, Jitter: 0.1, MaxAge: 15 * day,
		MaxConsecutiveFailures: 400, AuthBackoffBase: time.Minute, AuthBackoffMax: time.Hour,
	}
	syncKind := func(maxAge time.Duration) domain.Policy {
		return domain.Policy{
			Mode: domain.ModeSyncCycle, Interval: time.Hour, Jitter: 0.1, MaxAge: maxAge,
			MaxConsecutiveFailures: 100, AuthBackoffBase: time.Minute, AuthBackoffMax: time.Hour,
		}
	}
	cases := []struct {
		kind  connectorv1.RecordKind
		every time.Duration
		want  domain.Policy
	}{
		{connectorv1.RecordKind_RECORD_KIND_ORDER, 0, order},
		{connectorv1.RecordKind_RECORD_KIND_ORDER, day, order},
		{connectorv1.RecordKind_RECORD_KIND_TRACKING, 0, syncKind(3 * day)},
		{connectorv1.RecordKind_RECORD_KIND_TRACKING, 23 * time.Hour, syncKind(3 * day)},
		{connectorv1.RecordKind_RECORD_KIND_TRACKING, day, syncKind(30 * day)},
		{connectorv1.RecordKind_RECORD_KIND_INVENTORY, 5 * time.Minute, syncKind(3 * day)},
		{connectorv1.RecordKind_RECORD_KIND_PRODUCT, 7 * day, syncKind(30 * day)},
	}
	for _, tc := range cases {
		got := ps.For("any-connection", tc.kind, tc.every)
		if got != tc.want {
			t.Errorf("%s syncing every %s: %+v, want %+v", tc.kind, tc.every, got, tc.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s: default policy invalid: %v", tc.kind, err)
		}
	}
	if err := ps.For("c", connectorv1.RecordKind_RECORD_KIND_UNSPECIFIED, 0).Validate(); err == nil {
		t.Error("the policy of an unspecified kind validates")
	}
}

func TestPolicies_mostSpecificWins(t *testing.T) {
	t.Parallel()
	const file = `{
	  "all": {"max_consecutive_failures": 50, "jitter": 0.2},
	  "kinds": {
	    "order": {"interval": "30m", "max_age": "10d"},
	    "tracking": {"max_age": "2d", "slow_sync_max_age": "20d"}
	  },
	  "connections": {
	    "wms-7": {
	      "all": {"max_consecutive_failures": 10, "interval": "2h"},
	      "kinds": {"order": {"interval": "45m", "mode": "timer"}}
	    },
	    "cart-9": {"kinds": {"tracking": {"mode": "timer", "interval": "15m"}}}
	  }
	}`
	var cfg domain.Config
	if err := json.Unmarshal([]byte(file), &cfg); err != nil {
		t.Fatal(err)
	}
	ps, err := domain.NewPolicies(cfg)
	must(t, err)
	order, tracking := connectorv1.RecordKind_RECORD_KIND_ORDER, connectorv1.RecordKind_RECORD_KIND_TRACKING
	cases := map[string]struct {
		got  domain.Policy
		want func(p *domain.Policy)
	}{
		"order, any connection": {ps.For("wms-1", order, 0), func(p *domain.Policy) {
			p.Interval, p.MaxAge, p.MaxConsecutiveFailures, p.Jitter = 30*time.Minute, 10*day, 50, 0.2
		}},
		"order on wms-7": {ps.For("wms-7", order, 0), func(p *domain.Policy) {
			p.Interval, p.MaxAge, p.MaxConsecutiveFailures, p.Jitter = 45*time.Minute, 10*day, 10, 0.2
		}},
		"tracking on wms-7": {ps.For("wms-7", tracking, 0), func(p *domain.Policy) {
			p.Mode, p.Interval, p.MaxAge, p.MaxConsecutiveFailures, p.Jitter = domain.ModeSyncCycle, 2*time.Hour, 2*day, 10, 0.2
		}},
		"tracking on a daily connection": {ps.For("cart-1", tracking, day), func(p *domain.Policy) {
			p.Mode, p.MaxAge, p.MaxConsecutiveFailures, p.Jitter = domain.ModeSyncCycle, 20*day, 50, 0.2
		}},
		"tracking on cart-9": {ps.For("cart-9", tracking, 0), func(p *domain.Policy) {
			p.Mode, p.Interval, p.MaxAge, p.MaxConsecutiveFailures, p.Jitter = domain.ModeTimer, 15*time.Minute, 2*day, 50, 0.2
		}},
	}
	for name, tc := range cases {
		want := domain.Policy{
			Mode: domain.ModeTimer, Interval: time.Hour, Jitter: 0.1, MaxAge: 15 * day,
			MaxConsecutiveFailures: 400, AuthBackoffBase: time.Minute, AuthBackoffMax: time.Hour,
		}
		tc.want(&want)
		if tc.got != want {
			t.Errorf("%s: %+v, want %+v", name, tc.got, want)
		}
	}
}

func TestConfig_validateJoinsEveryProblem(t *testing.T) {
	t.Parallel()
	neg, big := domain.Duration(-time.Hour), 1.5
	negFailures := -1
	cfg := domain.Config{
		All:   domain.PolicyConfig{Jitter: &big},
		Kinds: map[string]domain.PolicyConfig{"parcel": {}, "order": {Interval: &neg}},
		Connections: map[string]domain.ConnectionConfig{
			"bad id": {},
			"wms-1":  {Kinds: map[string]domain.PolicyConfig{"order": {MaxConsecutiveFailures: &negFailures}}},
		},
	}
	err := cfg.Validate()
	if !errors.Is(err, events.ErrInvalidArgument) {
		t.Fatalf("err = %v, want an invalid argument", err)
	}
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *connector.FieldError
		if errors.As(e, &fe) {
			fields = append(fields, fe.Field)
		}
	}
	slices.Sort(fields)
	want := []string{"all.jitter", "connections.bad id", "connections.wms-1.kinds.order.max_consecutive_failures", "kinds.order.interval", "kinds.parcel"}
	if !slices.Equal(fields, want) {
		t.Fatalf("problems %v, want %v", fields, want)
	}
	if _, err := domain.NewPolicies(cfg); err == nil {
		t.Fatal("NewPolicies accepted an invalid config")
	}
}

func TestConfig_validateChecksMergedPolicies(t *testing.T) {
	t.Parallel()
	short, long := domain.Duration(time.Hour), domain.Duration(time.Minute)
	slow := domain.Duration(day)
	cfg := domain.Config{
		Kinds: map[string]domain.PolicyConfig{"order": {AuthBackoffBase: &short, AuthBackoffMax: &long, SlowSyncInterval: &slow}},
	}
	err := cfg.Validate()
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *connector.FieldError
		if errors.As(e, &fe) {
			fields = append(fields, fe.Field)
		}
	}
	// The order default sets slow_sync_max_age, so only the backoff pair is wrong.
	if !slices.Equal(fields, []string{"kinds.order.auth_backoff_max"}) {
		t.Fatalf("problems %v (%v)", fields, err)
	}
}

func TestDuration_text(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "1h30m": 90 * time.Minute, "15d": 15 * day, "1.5d": 36 * time.Hour} {
		var d domain.Duration
		if err := d.UnmarshalText([]byte(in)); err != nil || time.Duration(d) != want {
			t.Errorf("%q: %s, %v; want %s", in, time.Duration(d), err, want)
		}
	}
	for _, in := range []string{"", "d", "soon", "1e300d"} {
		var d domain.Duration
		if err := d.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q parsed as %s", in, time.Duration(d))
		}
	}
	for d, want := range map[time.Duration]string{15 * day: "15d", 90 * time.Minute: "1h30m0s"} {
		if got, _ := domain.Duration(d).MarshalText(); string(got) != want {
			t.Errorf("%s marshals as %q, want %q", d, got, want)
		}
	}
	data, err := json.Marshal(domain.DefaultConfig())
	must(t, err)
	var back domain.Config
	must(t, json.Unmarshal(data, &back))
	if back.Kinds["order"].MaxAge == nil || time.Duration(*back.Kinds["order"].MaxAge) != 15*day {
		t.Fatalf("the default config does not survive JSON: %s", data)
	}
}

func TestPolicy_authBackoff(t *testing.T) {
	t.Parallel()
	p := domain.Policy{AuthBackoffBase: time.Minute, AuthBackoffMax: time.Hour}
	for n, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 6: 32 * time.Minute, 7: time.Hour, 1000: time.Hour} {
		if got := p.AuthBackoff(n); got != want {
			t.Errorf("AuthBackoff(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestJitter_deterministicAndBounded(t *testing.T) {
	t.Parallel()
	seen := map[time.Duration]bool{}
	for a := range uint32(2000) {
		j := domain.Jitter("rec_x", 1, a, time.Hour, 0.1)
		if j < -6*time.Minute || j >= 6*time.Minute {
			t.Fatalf("attempt %d: jitter %s outside ±10%% of an hour", a, j)
		}
		if j != domain.Jitter("rec_x", 1, a, time.Hour, 0.1) {
			t.Fatalf("attempt %d: jitter differs between calls", a)
		}
		seen[j/time.Minute] = true
	}
	if len(seen) < 11 {
		t.Fatalf("jitter covers only %d of 11 minute buckets", len(seen))
	}
	if domain.Jitter("rec_x", 1, 1, time.Hour, 0) != 0 {
		t.Fatal("zero fraction jitters")
	}
}
