package bench

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	ordersbench "github.com/reboundhq/rebound/services/orders/bench"
)

// ordersFigures measures orders delivered per second through the sandbox WMS, and failures
// handled per second with the WMS down, each as a ratio of raw asynchronous publish.
func ordersFigures(ctx context.Context, js jetstream.JetStream, store events.Store, n int, asyncPub Result) ([]Result, error) {
	deps := ordersbench.Deps{Store: store, JS: js}
	delivered, err := ordersbench.Delivered(ctx, deps, n)
	if err != nil {
		return nil, err
	}
	failed, err := ordersbench.FailuresHandled(ctx, deps, n)
	if err != nil {
		return nil, err
	}
	return []Result{
		Result{Name: fmt.Sprintf("orders delivered through the sandbox WMS (%d orders)", delivered.Orders), Value: delivered.PerSecond, Unit: "orders/s"}.withBaseline(asyncPub, nil),
		Result{Name: fmt.Sprintf("order failures handled with the WMS down (%d orders)", failed.Orders), Value: failed.PerSecond, Unit: "failures/s"}.withBaseline(asyncPub, nil),
	}, nil
}
