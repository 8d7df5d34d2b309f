package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/rpc/server"
	alertsservice "github.com/reboundhq/rebound/services/alerts/service"
	"github.com/reboundhq/rebound/services/notification/outbound/fixer"
	notificationservice "github.com/reboundhq/rebound/services/notification/service"
	ordersservice "github.com/reboundhq/rebound/services/orders/service"
	retrydomain "github.com/reboundhq/rebound/services/retry/domain"
	retryservice "github.com/reboundhq/rebound/services/retry/service"
)

// service is what every Rebound service hands the process that runs it.
type service interface {
	// Handlers are its bus handlers; the process runs them on its one bus.
	Handlers() []bus.Handler
	// Register adds its gRPC services (and pages) to the process's server.
	Register(*server.Server)
	// Run runs what else it needs (timers, publishers) until ctx ends.
	Run(ctx context.Context) error
}

// hostConfig is what the services of a process need besides NATS.
type hostConfig struct {
	dataDir           string
	postgresURL       string
	rulesFile         string
	retryPoliciesFile string
	// retryPolicies, when set, replaces the file (the demo's short retries).
	retryPolicies   *retrydomain.Config
	connectionsFile string
	smtpURL         string
	linkSecret      []byte
	baseURL         string
	// servicesAddr is the gRPC address of the alerts and orders services, which the
	// notification pages act through; internalKey the admin key they use.
	servicesAddr string
	internalKey  string
}

// stack is what one rebound process runs: the event store, one bus with the handlers of every
// service it hosts, and those services.
type stack struct {
	store    *natsstore.Store
	ingester *ingest.Ingester
	js       jetstream.JetStream
	bus      *bus.Bus
	services map[string]service
	order    []string
	cfg      hostConfig
	db       *projections.DB
	closers  []func() error
	log      *slog.Logger
}

// serviceNames are the services a process can host, in the order `rebound dev` starts them.
var serviceNames = []string{"alerts", "retry", "orders", "notification", "projections"}

// newStack opens the event store and the bus. Services are added with addNamed.
func newStack(ctx context.Context, js jetstream.JetStream, cfg hostConfig, log *slog.Logger) (*stack, error) {
	store, err := natsstore.New(ctx, js, allTypes(), natsstore.Config{})
	if err != nil {
		return nil, err
	}
	in, err := ingest.New(store)
	if err != nil {
		return nil, err
	}
	b, err := bus.New(js, allTypes(), log.With(slog.String("component", "bus")), bus.Config{})
	if err != nil {
		return nil, err
	}
	return &stack{store: store, ingester: in, js: js, bus: b, services: map[string]service{}, cfg: cfg, log: log}, nil
}

// addNamed builds the named service and hosts it.
func (s *stack) addNamed(ctx context.Context, name string, srv *server.Server) error {
	log := s.log.With(slog.String("service", name))
	var svc service
	var err error
	if name == "projections" {
		svc, err = s.newProjectionService(ctx, srv, log)
	} else {
		svc, err = s.build(ctx, name, log)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return s.add(name, svc, srv)
}

// build builds the named service. The alerts, retry and orders services get the process's read
// models for their list APIs (readModels).
func (s *stack) build(ctx context.Context, name string, log *slog.Logger) (service, error) {
	var db *projections.DB
	switch name {
	case "alerts", "retry", "orders":
		var err error
		if db, err = s.readModels(ctx); err != nil {
			return nil, err
		}
	}
	switch name {
	case "alerts":
		// The alerts service also stores what connectors publish on the ingest subjects.
		if err := s.bus.Handle(ingest.Handler(s.ingester, 32)); err != nil {
			return nil, err
		}
		return alertsservice.New(alertsservice.Deps{Store: s.store, JS: s.js, Ingester: s.ingester, Log: log, ReadModels: db},
			alertsservice.Config{RulesFile: s.cfg.rulesFile})
	case "retry":
		return retryservice.New(retryservice.Deps{Store: s.store, JS: s.js, Log: log, ReadModels: db},
			retryservice.Config{Policies: s.cfg.retryPolicies, PoliciesFile: s.cfg.retryPoliciesFile})
	case "orders":
		return ordersservice.New(ordersservice.Deps{Store: s.store, JS: s.js, Ingester: s.ingester, Log: log, ReadModels: db},
			ordersservice.Config{RulesFile: s.cfg.rulesFile, ConnectionsFile: s.cfg.connectionsFile})
	case "notification":
		deps := notificationservice.Deps{Store: s.store, JS: s.js, Log: log}
		fx, err := s.fixer()
		if err != nil {
			return nil, err
		}
		if fx != nil {
			deps.Fixer = fx
		}
		return notificationservice.New(deps, notificationservice.Config{SMTPURL: s.cfg.smtpURL, LinkSecret: s.cfg.linkSecret, BaseURL: s.cfg.baseURL})
	}
	return nil, fmt.Errorf("%w: unknown service %q (want one of %v)", errUsage, name, serviceNames)
}

// fixer connects the notification pages to the alerts and orders services' gRPC APIs.
func (s *stack) fixer() (*fixer.Fixer, error) {
	if s.cfg.servicesAddr == "" || s.cfg.internalKey == "" {
		s.log.Warn("the notification pages cannot act: no gRPC address or key for the alerts and orders services (REBOUND_SERVICES_ADDR, REBOUND_ADMIN_KEY)")
		return nil, nil
	}
	conn, err := grpc.NewClient(s.cfg.servicesAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, conn.Close)
	return fixer.New(conn, fixer.NewOrders(conn, s.cfg.internalKey), s.cfg.internalKey)
}

// add hosts a service: its handlers go on the bus and its gRPC services on srv.
func (s *stack) add(name string, svc service, srv *server.Server) error {
	var handlers []string
	for _, h := range svc.Handlers() {
		if err := s.bus.Handle(h); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		handlers = append(handlers, h.Name)
	}
	svc.Register(srv)
	s.services[name] = svc
	s.order = append(s.order, name)
	s.log.Info("service ready", slog.String("service", name), slog.Any("bus_handlers", handlers))
	return nil
}

// components lists what the stack runs: the bus and every service's own loop.
func (s *stack) components() []component {
	comps := []component{{name: "bus", run: s.bus.Run}}
	for _, name := range s.order {
		comps = append(comps, component{name: name, run: s.services[name].Run})
	}
	return comps
}

// close releases what the services opened.
func (s *stack) close() {
	for _, c := range s.closers {
		_ = c()
	}
}
