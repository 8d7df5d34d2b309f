// Package consumers is how the orders service consumes the EVENTS stream: its bus handlers. Each
// turns a stored event into an app command and classifies the outcome for the bus: validation
// errors are permanent (the event goes to poison.<handler>), a wrong-state error and a redelivered
// event already applied are acknowledged, anything else is retried.
package consumers

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/services/orders/app"
	"github.com/reboundhq/rebound/services/orders/domain"
	"github.com/reboundhq/rebound/services/orders/domain/order"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
)

// DefaultPrefix starts the handler names.
const DefaultPrefix = "orders"

// Names are the names of the service's consumers: the durable consumers' names and the suffixes
// of their poison subjects. Persisted identifiers: renaming one replays its stream into a new
// consumer.
type Names struct {
	// Delivery makes the orders service's own attempts ("orders-delivery").
	Delivery string
	// Reports reports order events as connector events ("orders-reports").
	Reports string
	// Holds keeps the holds index and releases held orders when mappings are saved
	// ("orders-holds").
	Holds string
	// Tracking pushes the tracking of shipped orders ("orders-tracking").
	Tracking string
	// Retry applies the retry service's RetryExhausted and RetryCanceled ("orders-retry").
	Retry string
	// Due consumes the retry service's RetryDue commands on RETRY_DUE ("orders-due").
	Due string
}

// NamesWithPrefix returns the names <prefix>-delivery, -reports, -holds, -tracking, -retry, -due.
func NamesWithPrefix(prefix string) Names {
	return Names{
		Delivery: prefix + "-delivery", Reports: prefix + "-reports", Holds: prefix + "-holds",
		Tracking: prefix + "-tracking", Retry: prefix + "-retry", Due: prefix + "-due",
	}
}

// RetryAggregate is the retry service's aggregate type (evt.retry.<account>.<record key>.*).
const RetryAggregate = "retry"

// Options tune the handlers.
type Options struct {
	// Workers is how many messages each handler processes at once.
	Workers int
	// DeliveryWorkers is how many the delivery and tracking handlers process at once (each waits
	// for a call to the WMS or the cart).
	DeliveryWorkers int
	// Account, when set, restricts every handler to one account's events (benchmarks).
	Account string
}

// Subjects returns the subjects of each handler.
func Subjects(names Names, account string) map[string][]string {
	if account == "" {
		account = "*"
	}
	subj := func(aggregateType string, msg proto.Message) string {
		return events.SubjectPrefix + "." + aggregateType + "." + account + ".*." + events.ShortType(events.TypeName(msg))
	}
	var reports []string
	for _, m := range []proto.Message{
		&ordersv1.OrderDeliveryFailed{}, &ordersv1.OrderAcceptedByWMS{}, &ordersv1.OrderEdited{}, &ordersv1.OrderReleased{},
		&ordersv1.OrderResendRequested{}, &ordersv1.OrderSendingCanceled{}, &ordersv1.OrderTrackingPushFailed{},
		&ordersv1.OrderConfirmed{},
	} {
		reports = append(reports, subj(order.AggregateType, m))
	}
	return map[string][]string{
		names.Delivery: {
			subj(order.AggregateType, &ordersv1.OrderReceived{}), subj(order.AggregateType, &ordersv1.OrderEdited{}),
			subj(order.AggregateType, &ordersv1.OrderResendRequested{}),
		},
		names.Reports: reports,
		names.Holds: {
			subj(order.AggregateType, &ordersv1.OrderHeld{}), subj(shipmap.AggregateType, &ordersv1.ShipMethodMappingSet{}),
			subj(shipmap.AggregateType, &ordersv1.ShipMethodPassThroughChanged{}),
		},
		names.Tracking: {subj(order.AggregateType, &ordersv1.OrderShipped{})},
		names.Retry: {
			subj(RetryAggregate, &retryv1.RetryExhausted{}), subj(RetryAggregate, &retryv1.RetryCanceled{}),
		},
	}
}

