package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/timer"
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
