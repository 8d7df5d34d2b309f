package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/alerts"
	"github.com/reboundhq/rebound/projections/connhealth"
	"github.com/reboundhq/rebound/projections/orders"
	"github.com/reboundhq/rebound/projections/retryqueue"
	"github.com/reboundhq/rebound/rpc/server"
)

// readModels opens the process's projections database once: SQLite in the data dir, or
// PostgreSQL at REBOUND_POSTGRES_URL. The services' list APIs read it; the projections service
// keeps it current.
func (s *stack) readModels(ctx context.Context) (*projections.DB, error) {
	if s.db != nil {
		return s.db, nil
	}
	db, err := projections.Open(ctx, projections.Storage{DataDir: s.cfg.dataDir, PostgresURL: s.cfg.postgresURL})
	if err != nil {
		if s.cfg.postgresURL != "" {
			return nil, fmt.Errorf("REBOUND_POSTGRES_URL: %w", err)
		}
		return nil, fmt.Errorf("REBOUND_DATA_DIR: %w", err)
	}
	// The tables exist before any list call, also in a process that hosts no projections
	// service (it reads what another process keeps current).
	runner, err := projections.NewRunner(db, s.store, projections.Config{Logger: s.log}, allProjections()...)
	if err == nil {
		err = runner.Migrate(ctx)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migrating the read models: %w", err)
	}
	s.db = db
	s.closers = append(s.closers, db.Close)
	return db, nil
}

// allProjections are the read models a process keeps current.
func allProjections() []projections.Projection {
	return []projections.Projection{alerts.New(), retryqueue.New(), orders.New(), connhealth.New()}
}

// projectionService runs the projections as a service of the process: no bus handlers (a
// projection reads EVENTS from its own checkpoint), no gRPC of its own (the owning services'
// list APIs read the tables), metrics on the process's registry.
type projectionService struct {
	runner *projections.Runner
}

func (s *stack) newProjectionService(ctx context.Context, srv *server.Server, log *slog.Logger) (*projectionService, error) {
	db, err := s.readModels(ctx)
	if err != nil {
		return nil, err
	}
	runner, err := projections.NewRunner(db, s.store, projections.Config{Logger: log, Registerer: srv.Registry()}, allProjections()...)
	if err != nil {
		return nil, err
	}
	return &projectionService{runner: runner}, nil
}

func (p *projectionService) Handlers() []bus.Handler       { return nil }
func (p *projectionService) Register(*server.Server)       {}
func (p *projectionService) Run(ctx context.Context) error { return p.runner.Run(ctx) }
