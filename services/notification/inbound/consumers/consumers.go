// Package consumers is how the notification service consumes events: its bus handler (a durable
// consumer on the EVENTS stream) for the public alert events, and its wake-timer handler. Each
// turns an event into an app command; validation errors are permanent (the event goes to
// poison.<handler>), a redelivered event already applied is recognised per mailbox, anything else
// is retried.
package consumers

import (
	"context"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/services/notification/app"
)

// AlertsHandler is the durable consumer of alert events and the suffix of its poison subject. A
// persisted identifier: renaming it replays the stream into a new consumer (and emails again).
const AlertsHandler = "notification-alerts"

// AlertAggregate is the alerts service's alert aggregate type (evt.alert.<account>.<id>.*).
const AlertAggregate = "alert"

// Subjects returns the handler's subjects.
func Subjects() []string {
	var out []string
	for _, m := range []string{"AlertNeedsAttention", "AlertResolved", "AlertDismissed", "AlertCoveredByOutage", "AlertUncovered"} {
		out = append(out, events.AggregateSubject(AlertAggregate, "rebound.alerts.v1."+m))
	}
	return out
}

// Handlers returns the service's bus handler with workers workers. Events of one alert go to one
// worker in order; different alerts run in parallel (the mailboxes they share are updated one
// at a time).
func Handlers(a *app.Application, workers int) []bus.Handler {
	var m bus.Mux
	bus.On(&m, func(ctx context.Context, env events.Envelope, e *alertsv1.AlertNeedsAttention) error {
		return a.Commands.QueueAlert.Handle(ctx, app.QueueAlert{Envelope: env, Event: e})
	})
	bus.On(&m, func(ctx context.Context, env events.Envelope, e *alertsv1.AlertResolved) error {
		return a.Commands.CloseAlert.Handle(ctx, app.CloseAlert{Envelope: env, Alert: e.GetAlert(),
			Status: alertsv1.AlertStatus_ALERT_STATUS_RESOLVED, ClosedAt: e.GetResolvedAt().AsTime()})
	})
	bus.On(&m, func(ctx context.Context, env events.Envelope, e *alertsv1.AlertDismissed) error {
		return a.Commands.CloseAlert.Handle(ctx, app.CloseAlert{Envelope: env, Alert: e.GetAlert(),
			Status: alertsv1.AlertStatus_ALERT_STATUS_DISMISSED, ClosedAt: e.GetDismissedAt().AsTime()})
	})
	bus.On(&m, func(ctx context.Context, env events.Envelope, e *alertsv1.AlertCoveredByOutage) error {
		return a.Commands.CoverAlert.Handle(ctx, app.CoverAlert{Envelope: env, Alert: e.GetAlert(), Outage: e.GetOutage(),
			Covered: true, At: e.GetCoveredAt().AsTime()})
	})
	bus.On(&m, func(ctx context.Context, env events.Envelope, e *alertsv1.AlertUncovered) error {
		return a.Commands.CoverAlert.Handle(ctx, app.CoverAlert{Envelope: env, Alert: e.GetAlert(), Outage: e.GetOutage(),
			At: e.GetUncoveredAt().AsTime()})
	})
	return []bus.Handler{{Name: AlertsHandler, Subjects: Subjects(), Workers: workers, Func: m.Func()}}
}

// Wake returns the wake-timer handler: each firing wakes its mailbox.
func Wake(a *app.Application) func(ctx context.Context, stream events.StreamID, due time.Time) error {
	return func(ctx context.Context, stream events.StreamID, due time.Time) error {
		return a.Commands.Wake.Handle(ctx, app.Wake{Stream: stream, DueAt: due})
	}
}
