package bus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
)

// A handler slower than AckWait gets its message delivered again while it works; the
// redelivered duplicate is acked without calling the handler a second time.
func TestBus_redeliveredDuplicateIsSkipped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := unique("dedup")
	var calls counter
	cfg := bus.Config{AckWait: 300 * time.Millisecond, Retry: bus.RetryConfig{MaxAttempts: 1}}
	e.run(t, cfg, bus.Handler{
		Name:     name,
		Subjects: e.subjects(),
		Func: func(ctx context.Context, rec events.Record) error {
			if calls.add(rec.EventID) > 1 {
				return nil
			}
			// Work until JetStream gave up waiting for the ack and delivered the message again.
			cons, err := e.js.Consumer(ctx, "EVENTS", name)
			if err != nil {
				return err
			}
			if !poll(10*time.Second, func() bool {
				info, err := cons.Info(ctx)
				return err == nil && info.NumRedelivered > 0
			}) {
				return errors.New("the message was not redelivered")
			}
			return nil
		},
	})
	ev := e.append(t, "order-1", failed("timeout"), events.Metadata{})
	eventually(t, 10*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "duplicate event skipped")
	}, "the duplicate is skipped")
	e.settled(t, "EVENTS", name)
	if got := calls.get(ev.EventID); got != 1 {
		t.Errorf("handler called %d times, want once", got)
	}
}
