// Package service wires the retry service for the rebound binary: New builds it from its
// dependencies, Handlers are its bus handlers (register them on the process's bus), Register
// puts rebound.retry.v1.RetryService on the gRPC server, and Run runs what is long-running (the
// durable timers and the drain of recovered connections).
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/retryqueue"
	"github.com/reboundhq/rebound/rpc/errmap"
	"github.com/reboundhq/rebound/rpc/server"
	"github.com/reboundhq/rebound/services/retry/app"
	"github.com/reboundhq/rebound/services/retry/domain"
	"github.com/reboundhq/rebound/services/retry/inbound"
	"github.com/reboundhq/rebound/services/retry/outbound"
)

// Clock tells the time; the domain never reads one itself.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Deps are what the service needs from the process.
type Deps struct {
	// Store is the event store; its registry must know Registry()'s types.
	Store events.Store
	// JS is the JetStream context for the timers, the index, the due stream and the snapshots.
	JS jetstream.JetStream
	// Snapshots keeps the schedules' snapshots (see aggregate.Config.Snapshots). When nil, the
	// service keeps them in natsstore's SNAPSHOTS bucket through JS, opened by Run or on first
	// use (natsstore.Snapshots), unless Config.DisableSnapshots.
	Snapshots aggregate.SnapshotStore
	// Log receives the service's log; nil discards it.
	Log *slog.Logger
	// Clock tells the time; nil is the system clock.
	Clock Clock
	// ReadModels is the process's read-model database, which ListRetries and
	// ListSkippedRecords read (the projections service keeps it current). Without it they answer
	// FailedPrecondition.
	ReadModels *projections.DB
}

// Service is the retry service.
type Service struct {
	app      app.Application
	handlers []bus.Handler
	timers   *outbound.Timers
	index    *outbound.Index
	due      *outbound.DuePublisher
	snaps    *natsstore.Snapshots // nil unless the service opens the bucket itself
	drainer  *inbound.Drainer
	log      *slog.Logger

	mu      sync.Mutex
	running bool
}

