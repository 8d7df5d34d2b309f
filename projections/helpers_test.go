package projections_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/alerts"
	"github.com/reboundhq/rebound/projections/connhealth"
	"github.com/reboundhq/rebound/projections/internal/synth"
	"github.com/reboundhq/rebound/projections/orders"
	"github.com/reboundhq/rebound/projections/projectiontest"
	"github.com/reboundhq/rebound/projections/retryqueue"
)

func readModels() []projections.Projection {
	return []projections.Projection{alerts.New(), retryqueue.New(), connhealth.New(), orders.New()}
}

func filtersOf(ps []projections.Projection) map[string][]string {
	m := make(map[string][]string)
	for _, p := range ps {
		m[p.Name()] = p.Filters()
	}
	return m
}

// tables lists every read-model table, for whole-database comparisons.
var tables = []string{"alerts", "alert_counts", "retry_queue", "connection_health", "connection_health_records", "orders"}

func dumpAll(t testing.TB, db *projections.DB) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	for _, tb := range tables {
		out[tb] = projectiontest.Dump(t, db, tb)
	}
	return out
}

func equalDumps(t testing.TB, got, want map[string][]string, what string) {
	t.Helper()
	for _, tb := range tables {
		g, w := got[tb], want[tb]
		if len(g) != len(w) {
			t.Errorf("%s: table %s has %d rows, want %d", what, tb, len(g), len(w))
			continue
		}
		for i := range g {
			if g[i] != w[i] {
				t.Errorf("%s: table %s differs at row %d:\n got %s\nwant %s", what, tb, i, g[i], w[i])
				break
			}
		}
	}
}

func synthEvents(n int, seed uint64, alertsOnly bool) []projectiontest.StreamEvent {
	gen := synth.Generate(synth.Config{Events: n, Seed: seed, AlertsOnly: alertsOnly})
	evs := synth.ToEvents(gen, seed)
	out := make([]projectiontest.StreamEvent, len(gen))
	for i := range gen {
		out[i] = projectiontest.StreamEvent{Stream: gen[i].Stream, Event: evs[i]}
	}
	return out
}

func newStore(t testing.TB, evs []projectiontest.StreamEvent) *memstore.Store {
	t.Helper()
	s := memstore.New(projectiontest.Registry())
	if len(evs) > 0 {
		projectiontest.Append(t, s, evs)
	}
	return s
}

// running is a Runner running in the background.
type running struct {
	*projections.Runner
	cancel context.CancelFunc
	once   sync.Once
	err    error
	done   chan error
}

// stop ends Run and waits for it to return.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(30 * time.Second):
			r.err = errors.New("Run did not return within 30s of its context ending")
		}
	})
	if r.err != nil {
		t.Errorf("Run: %v", r.err)
	}
}

func start(t testing.TB, db *projections.DB, store events.Store, cfg projections.Config, ps ...projections.Projection) *running {
	t.Helper()
	r, err := projections.NewRunner(db, store, cfg, ps...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &running{Runner: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rn.done <- r.Run(ctx) }()
	t.Cleanup(func() { rn.stop(t) })
	return rn
}

// rebuildAll rebuilds every projection on a fresh handle of the database.
func rebuildAll(t testing.TB, db *projections.DB, store events.Store) {
	t.Helper()
	r, err := projections.NewRunner(db, store, projections.Config{RebuildBatchSize: 300}, readModels()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range readModels() {
		if err := r.Rebuild(context.Background(), p.Name(), nil); err != nil {
			t.Fatalf("rebuilding %s: %v", p.Name(), err)
		}
	}
}

// crashing wraps a projection and ends the run's context in the middle of a batch, after the
// projection wrote its rows but before the batch commits, on the nth batch.
type crashing struct {
	projections.Projection
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
}

var errCrash = errors.New("crashed")

func (c *crashing) Apply(ctx context.Context, tx *projections.Tx, recs []events.Record) error {
	if err := c.Projection.Apply(ctx, tx, recs); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if tx.Rebuilding() {
		return nil
	}
	c.n--
	if c.n == 0 {
		c.cancel()
		return nil // the commit that follows fails: the context is over
	}
	return nil
}
