package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/projections"
	projbench "github.com/reboundhq/rebound/projections/bench"
)

// projectionFigures fills the store with n alert events and measures a rebuild of the read
// models into SQLite (and PostgreSQL when postgresURL reaches a server) against
// min(raw ordered consumer, raw batched SQLite upsert), then ListAlerts over n alerts.
func projectionFigures(ctx context.Context, js jetstream.JetStream, store *natsstore.Store, n int, postgresURL string, progress io.Writer) ([]Result, error) {
	if err := projbench.FillStore(ctx, store, projbench.History{Events: n, Seed: 1}); err != nil {
		return nil, err
	}
	consumer, err := projbench.RawOrderedConsumer(ctx, js, store.StreamName(), "evt.alert.>", n)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rebound-bench-sqlite-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	upsert, err := projbench.RawSQLiteUpsert(ctx, dir, n)
	if err != nil {
		return nil, err
	}
	rawConsumer := Result{Name: "raw JetStream ordered consumer over the alert events", Value: consumer.PerSecond(), Unit: "events/s"}
	rawUpsert := Result{Name: "raw batched SQLite upsert (256 rows per statement)", Value: upsert.PerSecond(), Unit: "rows/s"}
	baseline := rawConsumer
	if rawUpsert.Value < baseline.Value {
		baseline = rawUpsert
	}
	results := []Result{rawConsumer, rawUpsert}

	sqlite, err := projections.OpenSQLite(ctx, dir+"/projections.db")
	if err != nil {
		return nil, err
	}
	defer sqlite.Close()
	r, err := projbench.Rebuild(ctx, sqlite, store, progress)
	if err != nil {
		return nil, fmt.Errorf("rebuild into SQLite: %w", err)
	}
	results = append(results, Result{Name: fmt.Sprintf("projection rebuild of %d events into SQLite", r.N), Value: r.PerSecond(), Unit: "events/s"}.
		withBaseline(baseline, target(0.50)))

	if postgresURL != "" {
		pg, err := projections.OpenPostgres(ctx, postgresURL)
		if err != nil {
			fmt.Fprintf(progress, "PostgreSQL at %s is not reachable (%v): no PostgreSQL rebuild figure\n", redact(postgresURL), err)
		} else {
			defer pg.Close()
			r, err := projbench.Rebuild(ctx, pg, store, progress)
			if err != nil {
				return nil, fmt.Errorf("rebuild into PostgreSQL: %w", err)
			}
			results = append(results, Result{Name: fmt.Sprintf("projection rebuild of %d events into PostgreSQL", r.N), Value: r.PerSecond(), Unit: "events/s"}.
				withBaseline(baseline, nil))
		}
	}

	listDB, err := projections.OpenSQLite(ctx, dir+"/list.db")
	if err != nil {
		return nil, err
	}
	defer listDB.Close()
	if _, err := projbench.FillAlerts(ctx, listDB, n, progress); err != nil {
		return nil, err
	}
	lat, err := projbench.ListAlerts(ctx, listDB, 1200)
	if err != nil {
		return nil, err
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	name := fmt.Sprintf("ListAlerts over %d alerts (SQLite)", n)
	return append(results,
		Result{Name: name + ", p50", Value: ms(lat.P50), Unit: "ms"},
		Result{Name: name + ", p99", Value: ms(lat.P99), Unit: "ms"}.withCeiling(10),
	), nil
}

func redact(u string) string {
	for i := 0; i+3 < len(u); i++ {
		if u[i:i+3] == "://" {
			for j := i + 3; j < len(u); j++ {
				if u[j] == '@' {
					return u[:i+3] + "…" + u[j:]
				}
			}
		}
	}
	return u
}
