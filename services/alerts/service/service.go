// Package service wires the alerts service for the rebound binary: its repositories, the
// application, its bus handlers, its gRPC services (AlertService and IngestService) and its
// grace timers.
//
//	svc, err := service.New(service.Deps{Store: store, JS: js, Ingester: in, ReadModels: db, Log: log}, service.Config{})
//	for _, h := range svc.Handlers() { bus.Handle(h) } // on the process's one bus
//	svc.Register(srv)                                  // before srv.Run
//	go svc.Run(ctx)                                    // grace timers
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

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ingestv1 "github.com/reboundhq/rebound/proto/gen/rebound/ingest/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/timer"
	"github.com/reboundhq/rebound/projections"
	alertsrm "github.com/reboundhq/rebound/projections/alerts"
	"github.com/reboundhq/rebound/rpc/errmap"
	"github.com/reboundhq/rebound/rpc/server"
	"github.com/reboundhq/rebound/services/alerts/app"
	"github.com/reboundhq/rebound/services/alerts/domain"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/index"
	"github.com/reboundhq/rebound/services/alerts/domain/outage"
	"github.com/reboundhq/rebound/services/alerts/inbound/consumers"
	"github.com/reboundhq/rebound/services/alerts/inbound/grpcapi"
	"github.com/reboundhq/rebound/services/alerts/outbound/grace"
)

// Clock tells the service's time.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }

// Deps are what the process hands the service.
type Deps struct {
	// Store is the event store (its registry must know every type in Registry).
	Store events.Store
	// JS is the JetStream context the grace timers (and the snapshots) use.
	JS jetstream.JetStream
	// Snapshots keeps the snapshots of alerts, outage detectors and record indexes (see
	// aggregate.Config.Snapshots). When nil, the service keeps them in natsstore's SNAPSHOTS
	// bucket through JS, opened by Run or on first use (outbound/snapshots), unless
	// Config.DisableSnapshots.
	Snapshots aggregate.SnapshotStore
	// Ingester stores connector reports: IngestService and ResendRecord write through it.
	Ingester *ingest.Ingester
	// Log receives the service's log; nil discards it.
	Log *slog.Logger
	// Clock is the service's time; nil is the system clock.
	Clock Clock
	// ReadModels is the process's read-model database, which ListAlerts and CountAlerts read
	// (the projections service keeps it current). Without it they answer FailedPrecondition.
	ReadModels *projections.DB
}

// Config configures the service. The zero value is valid: every zero field takes its default.
type Config struct {
	// Alert is the alert policy (grace period, regression window).
	Alert alert.Config
	// Outage is the outage-detection policy (threshold, window).
	Outage outage.Config
	// Classifier classifies failures; when nil, the rules file at RulesFile, else the built-in
	// rules.
	Classifier *classify.Classifier
	// RulesFile is a classification rules file (see connector/classify).
	RulesFile string
	// Workers is how many messages each bus handler processes at once; default 32.
	Workers int
	// AlertCache is how many alerts (and record indexes) stay in memory; default 50 000.
	AlertCache int
	// DetectorCache is how many connections' outage detectors stay in memory; default 2 000.
	DetectorCache int
	// DisableSnapshots turns snapshots off: an aggregate that is not cached is folded from all
	// its events. By default an aggregate that leaves the cache is saved as a snapshot, and
	// loaded from it and the events after it the next time (see Deps.Snapshots).
	DisableSnapshots bool
	// Timer configures the timers stream the grace timers live on (default TIMERS).
	Timer timer.Config
	// WatchHeartbeat is how long a WatchAlerts stream stays quiet before it sends a heartbeat;
	// default 15 s.
	WatchHeartbeat time.Duration
}

// Defaults.
const (
	DefaultWorkers       = 32
	DefaultAlertCache    = 50_000
	DefaultDetectorCache = 2_000
)

func (c *Config) setDefaults() {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.AlertCache == 0 {
		c.AlertCache = DefaultAlertCache
	}
	if c.DetectorCache == 0 {
		c.DetectorCache = DefaultDetectorCache
	}
	if c.WatchHeartbeat == 0 {
		c.WatchHeartbeat = grpcapi.DefaultHeartbeat
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	c.setDefaults()
	errs := []error{c.Alert.Validate(), c.Outage.Validate(), c.Timer.Validate()}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("alerts: workers %d is negative", c.Workers))
	}
	if c.AlertCache < 0 || c.DetectorCache < 0 {
		errs = append(errs, fmt.Errorf("alerts: cache sizes %d and %d must not be negative", c.AlertCache, c.DetectorCache))
	}
	if c.WatchHeartbeat < 0 {
		errs = append(errs, fmt.Errorf("alerts: WatchHeartbeat %s is negative", c.WatchHeartbeat))
	}
	return errors.Join(errs...)
}

// Service is the alerts service.
type Service struct {
	app       *app.Application
	timers    *grace.Timers
	snaps     *natsstore.Snapshots // nil unless the service opens the bucket itself
	in        *ingest.Ingester
	workers   int
	heartbeat time.Duration
	log       *slog.Logger

	stopping chan struct{} // closed once Run's context ends: WatchAlerts streams end
	stopOnce sync.Once
}

