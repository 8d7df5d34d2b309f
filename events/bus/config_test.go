package bus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
)

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	if err := (bus.Config{}).Validate(); err != nil {
		t.Errorf("the zero config is invalid: %v", err)
	}
	err := bus.Config{AckWait: -time.Second, DedupSize: -1, NakDelay: time.Minute, MaxNakDelay: time.Second}.Validate()
	for _, want := range []string{"AckWait", "DedupSize", "MaxNakDelay"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
	err = bus.Config{AckWait: time.Second, Retry: bus.RetryConfig{MaxAttempts: 5, InitialInterval: 500 * time.Millisecond}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "AckWait") {
		t.Errorf("retries longer than AckWait: Validate() = %v", err)
	}
}

func TestHandler_Validate(t *testing.T) {
	t.Parallel()
	ok := bus.Handler{Name: "alerts-projection", Subjects: []string{"evt.alert.>"},
		Func: func(context.Context, events.Record) error { return nil }}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid handler: %v", err)
	}
	err := bus.Handler{Name: "Alerts.Projection", Subjects: []string{"evt..>"}}.Validate()
	for _, want := range []string{"name", "empty token", "no Func"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if err := (bus.Handler{Name: "x", Func: ok.Func}).Validate(); err == nil || !strings.Contains(err.Error(), "no subjects") {
		t.Errorf("no subjects: Validate() = %v", err)
	}
}

// Run fails, before handling anything, when a handler's stream does not exist.
func TestBus_runFailsWithoutStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b, err := bus.New(e.js, e.reg, e.log, bus.Config{})
	if err != nil {
		t.Fatal(err)
	}
	missing := strings.ToUpper(unique("missing"))
	if err := b.Handle(bus.Handler{Name: unique("nostream"), Stream: missing, Subjects: []string{"nowhere.>"},
		Func: func(context.Context, events.Record) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if err := b.Run(t.Context()); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Run = %v, want an error naming stream %s", err, missing)
	}
	if err := b.Run(t.Context()); err == nil {
		t.Error("a second Run succeeded")
	}
}
