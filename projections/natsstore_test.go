package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/projectiontest"
)

// TestRunner_overJetStream runs the read models over the real event store (an embedded NATS
// server): they equal the read models built from the in-memory store from the same history, and
// a rebuild over JetStream (ordered consumers from the first event) gives them again.
func TestRunner_overJetStream(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
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
		evs := synthEvents(2000, 61, false)
		projectiontest.AppendBatched(t, store, evs[:1500], 100)
		db := d.Open(t)
		rn := start(t, db, store, projections.Config{BatchSize: 100}, readModels()...)
		projectiontest.AppendBatched(t, store, evs[1500:], 50) // while it follows
		projectiontest.WaitFor(t, rn.Runner, store, filtersOf(readModels()), time.Minute)
		rn.stop(t)
		live := dumpAll(t, db)

		mem := newStore(t, evs)
		ref := projectiontest.NewSQLite(t).Open(t)
		projectiontest.Project(t, ref, mem, readModels()...)
		equalDumps(t, live, dumpAll(t, ref), "over JetStream vs in memory")

		rebuildAll(t, db, store)
		equalDumps(t, dumpAll(t, db), live, "rebuilt over JetStream vs live")
	})
}
