package projections_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/alerts"
	"github.com/reboundhq/rebound/projections/projectiontest"
)

// versioned is the alerts projection with extra migrations.
type versioned struct {
	alerts.Projection
	extra []projections.Migration
}

func (v versioned) Migrations() []projections.Migration {
	return append(v.Projection.Migrations(), v.extra...)
}

func TestMigrate_appliesVersionsOnceAndRefusesNewerSchemas(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		ctx := context.Background()
		store := newStore(t, synthEvents(300, 51, true))
		db := d.Open(t)
		projectiontest.Project(t, db, store, alerts.New())
		before := projectiontest.Dump(t, db, "alerts")

		// Version 2 adds a column and asks for a rebuild: Run rebuilds in the background.
		v2 := versioned{extra: []projections.Migration{{
			Version: 2, Name: "note column", Rebuild: true,
			Statements: func(s projections.Schema) []string {
				return []string{
					`ALTER TABLE ` + s.Table("alerts") + ` ADD COLUMN note TEXT NOT NULL DEFAULT ''`,
					`CREATE INDEX ` + s.Index("alerts_note") + ` ON ` + s.Table("alerts") + ` (note)`,
				}
			},
		}}}
		for range 2 { // the second start finds nothing to do
			rn := start(t, d.Open(t), store, projections.Config{}, v2)
			waitFor(t, func() bool {
				sts, err := rn.Status(ctx)
				return err == nil && !sts[0].RebuildPending && sts[0].Generation >= 1
			})
			rn.stop(t)
		}
		var versions []string
		rows, err := db.Query(ctx, `SELECT projection, version, name FROM projection_migrations ORDER BY projection, version`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var p, n string
			var v int
			if err := rows.Scan(&p, &v, &n); err != nil {
				t.Fatal(err)
			}
			versions = append(versions, p+":"+n)
		}
		rows.Close()
		if got := strings.Join(versions, ","); got != "_runtime:projection state,alerts:alerts and alert_counts,alerts:note column" {
			t.Errorf("migrations recorded: %s", got)
		}
		after := projectiontest.Dump(t, db, "alerts")
		if len(after) != len(before) || !strings.Contains(after[0], "note=") {
			t.Errorf("after the rebuild: %d rows (before %d), first %s", len(after), len(before), after[0])
		}
		sts, _ := projectionsStatus(t, db, store, v2)
		if sts.Generation != 1 {
			t.Errorf("generation %d after one rebuild", sts.Generation)
		}

		// A binary that only knows version 1 refuses the database.
		r, err := projections.NewRunner(d.Open(t), store, projections.Config{}, alerts.New())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Migrate(ctx); !errors.Is(err, projections.ErrSchemaTooNew) {
			t.Errorf("Migrate with an older binary: %v", err)
		}
	})
}

func projectionsStatus(t testing.TB, db *projections.DB, store events.Store, p projections.Projection) (projections.Status, error) {
	r, err := projections.NewRunner(db, store, projections.Config{}, p)
	if err != nil {
		t.Fatal(err)
	}
	sts, err := r.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sts[0], nil
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for range 6000 {
		if cond() {
			return
		}
		<-tick.C
	}
	t.Fatal("condition not met within 30s")
}

// blockingStore blocks LastPosition until released, holding a rebuild after it took its lease.
type blockingStore struct {
	events.Store
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingStore) LastPosition(ctx context.Context) (uint64, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.Store.LastPosition(ctx)
}

func TestRebuild_refusesAConcurrentRebuild(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		store := newStore(t, synthEvents(200, 52, true))
		ctx := context.Background()
		a, err := projections.NewRunner(d.Open(t), store, projections.Config{}, alerts.New())
		if err != nil {
			t.Fatal(err)
		}
		// Another process's rebuild holds the lease while it waits on its store.
		bs := &blockingStore{Store: store, entered: make(chan struct{}), release: make(chan struct{})}
		other, err := projections.NewRunner(d.Open(t), bs, projections.Config{}, alerts.New())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- other.Rebuild(ctx, alerts.Name, nil) }()
		<-bs.entered
		if err := a.Rebuild(ctx, alerts.Name, nil); !errors.Is(err, projections.ErrRebuildRunning) {
			t.Errorf("a second rebuild: %v, want ErrRebuildRunning", err)
		}
		close(bs.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := a.Rebuild(ctx, alerts.Name, nil); err != nil {
			t.Fatalf("rebuild after the other one finished: %v", err)
		}
		if err := a.Rebuild(ctx, "nope", nil); !errors.Is(err, projections.ErrUnknownProjection) {
			t.Errorf("rebuild of an unknown projection: %v", err)
		}
		st, _ := projectionsStatus(t, d.Open(t), store, alerts.New())
		if st.Generation != 2 {
			t.Errorf("generation %d after two rebuilds", st.Generation)
		}
	})
}
