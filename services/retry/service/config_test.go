package service_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
	"github.com/reboundhq/rebound/services/retry/service"
)

func TestParsePolicies_yamlAndJSON(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"yaml": "all:\n  max_consecutive_failures: 50\nkinds:\n  order: {interval: 30m, max_age: 10d}\nconnections:\n  wms-7:\n    kinds:\n      order: {interval: 5m}\n",
		"json": `{"all": {"max_consecutive_failures": 50}, "kinds": {"order": {"interval": "30m", "max_age": "10d"}},
			"connections": {"wms-7": {"kinds": {"order": {"interval": "5m"}}}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, err := service.ParsePolicies([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			ps, err := domain.NewPolicies(cfg)
			if err != nil {
				t.Fatal(err)
			}
			order := connectorv1.RecordKind_RECORD_KIND_ORDER
			if p := ps.For("wms-1", order, 0); p.Interval != 30*time.Minute || p.MaxAge != 10*24*time.Hour || p.MaxConsecutiveFailures != 50 {
				t.Errorf("order policy %+v", p)
			}
			if p := ps.For("wms-7", order, 0); p.Interval != 5*time.Minute || p.MaxAge != 10*24*time.Hour {
				t.Errorf("wms-7 order policy %+v", p)
			}
			if p := ps.For("cart-1", connectorv1.RecordKind_RECORD_KIND_TRACKING, 24*time.Hour); p.Mode != domain.ModeSyncCycle || p.MaxAge != 30*24*time.Hour {
				t.Errorf("tracking policy of a daily connection %+v", p)
			}
		})
	}
}

func TestParsePolicies_rejectsBadFiles(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ text, want string }{
		{"kinds: {order: {intervall: 1h}}", "intervall"},
		{"kinds: {order: {interval: soon}}", "soon"},
		{"kinds: {order: {jitter: 2}}", "kinds.order.jitter"},
		{"kinds: {parcel: {interval: 1h}}", "kinds.parcel"},
		{"connections: {'bad id': {all: {interval: 1h}}}", "connections.bad id"},
	} {
		_, err := service.ParsePolicies([]byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v; want an error naming %s", c.text, err, c.want)
		}
	}
	if _, err := service.ParsePolicies(nil); err != nil {
		t.Errorf("an empty file: %v; want the defaults", err)
	}
	_, err := service.ParsePolicies([]byte("kinds: {order: {jitter: 2}}"))
	if !errors.Is(err, events.ErrInvalidArgument) {
		t.Errorf("invalid value: %v; want ErrInvalidArgument", err)
	}
}

func TestLoadPolicies_file(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "retry.yaml")
	if err := os.WriteFile(path, []byte("kinds: {order: {interval: 2h}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := service.LoadPolicies(path)
	if err != nil || cfg.Kinds["order"].Interval == nil || time.Duration(*cfg.Kinds["order"].Interval) != 2*time.Hour {
		t.Fatalf("LoadPolicies: %+v, %v", cfg, err)
	}
	if _, err := service.LoadPolicies(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("a missing file loaded")
	}
}

func TestConfig_validate(t *testing.T) {
	t.Parallel()
	pc := domain.Config{}
	bad := service.Config{Policies: &pc, PoliciesFile: "x.yaml", DrainRate: -1, TimerKind: "no spaces", HandlerPrefix: "UPPER", OnlyAccount: "a b"}
	err := bad.Validate()
	for _, want := range []string{"Policies or PoliciesFile", "DrainRate", "TimerKind", "HandlerPrefix", "OnlyAccount"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want a problem with %s", err, want)
		}
	}
	if err := (service.Config{}).Validate(); err != nil {
		t.Errorf("the zero Config: %v", err)
	}
	if _, err := service.New(service.Deps{}, service.Config{}); err == nil || !strings.Contains(err.Error(), "Deps.Store") {
		t.Errorf("New without dependencies: %v", err)
	}
}
