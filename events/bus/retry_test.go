package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
)

// A handler that fails with a retryable error and then succeeds applies the event once, and
// the message is acked: in process when the retries suffice, after a nak and a redelivery when
// they do not.
func TestBus_transientFailuresApplyOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		cfg           bus.Config
		failures      int
		wantDelivered uint64
	}{
		{
			name:          "retried in process",
			cfg:           bus.Config{Retry: bus.RetryConfig{MaxAttempts: 4, InitialInterval: 10 * time.Millisecond, MaxInterval: 40 * time.Millisecond}},
			failures:      2,
			wantDelivered: 1,
		},
		{
			name: "redelivered after a nak",
			cfg: bus.Config{Retry: bus.RetryConfig{MaxAttempts: 2, InitialInterval: 10 * time.Millisecond},
				NakDelay: 50 * time.Millisecond, MaxNakDelay: 100 * time.Millisecond},
			failures:      3,
			wantDelivered: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			name := unique("retry")
			var calls, applied counter
			delivered := make(chan uint64, 1)
			e.run(t, tc.cfg, bus.Handler{
				Name:     name,
				Subjects: e.subjects(),
				Func: func(ctx context.Context, rec events.Record) error {
					if calls.add(rec.EventID) <= tc.failures {
						return errors.New("store unavailable")
					}
					applied.add(rec.EventID)
					d, _ := bus.DeliveryFrom(ctx)
					delivered <- d.NumDelivered
					return nil
				},
			})
			ev := e.append(t, "order-1", failed("timeout"), events.Metadata{})
			eventually(t, 10*time.Second, func() bool { return applied.get(ev.EventID) == 1 }, "the event is applied")
			e.settled(t, "EVENTS", name)
			if got := applied.total(); got != 1 {
				t.Errorf("applied %d times, want once", got)
			}
			if got, want := calls.get(ev.EventID), tc.failures+1; got != want {
				t.Errorf("handler called %d times, want %d", got, want)
			}
			if got := <-delivered; got != tc.wantDelivered {
				t.Errorf("succeeded on delivery %d, want %d", got, tc.wantDelivered)
			}
		})
	}
}
