// Package scheduler runs the sync cycles of the cart connections on their sync intervals. Every
// tick it claims the cycles that are due (a compare-and-set in the sync state, so one process runs
// each cycle however many run the service, and a restart keeps the cadence) and runs each in the
// background, one at a time per connection.
package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
)

// Connections lists the configured connections (outbound/connections.Directory).
type Connections interface {
	List(ctx context.Context) ([]*connectionsv1.Connection, error)
}

// Claims claims due cycles (outbound/syncstate.Store).
type Claims interface {
	Claim(ctx context.Context, account, connectionID string, now time.Time, interval time.Duration) (time.Time, bool, error)
}

// Cycle runs one sync cycle of a cart connection due at dueAt.
type Cycle func(ctx context.Context, account, connectionID string, dueAt time.Time) error

// NextSync records when a connection's next cycle is due (outbound/health.Board).
type NextSync func(account, connectionID string, at time.Time)

// Scheduler runs sync cycles.
type Scheduler struct {
	conns  Connections
	claims Claims
	cycle  Cycle
	next   NextSync
	now    func() time.Time
	tick   time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	running map[[2]string]bool
}

// New returns a scheduler that looks for due cycles every tick (default 1 s).
func New(conns Connections, claims Claims, cycle Cycle, next NextSync, now func() time.Time, tick time.Duration, log *slog.Logger) (*Scheduler, error) {
	if conns == nil || claims == nil || cycle == nil || now == nil {
		return nil, errors.New("scheduler: New needs the connections, the claims, a cycle and a clock")
	}
	if tick <= 0 {
		tick = time.Second
	}
	if next == nil {
		next = func(string, string, time.Time) {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{conns: conns, claims: claims, cycle: cycle, next: next, now: now, tick: tick, log: log, running: make(map[[2]string]bool)}, nil
}

// Run runs due cycles until ctx ends, then waits for the cycles in progress (which end with ctx)
// and returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		s.round(ctx, &wg)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// round claims and starts every due cycle.
func (s *Scheduler) round(ctx context.Context, wg *sync.WaitGroup) {
	conns, err := s.conns.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("sync scheduler cannot list connections", slog.Any("error", err))
		}
		return
	}
	for _, c := range conns {
		st := c.GetSettings()
		if st.GetSystemKind() != connectorv1.SystemKind_SYSTEM_KIND_CART || st.GetSyncInterval() == nil {
			continue
		}
		k := [2]string{st.GetAccountId(), st.GetConnectionId()}
		s.mu.Lock()
		busy := s.running[k]
		s.mu.Unlock()
		if busy {
			continue
		}
		at, ok, err := s.claims.Claim(ctx, k[0], k[1], s.now(), st.GetSyncInterval().AsDuration())
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("sync scheduler cannot claim a cycle", slog.String("account", k[0]), slog.String("connection_id", k[1]), slog.Any("error", err))
			}
			continue
		}
		if !ok {
			s.next(k[0], k[1], at)
			continue
		}
		s.next(k[0], k[1], at.Add(st.GetSyncInterval().AsDuration()))
		s.mu.Lock()
		s.running[k] = true
		s.mu.Unlock()
		wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.running, k)
				s.mu.Unlock()
			}()
			if err := s.cycle(ctx, k[0], k[1], at); err != nil && ctx.Err() == nil {
				s.log.Warn("sync cycle failed", slog.String("account", k[0]), slog.String("connection_id", k[1]), slog.Any("error", err))
			}
		})
	}
}
