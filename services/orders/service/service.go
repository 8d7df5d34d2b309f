// Package service wires the orders service for the rebound binary: its repositories, the
// connection directory and secrets, the application, its bus handlers, the RetryDue consumer,
// the sync scheduler and its gRPC services (OrderService and ConnectionService).
//
//	svc, err := service.New(service.Deps{Store: store, JS: js, Ingester: in, ReadModels: db, Log: log}, service.Config{})
//	for _, h := range svc.Handlers() { bus.Handle(h) } // on the process's one bus
//	svc.Register(srv)                                  // before srv.Run
//	go svc.Run(ctx)                                    // directory, RetryDue consumer, sync cycles
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/connhealth"
	ordersrm "github.com/reboundhq/rebound/projections/orders"
	"github.com/reboundhq/rebound/rpc/errmap"
	"github.com/reboundhq/rebound/rpc/server"
	"github.com/reboundhq/rebound/services/orders/app"
	"github.com/reboundhq/rebound/services/orders/domain"
	"github.com/reboundhq/rebound/services/orders/domain/connection"
	"github.com/reboundhq/rebound/services/orders/domain/holds"
	"github.com/reboundhq/rebound/services/orders/domain/order"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
	"github.com/reboundhq/rebound/services/orders/inbound/consumers"
	"github.com/reboundhq/rebound/services/orders/inbound/due"
	"github.com/reboundhq/rebound/services/orders/inbound/grpcapi"
	"github.com/reboundhq/rebound/services/orders/inbound/scheduler"
	"github.com/reboundhq/rebound/services/orders/outbound/connections"
	"github.com/reboundhq/rebound/services/orders/outbound/health"
	"github.com/reboundhq/rebound/services/orders/outbound/syncstate"
)

// Clock tells the service's time.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }

// Deps are what the process hands the service.
type Deps struct {
	// Store is the event store (its registry must know every type in Registry).
	Store events.Store
	// JS is the JetStream context of the RetryDue consumer and the key-value buckets.
	JS jetstream.JetStream
	// Ingester stores connector reports: every delivery outcome and sync cycle goes through it.
	Ingester *ingest.Ingester
	// Log receives the service's log; nil discards it.
	Log *slog.Logger
	// Clock is the service's time; nil is the system clock.
	Clock Clock
	// ReadModels is the process's read-model database (the projections service keeps it
	// current): ListOrders reads it, and GetConnection and ListConnections add each connection's
	// health from it. Without it ListOrders answers FailedPrecondition.
	ReadModels *projections.DB
}

// Service is the orders service.
type Service struct {
	app      *app.Application
	dir      *connections.Directory
	board    *health.Board
	sync     *syncstate.Store
	due      *due.Consumer
	handlers []bus.Handler
	cfg      Config
	clock    Clock
	log      *slog.Logger

	mu      sync.Mutex
	running bool
}

