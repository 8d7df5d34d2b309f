// Package inbound drives the retry service's use cases: bus handlers on the EVENTS stream, the
// durable timers, the drain jobs and the gRPC RetryService.
package inbound

import (
	"context"

	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/services/retry/app"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// DefaultHandlerPrefix starts the names of the retry service's bus handlers.
const DefaultHandlerPrefix = "retry"

// Names are the names of the bus handlers, which are their durable consumers' names and the
// suffixes of their poison subjects: persisted identifiers.
type Names struct {
	// Records consumes RecordFailed, RecordSucceeded and RecordUpdated ("retry-records").
	Records string
	// Sync consumes SyncCycleStarted ("retry-sync").
	Sync string
	// Outage consumes ConnectionDown, RecordCoveredByOutage and ConnectionRecovered
	// ("retry-outage").
	Outage string
	// Due consumes RetryAttemptDue and publishes RetryDue commands ("retry-due").
	Due string
}

// NamesWithPrefix returns the handler names <prefix>-records, <prefix>-sync, <prefix>-outage and
// <prefix>-due.
func NamesWithPrefix(prefix string) Names {
	return Names{Records: prefix + "-records", Sync: prefix + "-sync", Outage: prefix + "-outage", Due: prefix + "-due"}
}

// Handlers returns the bus handlers of the retry service, each with workers workers (messages
// of one aggregate are handled in order). account, when not empty, restricts every handler to
// that account's events (benchmarks); empty reads every account.
func Handlers(a app.Application, names Names, workers int, account string) []bus.Handler {
	if account == "" {
		account = "*"
	}
	subject := func(aggregateType string, msg proto.Message) string {
		return events.SubjectPrefix + "." + aggregateType + "." + account + ".*." + events.ShortType(events.TypeName(msg))
	}
	records := &bus.Mux{}
	bus.On(records, func(ctx context.Context, env events.Envelope, m *connectorv1.RecordFailed) error {
		return a.Commands.RecordFailure.Handle(ctx, app.RecordFailure{Env: env, Failure: m})
	})
	bus.On(records, func(ctx context.Context, env events.Envelope, m *connectorv1.RecordSucceeded) error {
		return a.Commands.RecordSuccess.Handle(ctx, app.RecordSuccess{Env: env, Success: m})
	})
	bus.On(records, func(ctx context.Context, env events.Envelope, m *connectorv1.RecordUpdated) error {
		return a.Commands.RecordUpdate.Handle(ctx, app.RecordUpdate{Env: env, Update: m})
	})

	cycles := &bus.Mux{}
	bus.On(cycles, func(ctx context.Context, env events.Envelope, m *connectorv1.SyncCycleStarted) error {
		return a.Commands.StartSyncCycle.Handle(ctx, app.StartSyncCycle{Env: env, Cycle: m})
	})

	outage := &bus.Mux{}
	bus.On(outage, func(ctx context.Context, env events.Envelope, m *alertsv1.ConnectionDown) error {
		return a.Commands.PauseForOutage.Handle(ctx, app.PauseForOutage{
			Env: env, Connection: m.GetConnection(), Outage: m.GetOutage(), Records: m.GetCoveredRecords(), Down: true,
		})
	})
	bus.On(outage, func(ctx context.Context, env events.Envelope, m *alertsv1.RecordCoveredByOutage) error {
		return a.Commands.PauseForOutage.Handle(ctx, app.PauseForOutage{
			Env: env, Connection: m.GetConnection(), Outage: m.GetOutage(), Records: []*alertsv1.FailingRecord{m.GetRecord()},
		})
	})
	bus.On(outage, func(ctx context.Context, env events.Envelope, m *alertsv1.ConnectionRecovered) error {
		return a.Commands.ResumeAfterOutage.Handle(ctx, app.ResumeAfterOutage{Env: env, Recovered: m})
	})

	due := &bus.Mux{}
	bus.On(due, func(ctx context.Context, env events.Envelope, m *retryv1.RetryAttemptDue) error {
		return a.Commands.PublishDue.Handle(ctx, app.PublishDue{Env: env, Due: m})
	})

	return []bus.Handler{
		{
			Name: names.Records,
			Subjects: []string{
				subject(connector.RecordAggregate, &connectorv1.RecordFailed{}),
				subject(connector.RecordAggregate, &connectorv1.RecordSucceeded{}),
				subject(connector.RecordAggregate, &connectorv1.RecordUpdated{}),
			},
			Workers: workers,
			Func:    records.Func(),
		},
		{
			Name:     names.Sync,
			Subjects: []string{subject(connector.ConnectionAggregate, &connectorv1.SyncCycleStarted{})},
			Workers:  workers,
			Func:     cycles.Func(),
		},
		{
			Name: names.Outage,
			Subjects: []string{
				subject(OutageAggregate, &alertsv1.ConnectionDown{}),
				subject(OutageAggregate, &alertsv1.RecordCoveredByOutage{}),
				subject(OutageAggregate, &alertsv1.ConnectionRecovered{}),
			},
			Workers: workers,
			Func:    outage.Func(),
		},
		{
			Name:     names.Due,
			Subjects: []string{subject(domain.AggregateType, &retryv1.RetryAttemptDue{})},
			Workers:  workers,
			Func:     due.Func(),
		},
	}
}

// OutageAggregate is the aggregate type of the alerts service's outage streams:
// evt.outage.<account>.<connection id>.<EventType>.
const OutageAggregate = "outage"
