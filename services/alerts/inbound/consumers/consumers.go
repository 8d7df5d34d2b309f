// Package consumers is how the alerts service consumes events: its bus handlers (durable
// consumers on the EVENTS stream) and its grace-timer handler. Each turns an event into an app
// command and classifies the outcome for the bus: validation errors are permanent (the event goes
// to poison.<handler>), a redelivered event already applied is acknowledged, anything else is
// retried.
package consumers

import (
	"context"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/services/alerts/app"
	"github.com/reboundhq/rebound/services/alerts/domain/outage"
)

// Handler names: the durable consumers on EVENTS and the suffixes of their poison subjects
// (poison.<name>). Persisted identifiers: renaming one replays the stream into a new consumer.
const (
	// RecordsHandler consumes connector reports: evt.record.*.*.RecordFailed and RecordSucceeded.
	RecordsHandler = "alerts-records"
	// OutageHandler consumes the outage detector's ConnectionDown, RecordCoveredByOutage and
	// ConnectionRecovered.
	OutageHandler = "alerts-outage"
	// RetryHandler consumes the retry service's RetryExhausted.
	RetryHandler = "alerts-retry"
)

// Subjects returns the subjects of each handler.
func Subjects() map[string][]string {
	return map[string][]string{
		RecordsHandler: {
			events.AggregateSubject(connector.RecordAggregate, events.TypeName(&connectorv1.RecordFailed{})),
			events.AggregateSubject(connector.RecordAggregate, events.TypeName(&connectorv1.RecordSucceeded{})),
		},
		OutageHandler: {
			events.AggregateSubject(outage.AggregateType, events.TypeName(&alertsv1.ConnectionDown{})),
			events.AggregateSubject(outage.AggregateType, events.TypeName(&alertsv1.RecordCoveredByOutage{})),
			events.AggregateSubject(outage.AggregateType, events.TypeName(&alertsv1.ConnectionRecovered{})),
		},
		RetryHandler: {
			events.AggregateSubject(RetryAggregate, events.TypeName(&retryv1.RetryExhausted{})),
		},
	}
}

// RetryAggregate is the retry service's aggregate type (evt.retry.<account>.<record key>.*).
const RetryAggregate = "retry"

// Handlers returns the service's bus handlers, each with workers workers. Messages of one
// aggregate (a record, a connection's detector, a record's retry schedule) go to one worker in
// order; different aggregates run in parallel.
func Handlers(a *app.Application, workers int) []bus.Handler {
	subjects := Subjects()

	var records bus.Mux
	bus.On(&records, func(ctx context.Context, env events.Envelope, m *connectorv1.RecordFailed) error {
		return a.Commands.RecordFailure.Handle(ctx, app.RecordFailure{Envelope: env, Report: m})
	})
	bus.On(&records, func(ctx context.Context, env events.Envelope, m *connectorv1.RecordSucceeded) error {
		return a.Commands.RecordSuccess.Handle(ctx, app.RecordSuccess{Envelope: env, Report: m})
	})

	var outages bus.Mux
	bus.On(&outages, func(ctx context.Context, env events.Envelope, m *alertsv1.ConnectionDown) error {
		return a.Commands.ApplyConnectionDown.Handle(ctx, app.ConnectionDown{Envelope: env, Event: m})
	})
	bus.On(&outages, func(ctx context.Context, env events.Envelope, m *alertsv1.RecordCoveredByOutage) error {
		return a.Commands.CoverRecord.Handle(ctx, app.CoverRecord{Envelope: env, Event: m})
	})
	bus.On(&outages, func(ctx context.Context, env events.Envelope, m *alertsv1.ConnectionRecovered) error {
		return a.Commands.ApplyRecovery.Handle(ctx, app.ConnectionRecovered{Envelope: env, Event: m})
	})

	var retries bus.Mux
	bus.On(&retries, func(ctx context.Context, env events.Envelope, m *retryv1.RetryExhausted) error {
		return a.Commands.EscalateRecord.Handle(ctx, app.EscalateRecord{Envelope: env, Event: m})
	})

	return []bus.Handler{
		{Name: RecordsHandler, Subjects: subjects[RecordsHandler], Workers: workers, Func: records.Func()},
		{Name: OutageHandler, Subjects: subjects[OutageHandler], Workers: workers, Func: outages.Func()},
		{Name: RetryHandler, Subjects: subjects[RetryHandler], Workers: workers, Func: retries.Func()},
	}
}

// Grace returns the grace-timer handler: each firing checks its alert's grace period.
func Grace(a *app.Application) func(ctx context.Context, stream events.StreamID, due time.Time) error {
	return func(ctx context.Context, stream events.StreamID, due time.Time) error {
		return a.Commands.CheckGrace.Handle(ctx, app.CheckGrace{Stream: stream, DueAt: due})
	}
}
