package bench_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/bench"
	"github.com/reboundhq/rebound/projections/projectiontest"
)

// size returns REBOUND_BENCH_EVENTS, or def: the tests run the benchmarks small; set it to
// measure (e.g. 1000000).
func size(def int) int {
	if n, err := strconv.Atoi(os.Getenv("REBOUND_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return def
}

// TestRebuild_figures runs the rebuild benchmark end to end over an embedded NATS server: the raw
// rates, then the rebuild into each engine, and reports the ratio DESIGN.md §4 sets a target for.
func TestRebuild_figures(t *testing.T) {
	t.Parallel()
	n := size(5000)
	ctx := context.Background()
	srv := natstest.Start(t, "")
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	store, err := natsstore.New(ctx, js, projectiontest.Registry(), natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bench.FillStore(ctx, store, bench.History{Events: n, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	consumer, err := bench.RawOrderedConsumer(ctx, js, store.StreamName(), "evt.alert.>", n)
	if err != nil {
		t.Fatal(err)
	}
	upsert, err := bench.RawSQLiteUpsert(ctx, t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	baseline := min(consumer.PerSecond(), upsert.PerSecond())
	t.Logf("raw ordered consumer: %s; raw batched SQLite upsert: %s", consumer, upsert)
	// One engine after the other: the machine's cores are shared with the embedded server.
	for _, e := range []projections.Engine{projections.SQLite, projections.Postgres} {
		d := projectiontest.NewDatabase(t, e)
		var progress bytes.Buffer
		r, err := bench.Rebuild(ctx, d.Open(t), store, &progress)
		if err != nil {
			t.Fatal(err)
		}
		if r.N != n {
			t.Errorf("rebuilt %d events, want %d", r.N, n)
		}
		t.Logf("rebuild into %s: %s, %.2f of the baseline", d.Engine, r, r.PerSecond()/baseline)
		if !strings.Contains(progress.String(), "done:") {
			t.Errorf("no final progress line:\n%s", progress.String())
		}
	}
}

// TestRebuild_generatedHistory rebuilds from a history generated on the fly (no server).
func TestRebuild_generatedHistory(t *testing.T) {
	t.Parallel()
	n := size(5000)
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		r, err := bench.Rebuild(context.Background(), d.Open(t), bench.GeneratedStore{History: bench.History{Events: n, Seed: 2}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.N != n {
			t.Errorf("rebuilt %d events, want %d", r.N, n)
		}
		t.Logf("rebuild of a generated history into %s: %s", d.Engine, r)
	})
}

// TestListAlerts_latency fills the alerts read model and measures ListAlerts.
func TestListAlerts_latency(t *testing.T) {
	t.Parallel()
	n := size(10000)
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		ctx := context.Background()
		db := d.Open(t)
		fill, err := bench.FillAlerts(ctx, db, n, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := (alertsReader{db}).count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c != int64(n) {
			t.Fatalf("%d alerts in the read model, want %d", c, n)
		}
		lat, err := bench.ListAlerts(ctx, db, 1200)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: filled %d alerts (%s); ListAlerts %s", d.Engine, n, fill, lat)
	})
}

type alertsReader struct{ db *projections.DB }

func (a alertsReader) count(ctx context.Context) (int64, error) {
	var n int64
	err := a.db.QueryRow(ctx, `SELECT COUNT(*) FROM alerts`).Scan(&n)
	return n, err
}
