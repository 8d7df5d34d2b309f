package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/rpc/server"
	alertsservice "github.com/reboundhq/rebound/services/alerts/service"
)

// service is what every Rebound service hands the process that runs it.
type service interface {
	// Handlers are its bus handlers; the process runs them on its one bus.
	Handlers() []bus.Handler
	// Register adds its gRPC services to the process's server.
	Register(*server.Server)
	// Run runs what else it needs (timers, publishers) until ctx ends.
	Run(ctx context.Context) error
}

// stack is what one rebound process runs: the event store, one bus with the handlers of every
// service it hosts, and those services.
type stack struct {
	store    *natsstore.Store
	ingester *ingest.Ingester
	js       jetstream.JetStream
	bus      *bus.Bus
	services map[string]service
	log      *slog.Logger
}

// newStack opens the event store and the bus. Services are added with add.
func newStack(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*stack, error) {
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
	return &stack{store: store, ingester: in, js: js, bus: b, services: map[string]service{}, log: log}, nil
}

// serviceNames are the services a process can host, in the order `rebound dev` starts them.
var serviceNames = []string{"alerts", "retry"}

// addNamed builds the named service and hosts it.
func (s *stack) addNamed(name string, srv *server.Server) error {
	log := s.log.With(slog.String("service", name))
	switch name {
	case "alerts":
		svc, err := alertsservice.New(alertsservice.Deps{Store: s.store, JS: s.js, Ingester: s.ingester, Log: log}, alertsservice.Config{})
		if err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
		// The alerts service also stores what connectors publish on the ingest subjects.
		if err := s.bus.Handle(ingest.Handler(s.ingester, 4)); err != nil {
			return err
		}
		return s.add(name, svc, srv)
	}
	return fmt.Errorf("%w: unknown service %q (want one of %v)", errUsage, name, serviceNames)
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
	s.log.Info("service ready", slog.String("service", name), slog.Any("bus_handlers", handlers))
	return nil
}

// components lists what the stack runs: the bus and every service's own loop.
func (s *stack) components() []component {
	comps := []component{{name: "bus", run: s.bus.Run}}
	for name, svc := range s.services {
		comps = append(comps, component{name: name, run: svc.Run})
	}
	return comps
}