// New builds the service; it does no I/O (buckets are created on first use, the due stream is
// waited for by Run).
func New(deps Deps, cfg Config) (*Service, error) {
	var errs []error
	if deps.Store == nil {
		errs = append(errs, errors.New("orders: Deps.Store is required"))
	}
	if deps.JS == nil {
		errs = append(errs, errors.New("orders: Deps.JS is required"))
	}
	if deps.Ingester == nil {
		errs = append(errs, errors.New("orders: Deps.Ingester is required"))
	}
	errs = append(errs, cfg.Validate())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Clock == nil {
		deps.Clock = systemClock{}
	}
	log := deps.Log.With(slog.String("service", "orders"))

	classifier := cfg.Classifier
	if classifier == nil && cfg.RulesFile != "" {
		c, err := classify.Load(cfg.RulesFile)
		if err != nil {
			return nil, fmt.Errorf("orders: %w", err)
		}
		classifier = c
	}
	if classifier == nil {
		classifier = classify.Default()
	}

	orders, err := aggregate.NewRepository(deps.Store, order.New, aggregate.Config{CacheSize: cfg.OrderCache})
	if err != nil {
		return nil, err
	}
	mappings, err := aggregate.NewRepository(deps.Store, shipmap.New, aggregate.Config{CacheSize: 1000})
	if err != nil {
		return nil, err
	}
	holdsRepo, err := aggregate.NewRepository(deps.Store, holds.New, aggregate.Config{CacheSize: 1000})
	if err != nil {
		return nil, err
	}
	configs, err := aggregate.NewRepository(deps.Store, connection.New, aggregate.Config{CacheSize: 1000})
	if err != nil {
		return nil, err
	}
	secrets, err := connections.NewSecrets(deps.JS, cfg.SecretsBucket, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	dir, err := connections.NewDirectory(deps.Store, secrets, cfg.HTTPClient, log.With(slog.String("component", "connections")))
	if err != nil {
		return nil, err
	}
	syncState, err := syncstate.New(deps.JS, cfg.SyncBucket, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	board := health.NewBoard()
	appDeps := app.Deps{
		Orders: orders, Mappings: mappings, Holds: holdsRepo, Configs: configs, Connections: dir, Secrets: secrets,
		Reports: deps.Ingester, Classifier: classifier, Health: board, Sync: syncState, Clock: deps.Clock, Log: log,
	}
	if deps.ReadModels != nil {
		appDeps.OrderList = ordersrm.NewReader(deps.ReadModels)
		appDeps.ConnectionHealth = connhealth.NewReader(deps.ReadModels)
	}
	a, err := app.New(appDeps)
	if err != nil {
		return nil, err
	}
	names := consumers.NamesWithPrefix(cfg.HandlerPrefix)
	s := &Service{app: a, dir: dir, board: board, sync: syncState, cfg: cfg, clock: deps.Clock, log: log}
	s.handlers = consumers.Handlers(a, names, consumers.Options{Workers: cfg.Workers, DeliveryWorkers: cfg.DeliveryWorkers, Account: cfg.OnlyAccount})
	s.due, err = due.New(deps.JS, due.Config{Name: names.Due, Stream: cfg.DueStream, Workers: cfg.DueWorkers, Account: cfg.OnlyAccount},
		s.handleDue, log.With(slog.String("component", "retry_commands")))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Application returns the service's use cases (for benchmarks, ops commands and tests).
func (s *Service) Application() *app.Application { return s.app }

// Handlers returns the bus handlers to register on the process's bus (on EVENTS):
// orders-delivery, orders-reports, orders-holds, orders-tracking and orders-retry (see package
// consumers). The RetryDue consumer on RETRY_DUE runs in Run.
func (s *Service) Handlers() []bus.Handler { return append([]bus.Handler(nil), s.handlers...) }

var registerErrors sync.Once

// Register adds OrderService and ConnectionService to srv and marks them serving. It registers
// the domain's wrong-state errors and app.ErrNoReadModels with errmap.Default as
// FailedPrecondition.
func (s *Service) Register(srv *server.Server) {
	registerErrors.Do(func() { errmap.RegisterPrecondition(domain.ErrWrongState, app.ErrNoReadModels) })
	ordersv1.RegisterOrderServiceServer(srv.GRPC(), grpcapi.NewOrders(s.app))
	connectionsv1.RegisterConnectionServiceServer(srv.GRPC(), grpcapi.NewConnections(s.app))
	srv.SetServing(ordersv1.OrderService_ServiceDesc.ServiceName)
	srv.SetServing(connectionsv1.ConnectionService_ServiceDesc.ServiceName)
}

// Run runs, until ctx ends, what the service needs besides its bus handlers: the connection
// directory (it reads every configuration, then follows new ones), the connections file (loaded
// once at start), the RetryDue consumer (once the retry service created RETRY_DUE) and the sync
// scheduler. It returns nil after ctx ended, or the first error that stopped it. A Service runs
// once.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("orders: Run called twice")
	}
	s.running = true
	s.mu.Unlock()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	fail := func(name string, err error) {
		if err != nil && ctx.Err() == nil {
			cancel(fmt.Errorf("orders: %s: %w", name, err))
		}
	}
	wg.Go(func() { fail("connection directory", s.dir.Run(ctx)) })
	wg.Go(func() { fail("retry commands", s.due.Run(ctx)) })
	if s.cfg.ConnectionsFile != "" {
		n, err := s.LoadConnectionsFile(ctx, s.cfg.ConnectionsFile)
		if err != nil {
			fail("connections file", err)
		} else {
			s.log.Info("connections file loaded", slog.String("path", s.cfg.ConnectionsFile), slog.Int("changed", n))
		}
	}
	if !s.cfg.ManualSync {
		sched, err := scheduler.New(s.dir, s.sync, s.runCycle, s.board.NextSync, s.clock.Now, s.cfg.SyncTick,
			s.log.With(slog.String("component", "sync_scheduler")))
		if err != nil {
			return err
		}
		wg.Go(func() { fail("sync scheduler", sched.Run(ctx)) })
	}
	s.log.Info("orders service running")
	<-ctx.Done()
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// runCycle runs the cycle of a cart connection due at dueAt.
func (s *Service) runCycle(ctx context.Context, account, connectionID string, dueAt time.Time) error {
	if s.cfg.OnlyAccount != "" && account != s.cfg.OnlyAccount {
		return nil
	}
	_, err := s.app.Commands.RunSyncCycle.Handle(ctx, app.RunSyncCycle{
		Account: account, ConnectionID: connectionID, CycleID: app.CycleID(connectionID, dueAt),
	})
	return err
}

// SyncNow runs a sync cycle of a cart connection now, outside its schedule.
func (s *Service) SyncNow(ctx context.Context, account, connectionID string) (app.CycleResult, error) {
	now := s.clock.Now()
	return s.app.Commands.RunSyncCycle.Handle(ctx, app.RunSyncCycle{
		Account: account, ConnectionID: connectionID, CycleID: app.CycleID(connectionID, now) + "-now",
	})
}

// handleDue routes a RetryDue command by its record's kind.
func (s *Service) handleDue(ctx context.Context, d *retryv1.RetryDue, correlationID string) error {
	var err error
	switch d.GetRecord().GetRecordKind() {
	case connectorv1.RecordKind_RECORD_KIND_ORDER:
		err = s.app.Commands.DeliverDue.Handle(ctx, app.DeliverDue{Due: d, CorrelationID: correlationID})
	case connectorv1.RecordKind_RECORD_KIND_TRACKING:
		err = s.app.Commands.PushTrackingDue.Handle(ctx, app.PushTrackingDue{Due: d, CorrelationID: correlationID})
	case connectorv1.RecordKind_RECORD_KIND_INVENTORY:
		err = s.app.Commands.PushInventoryDue.Handle(ctx, app.PushInventoryDue{Due: d, CorrelationID: correlationID})
	}
	if errors.Is(err, domain.ErrWrongState) {
		return nil
	}
	return err
}

// EventTypes lists every event type the service reads or writes.
func EventTypes() []proto.Message {
	types := append(order.EventTypes(), shipmap.EventTypes()...)
	types = append(types, holds.EventTypes()...)
	types = append(types, connection.EventTypes()...)
	return append(types,
		&connectorv1.RecordFailed{}, &connectorv1.RecordSucceeded{}, &connectorv1.RecordUpdated{},
		&connectorv1.SyncCycleStarted{}, &retryv1.RetryExhausted{}, &retryv1.RetryCanceled{})
}

// Registry returns a registry of every event type the service reads or writes.
func Registry() *events.Registry { return events.NewRegistry(EventTypes()...) }
