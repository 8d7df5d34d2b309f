// Package bench measures the orders service end to end for `rebound bench`: orders delivered per
// second through the sandbox WMS, and failures handled per second while the WMS is down. Each
// figure runs a service of its own (own account, consumer names and sandbox on 127.0.0.1:0) next
// to whatever else uses the server, so it neither sees nor disturbs other data; its consumers are
// deleted afterwards, its events stay in the store under its account.
package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/durationpb"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/services/orders/app"
	"github.com/reboundhq/rebound/services/orders/inbound/consumers"
	"github.com/reboundhq/rebound/services/orders/sandbox"
	"github.com/reboundhq/rebound/services/orders/service"
)

// Deps are what the benchmarks run on: the event store (its registry must know
// service.Registry()'s types) and JetStream on the same server.
type Deps struct {
	Store events.Store
	JS    jetstream.JetStream
	// Log receives the service's log; nil discards it.
	Log *slog.Logger
}

// Figure is one measurement.
type Figure struct {
	// Orders is how many orders were measured.
	Orders int
	// Elapsed is from the first submission to the last outcome stored and reported.
	Elapsed time.Duration
	// PerSecond is Orders / Elapsed.
	PerSecond float64
}

// Delivered submits n orders and measures how many per second are delivered: received, sent to
// the sandbox WMS over HTTP, accepted, recorded on the order and reported (RecordSucceeded).
func Delivered(ctx context.Context, deps Deps, n int) (Figure, error) {
	return run(ctx, deps, n, false)
}

// FailuresHandled submits n orders while the sandbox WMS is down and measures how many failures
// per second are handled: attempt made, failure classified and recorded on the order, and reported
// (RecordFailed).
func FailuresHandled(ctx context.Context, deps Deps, n int) (Figure, error) {
	return run(ctx, deps, n, true)
}

const (
	cartID = "bench-cart"
	wmsID  = "bench-wms"
	code   = "STANDARD"
)

func run(ctx context.Context, deps Deps, n int, down bool) (Figure, error) {
	if n <= 0 {
		return Figure{}, fmt.Errorf("orders bench: n must be positive, got %d", n)
	}
	if deps.Store == nil || deps.JS == nil {
		return Figure{}, errors.New("orders bench: Deps.Store and Deps.JS are required")
	}
	suffix := strconv.FormatUint(rand.Uint64()%(1<<40), 36)
	account, prefix := "bench-orders-"+suffix, "orders-bench-"+suffix

	sb, err := sandbox.Listen(sandbox.Config{WMSAddr: "127.0.0.1:0", CartAddr: "127.0.0.1:0"}, nil)
	if err != nil {
		return Figure{}, err
	}
	in, err := ingest.New(deps.Store)
	if err != nil {
		return Figure{}, err
	}
	svc, err := service.New(service.Deps{Store: deps.Store, JS: deps.JS, Ingester: in, Log: deps.Log},
		service.Config{HandlerPrefix: prefix, OnlyAccount: account, ManualSync: true})
	if err != nil {
		_ = sb.Close()
		return Figure{}, err
	}
	b, err := bus.New(deps.JS, service.Registry(), deps.Log, bus.Config{})
	if err != nil {
		_ = sb.Close()
		return Figure{}, err
	}
	for _, h := range svc.Handlers() {
		if err := b.Handle(h); err != nil {
			_ = sb.Close()
			return Figure{}, err
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = sb.Run(rctx) })
	wg.Go(func() { _ = b.Run(rctx) })
	wg.Go(func() { _ = svc.Run(rctx) })
	defer func() {
		cancel()
		wg.Wait()
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer ccancel()
		names := consumers.NamesWithPrefix(prefix)
		for _, name := range []string{names.Delivery, names.Reports, names.Holds, names.Tracking, names.Retry} {
			_ = deps.JS.DeleteConsumer(cctx, natsstore.DefaultStream, name)
			_ = deps.JS.DeleteConsumer(cctx, bus.PoisonStream, name)
		}
		_ = deps.JS.DeleteConsumer(cctx, "RETRY_DUE", names.Due)
	}()
	select {
	case <-b.Running():
	case <-ctx.Done():
		return Figure{}, ctx.Err()
	case <-time.After(30 * time.Second):
		return Figure{}, errors.New("orders bench: the bus did not start within 30s")
	}

	a := svc.Application()
	allow := func(string, string, bool) error { return nil }
	for _, s := range []*connectionsv1.ConnectionSettings{
		{ConnectionId: cartID, AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
			SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "sandbox-cart", BaseUrl: sb.CartBaseURL(cartID), WmsConnectionId: wmsID},
		{ConnectionId: wmsID, AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
			SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms", BaseUrl: sb.WMSBaseURL(wmsID),
			Timeout: durationpb.New(10 * time.Second)},
	} {
		if _, err := a.Commands.UpsertConnection.Handle(ctx, app.UpsertConnection{Settings: s, By: "bench", Authorize: allow}); err != nil {
			return Figure{}, err
		}
	}
	if _, err := a.Commands.SetShipMethodMapping.Handle(ctx, app.SetShipMethodMapping{
		Account: account, CartConnectionID: cartID, Code: code, WMSMethod: "UPS_GROUND", By: "bench", Authorize: allow,
	}); err != nil {
		return Figure{}, err
	}
	outcome := "RecordSucceeded"
	if down {
		outcome = "RecordFailed"
		if _, err := sandbox.NewAdminClient(sb.WMSURL(), nil).SetFailure(ctx, wmsID, sandbox.Failure{Mode: sandbox.ModeDown}); err != nil {
			return Figure{}, err
		}
	}
	events, err := deps.JS.Stream(ctx, natsstore.DefaultStream)
	if err != nil {
		return Figure{}, err
	}

	start := time.Now()
	next := make(chan int)
	errc := make(chan error, 1)
	var submitters sync.WaitGroup
	for range 16 {
		submitters.Go(func() {
			for i := range next {
				_, err := a.Commands.SubmitOrder.Handle(ctx, app.SubmitOrder{
					Account: account, CartConnectionID: cartID, OrderNumber: "#B" + strconv.Itoa(i), Currency: "USD",
					ShipTo:         &ordersv1.Address{Name: "Bench", Address1: "1 Main St", City: "Springfield", PostalCode: "12345", CountryCode: "US"},
					ShipMethodCode: code, Lines: []*ordersv1.OrderLine{{Sku: "SKU-" + strconv.Itoa(i%50), Quantity: 1}},
					Authorize: allow,
				})
				if err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	submitters.Wait()
	select {
	case err := <-errc:
		return Figure{}, fmt.Errorf("orders bench: submitting: %w", err)
	default:
	}
	filter := "evt.record." + account + ".*." + outcome
	deadline := time.Now().Add(time.Minute + time.Duration(n)*20*time.Millisecond)
	for {
		info, err := events.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			return Figure{}, err
		}
		var got uint64
		for _, c := range info.State.Subjects {
			got += c
		}
		if got >= uint64(n) {
			break
		}
		if time.Now().After(deadline) {
			return Figure{}, fmt.Errorf("orders bench: %d of %d outcomes stored in time", got, n)
		}
		select {
		case <-ctx.Done():
			return Figure{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	return Figure{Orders: n, Elapsed: elapsed, PerSecond: float64(n) / elapsed.Seconds()}, nil
}