// New builds the service; it does no I/O (the timers stream and the SNAPSHOTS bucket are set up
// on first use, or by Run).
func New(deps Deps, cfg Config) (*Service, error) {
	var errs []error
	if deps.Store == nil {
		errs = append(errs, errors.New("alerts: Deps.Store is required"))
	}
	if deps.JS == nil {
		errs = append(errs, errors.New("alerts: Deps.JS is required"))
	}
	if deps.Ingester == nil {
		errs = append(errs, errors.New("alerts: Deps.Ingester is required"))
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
	log := deps.Log.With(slog.String("service", "alerts"))

	classifier := cfg.Classifier
	if classifier == nil && cfg.RulesFile != "" {
		c, err := classify.Load(cfg.RulesFile)
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		classifier = c
	}
	if classifier == nil {
		classifier = classify.Default()
	}

	alertFactory, err := alert.NewFactory(cfg.Alert)
	if err != nil {
		return nil, err
	}
	detectorFactory, err := outage.NewFactory(cfg.Outage)
	if err != nil {
		return nil, err
	}
	snaps, own := deps.Snapshots, (*natsstore.Snapshots)(nil)
	switch {
	case cfg.DisableSnapshots:
		snaps = nil
	case snaps == nil:
		if own, err = natsstore.NewSnapshots(deps.JS, 1); err != nil {
			return nil, err
		}
		snaps = own
	}
	alerts, err := aggregate.NewRepository(deps.Store, alertFactory, aggregate.Config{CacheSize: cfg.AlertCache, Snapshots: snaps})
	if err != nil {
		return nil, err
	}
	detectors, err := aggregate.NewRepository(deps.Store, detectorFactory, aggregate.Config{CacheSize: cfg.DetectorCache, Snapshots: snaps})
	if err != nil {
		return nil, err
	}
	indexes, err := aggregate.NewRepository(deps.Store, index.New, aggregate.Config{CacheSize: cfg.AlertCache, Snapshots: snaps})
	if err != nil {
		return nil, err
	}
	timers, err := grace.New(deps.JS, cfg.Timer, log.With(slog.String("component", "grace_timers")))
	if err != nil {
		return nil, err
	}
	appDeps := app.Deps{
		Alerts: alerts, Detectors: detectors, Indexes: indexes, Classifier: classifier,
		Timers: timers, Reports: deps.Ingester, Clock: deps.Clock, Log: log, Events: deps.Store,
	}
	if deps.ReadModels != nil {
		appDeps.ReadModel = alertsrm.NewReader(deps.ReadModels)
	}
	a, err := app.New(appDeps)
	if err != nil {
		return nil, err
	}
	return &Service{
		app: a, timers: timers, snaps: own, in: deps.Ingester, workers: cfg.Workers, heartbeat: cfg.WatchHeartbeat, log: log,
		stopping: make(chan struct{}),
	}, nil
}

// Handlers returns the bus handlers to register on the process's bus: alerts-records,
// alerts-outage and alerts-retry (see package consumers).
func (s *Service) Handlers() []bus.Handler { return consumers.Handlers(s.app, s.workers) }

// Register adds AlertService and IngestService to srv and marks them serving. It registers the
// domain's wrong-state errors and app.ErrNoReadModels with errmap.Default as FailedPrecondition
// (a server with its own Mapper registers them itself).
func (s *Service) Register(srv *server.Server) {
	registerErrors.Do(func() { errmap.RegisterPrecondition(domain.ErrWrongState, app.ErrNoReadModels) })
	alertsv1.RegisterAlertServiceServer(srv.GRPC(), grpcapi.NewAlerts(s.app, grpcapi.WatchConfig{Heartbeat: s.heartbeat, Stopping: s.stopping}))
	ingestv1.RegisterIngestServiceServer(srv.GRPC(), grpcapi.NewIngest(s.in))
	srv.SetServing(alertsv1.AlertService_ServiceDesc.ServiceName)
	srv.SetServing(ingestv1.IngestService_ServiceDesc.ServiceName)
}

var registerErrors sync.Once

// Run opens the SNAPSHOTS bucket (when the service keeps its snapshots itself; it runs without
// them, with a warning, while the bucket cannot be opened), then runs the grace timers until ctx
// ends, and returns nil once the firings in progress are handled. When ctx ends, the
// WatchAlerts streams end too (UNAVAILABLE), so that the gRPC server's graceful stop is not held
// up by them.
func (s *Service) Run(ctx context.Context) error {
	context.AfterFunc(ctx, func() { s.stopOnce.Do(func() { close(s.stopping) }) })
	if s.snaps != nil {
		if err := s.snaps.Ensure(ctx); err != nil && ctx.Err() == nil {
			// Snapshots only make loads cheaper: run without them until the bucket opens.
			s.log.Warn("snapshots unavailable", slog.Any("error", err))
		}
	}
	if err := s.timers.Run(ctx, consumers.Grace(s.app)); err != nil {
		return fmt.Errorf("alerts: grace timers: %w", err)
	}
	return nil
}

// EventTypes lists every event type the service reads or writes.
func EventTypes() []proto.Message {
	types := append(alert.EventTypes(), outage.EventTypes()...)
	types = append(types, index.EventTypes()...)
	return append(types,
		&connectorv1.RecordFailed{}, &connectorv1.RecordSucceeded{}, &connectorv1.RecordUpdated{},
		&connectorv1.SyncCycleStarted{}, &retryv1.RetryExhausted{})
}

// Registry returns a registry of every event type the service reads or writes.
func Registry() *events.Registry { return events.NewRegistry(EventTypes()...) }