// ack classifies a command's error for the bus: a wrong state means the event does not apply
// (any more) and is acknowledged.
func ack(err error) error {
	if errors.Is(err, domain.ErrWrongState) {
		return nil
	}
	return err
}

// Handlers returns the service's bus handlers on EVENTS (the RETRY_DUE consumer is package due).
// Messages of one aggregate go to one worker in order; different aggregates run in parallel.
func Handlers(a *app.Application, names Names, o Options) []bus.Handler {
	subjects := Subjects(names, o.Account)

	var delivery bus.Mux
	bus.On(&delivery, func(ctx context.Context, env events.Envelope, _ *ordersv1.OrderReceived) error {
		return ack(a.Commands.Deliver.Handle(ctx, app.Deliver{Envelope: env, Trigger: ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED}))
	})
	bus.On(&delivery, func(ctx context.Context, env events.Envelope, _ *ordersv1.OrderEdited) error {
		return ack(a.Commands.Deliver.Handle(ctx, app.Deliver{Envelope: env, Trigger: ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_EDITED}))
	})
	bus.On(&delivery, func(ctx context.Context, env events.Envelope, _ *ordersv1.OrderResendRequested) error {
		return ack(a.Commands.Deliver.Handle(ctx, app.Deliver{Envelope: env, Trigger: ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RESEND_REQUESTED}))
	})

	report := func(ctx context.Context, rec events.Record) error {
		if rec.Message == nil {
			return bus.Permanent(&events.UnknownTypeError{Type: rec.EventType})
		}
		return a.Commands.ReportOrderEvent.Handle(ctx, app.ReportOrderEvent{Envelope: rec.Envelope, Event: rec.Message})
	}

	var holdsMux bus.Mux
	bus.On(&holdsMux, func(ctx context.Context, env events.Envelope, m *ordersv1.OrderHeld) error {
		return ack(a.Commands.TrackHold.Handle(ctx, app.TrackHold{Envelope: env, Held: m}))
	})
	bus.On(&holdsMux, func(ctx context.Context, env events.Envelope, m *ordersv1.ShipMethodMappingSet) error {
		return ack(a.Commands.ReleaseHolds.Handle(ctx, app.ReleaseHolds{Envelope: env, Event: m}))
	})
	bus.On(&holdsMux, func(ctx context.Context, env events.Envelope, m *ordersv1.ShipMethodPassThroughChanged) error {
		return ack(a.Commands.ReleaseHolds.Handle(ctx, app.ReleaseHolds{Envelope: env, Event: m}))
	})

	var tracking bus.Mux
	bus.On(&tracking, func(ctx context.Context, env events.Envelope, m *ordersv1.OrderShipped) error {
		return ack(a.Commands.PushTracking.Handle(ctx, app.PushTracking{Envelope: env, Shipped: m}))
	})

	var retries bus.Mux
	bus.On(&retries, func(ctx context.Context, env events.Envelope, m *retryv1.RetryExhausted) error {
		return ack(a.Commands.SkipOrder.Handle(ctx, app.SkipOrder{Envelope: env, Exhausted: m}))
	})
	bus.On(&retries, func(ctx context.Context, env events.Envelope, m *retryv1.RetryCanceled) error {
		return ack(a.Commands.CancelForRetry.Handle(ctx, app.CancelForRetry{Envelope: env, Canceled: m}))
	})

	return []bus.Handler{
		{Name: names.Delivery, Subjects: subjects[names.Delivery], Workers: o.DeliveryWorkers, Func: delivery.Func()},
		{Name: names.Reports, Subjects: subjects[names.Reports], Workers: o.Workers, Func: report},
		{Name: names.Holds, Subjects: subjects[names.Holds], Workers: o.Workers, Func: holdsMux.Func()},
		{Name: names.Tracking, Subjects: subjects[names.Tracking], Workers: o.DeliveryWorkers, Func: tracking.Func()},
		{Name: names.Retry, Subjects: subjects[names.Retry], Workers: o.Workers, Func: retries.Func()},
	}
}