// New builds the service. It does no I/O: the streams and the buckets it needs are created on
// first use (and by Run).
func New(deps Deps, cfg Config) (*Service, error) {
	var errs []error
	if deps.Store == nil {
		errs = append(errs, errors.New("retry service: Deps.Store is required"))
	}
	if deps.JS == nil {
		errs = append(errs, errors.New("retry service: Deps.JS is required"))
	}
	errs = append(errs, cfg.Validate())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("service", "retry"))
	var clock Clock = systemClock{}
	if deps.Clock != nil {
		clock = deps.Clock
	}
	policies, err := cfg.policies()
	if err != nil {
		return nil, err
	}

	snapshots, snaps := deps.Snapshots, (*natsstore.Snapshots)(nil)
	switch {
	case cfg.DisableSnapshots:
		snapshots = nil
	case snapshots == nil:
		if snaps, err = natsstore.NewSnapshots(deps.JS, cfg.Replicas); err != nil {
			return nil, err
		}
		snapshots = snaps
	}
	repo, err := aggregate.NewRepository(deps.Store, domain.New, aggregate.Config{CacheSize: cfg.CacheSize, Snapshots: snapshots})
	if err != nil {
		return nil, err
	}
	timers, err := outbound.NewTimers(deps.JS, cfg.Timers, cfg.TimerKind, log)
	if err != nil {
		return nil, err
	}
	index, err := outbound.NewIndex(deps.JS, cfg.IndexBucket, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	due, err := outbound.NewDuePublisher(deps.JS, cfg.Due)
	if err != nil {
		return nil, err
	}
	schedules, err := app.NewSchedules(repo, timers, index)
	if err != nil {
		return nil, err
	}

	var a app.Application
	staleAfter := max(cfg.DueStaleAfter, 0)
	c := &a.Commands
	errs = nil
	add := func(err error) { errs = append(errs, err) }
	c.RecordFailure, err = app.NewRecordFailureHandler(schedules, cfg.Classifier, policies, index, index, clock)
	add(err)
	c.RecordSuccess, err = app.NewRecordSuccessHandler(schedules, clock)
	add(err)
	c.RecordUpdate, err = app.NewRecordUpdateHandler(schedules, clock)
	add(err)
	c.StartSyncCycle, err = app.NewStartSyncCycleHandler(schedules, index, index, index, clock, cfg.FanOut)
	add(err)
	c.PauseForOutage, err = app.NewPauseForOutageHandler(schedules, index, clock, cfg.FanOut)
	add(err)
	c.ResumeAfterOutage, err = app.NewResumeAfterOutageHandler(index, index, clock)
	add(err)
	c.DrainConnection, err = app.NewDrainConnectionHandler(schedules, index, index, clock)
	add(err)
	c.FireTimer, err = app.NewFireTimerHandler(schedules, clock)
	add(err)
	c.PublishDue, err = app.NewPublishDueHandler(due, clock, staleAfter, log)
	add(err)
	c.RetryNow, err = app.NewRetryNowHandler(schedules, clock)
	add(err)
	c.CancelRetry, err = app.NewCancelRetryHandler(schedules, clock)
	add(err)
	c.Reconcile, err = app.NewReconcileHandler(deps.Store, schedules)
	add(err)
	a.Queries.GetRetry, err = app.NewGetRetryHandler(schedules)
	add(err)
	if deps.ReadModels != nil {
		queues := retryqueue.NewReader(deps.ReadModels)
		a.Queries.ListRetries = app.NewListRetriesHandler(queues)
		a.Queries.ListSkippedRecords = app.NewListSkippedRecordsHandler(queues)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	drainer, err := inbound.NewDrainer(index, c.DrainConnection, cfg.DrainRate, cfg.DrainBurst, log)
	if err != nil {
		return nil, err
	}
	return &Service{
		app:      a,
		handlers: inbound.Handlers(a, inbound.NamesWithPrefix(cfg.HandlerPrefix), cfg.Workers, cfg.OnlyAccount),
		timers:   timers,
		index:    index,
		due:      due,
		snaps:    snaps,
		drainer:  drainer,
		log:      log,
	}, nil
}

// Application returns the service's use cases (for ops commands such as Reconcile, and tests).
func (s *Service) Application() app.Application { return s.app }

// Handlers returns the service's bus handlers: retry-records, retry-sync, retry-outage and
// retry-due (with the configured prefix). Register each on the process's bus before it runs.
func (s *Service) Handlers() []bus.Handler { return append([]bus.Handler(nil), s.handlers...) }

var registerErrors sync.Once

// Register puts rebound.retry.v1.RetryService on srv and marks it serving. Call it before
// srv.Run. It registers domain.ErrWrongState and app.ErrNoReadModels with errmap.Default as
// FailedPrecondition.
func (s *Service) Register(srv *server.Server) {
	registerErrors.Do(func() { errmap.RegisterPrecondition(domain.ErrWrongState, app.ErrNoReadModels) })
	retryv1.RegisterRetryServiceServer(srv.GRPC(), inbound.NewGRPC(s.app))
	srv.SetServing(retryv1.RetryService_ServiceDesc.ServiceName)
}

// Run creates the streams and the buckets the service needs (the index, and the SNAPSHOTS
// bucket when the service keeps its snapshots itself), then handles the schedules' timers
// and drains recovered connections until ctx ends. It returns nil after ctx ended, or the first
// error that stopped it. A Service runs once.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("retry service: Run called twice")
	}
	s.running = true
	s.mu.Unlock()

	if err := errors.Join(s.index.Ensure(ctx), s.due.Ensure(ctx), s.timers.Ensure(ctx)); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("retry service: setting up: %w", err)
	}
	if s.snaps != nil {
		if err := s.snaps.Ensure(ctx); err != nil && ctx.Err() == nil {
			// Snapshots only make loads cheaper: run without them until the bucket opens.
			s.log.Warn("snapshots unavailable", slog.Any("error", err))
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- s.timers.Run(ctx, inbound.OnTimer(s.app, s.log)) }()
	go func() { errc <- s.drainer.Run(ctx) }()
	s.log.Info("retry service running")
	var first error
	for range 2 {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	if first != nil && ctx.Err() != nil && errors.Is(first, context.Canceled) {
		first = nil
	}
	return first
}

// Registry returns every event type the service reads or writes: the retry schedule's events,
// the connector reports and the alerts service's outage events.
func Registry() *events.Registry {
	reg := events.NewRegistry(domain.Events()...)
	reg.Register(
		&connectorv1.RecordFailed{}, &connectorv1.RecordSucceeded{}, &connectorv1.RecordUpdated{},
		&connectorv1.SyncCycleStarted{},
		&alertsv1.ConnectionDown{}, &alertsv1.RecordCoveredByOutage{}, &alertsv1.ConnectionRecovered{},
		&alertsv1.ConnectionFailureObserved{},
	)
	return reg
}
