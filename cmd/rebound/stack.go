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
	if err := b.Handle(ingest.Handler(in, 4)); err != nil {
		return nil, err
	}
	return &stack{store: store, ingester: in, bus: b, services: map[string]service{}, log: log}, nil
}

// add hosts a service: its handlers go on the bus and its gRPC services on srv.
func (s *stack) add(name string, svc service, srv *server.Server) error {
	for _, h := range svc.Handlers() {
		if err := s.bus.Handle(h); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	svc.Register(srv)
	s.services[name] = svc
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
