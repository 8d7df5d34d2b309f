package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/timer"
	retryservice "github.com/reboundhq/rebound/services/retry/service"
)

// timerPrecision schedules n durable timers spread over spread and reports how late they fire.
func timerPrecision(ctx context.Context, js jetstream.JetStream, n int, spread time.Duration) ([]Result, error) {
	p, err := timer.MeasurePrecision(ctx, js, n, spread)
	if err != nil {
		return nil, err
	}
	if p.Fired != n || p.Early > 0 || p.Duplicates > 0 {
		return nil, fmt.Errorf("timers: %d of %d fired, %d early, %d duplicates", p.Fired, n, p.Early, p.Duplicates)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	name := fmt.Sprintf("durable timer fire delay with %d pending", n)
	return []Result{
		Result{Name: name + ", p50", Value: ms(p.P50), Unit: "ms"}.withCeiling(1000),
		Result{Name: name + ", p99", Value: ms(p.P99), Unit: "ms"}.withCeiling(1000),
		Result{Name: name + ", max", Value: ms(p.Max), Unit: "ms"}.withCeiling(1000),
	}, nil
}

// retryDuePrecision runs a retry service of its own, reports n order failures whose first
// attempts come due over spread, and measures how late each RetryDue command reaches its owner:
// the retry timers end to end, with n retries pending.
func retryDuePrecision(ctx context.Context, js jetstream.JetStream, store events.Store, n int, spread time.Duration) ([]Result, error) {
	p, err := retryservice.MeasureDuePrecision(ctx, retryservice.Deps{Store: store, JS: js}, retryservice.DueBench{N: n, Spread: spread})
	if err != nil {
		return nil, err
	}
	if p.Due != n || p.Early > 0 || p.Duplicates > 0 {
		return nil, fmt.Errorf("retry timers: %d of %d due, %d early, %d duplicates", p.Due, n, p.Early, p.Duplicates)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	name := fmt.Sprintf("retry attempt due → RetryDue received, %d retries pending", n)
	return []Result{
		Result{Name: name + ", p50", Value: ms(p.P50), Unit: "ms"}.withCeiling(1000),
		Result{Name: name + ", p99", Value: ms(p.P99), Unit: "ms"}.withCeiling(1000),
		Result{Name: name + ", max", Value: ms(p.Max), Unit: "ms"}.withCeiling(1000),
	}, nil
}
