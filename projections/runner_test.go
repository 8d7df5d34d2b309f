package projections_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/alerts"
	"github.com/reboundhq/rebound/projections/projectiontest"
)

// TestRunner_crashMidBatchThenRestartEqualsRebuild stops the "process" (ends the run's context
// inside Apply, after the projection wrote but before the commit) again and again, restarting on
// a fresh database handle each time; the read models it ends with must equal a fresh rebuild,
// row for row.
func TestRunner_crashMidBatchThenRestartEqualsRebuild(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		evs := synthEvents(3000, 11, false)
		store := newStore(t, evs)
		crashes := 0
		for round := 0; ; round++ {
			if round > 200 {
				t.Fatal("the projections did not catch up in 200 restarts")
			}
			db := d.Open(t)
			ctx, cancel := context.WithCancel(context.Background())
			var ps []projections.Projection
			for i, p := range readModels() {
				ps = append(ps, &crashing{Projection: p, n: 2 + (round+i)%5, cancel: cancel})
			}
			r, err := projections.NewRunner(db, store, projections.Config{BatchSize: 37, NoBatchDelay: true}, ps...)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			caughtUp := waitCaughtUp(t, r, store, ctx)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			_ = db.Close()
			if caughtUp {
				break
			}
			crashes++
		}
		if crashes < 3 {
			t.Fatalf("only %d crashes happened; the test proves little", crashes)
		}
		db := d.Open(t)
		live := dumpAll(t, db)
		for _, tb := range tables {
			if len(live[tb]) == 0 {
				t.Fatalf("the history leaves table %s empty", tb)
			}
		}
		rebuildAll(t, db, store)
		equalDumps(t, dumpAll(t, db), live, "after crashes vs fresh rebuild")
	})
}

// waitCaughtUp waits until every projection reached its last event (true) or ctx ended (false).
func waitCaughtUp(t *testing.T, r *projections.Runner, store events.Store, ctx context.Context) bool {
	t.Helper()
	want := make(map[string]uint64)
	for name, fs := range filtersOf(readModels()) {
		_ = store.Read(context.Background(), events.ReadOptions{Filters: fs}, func(_ context.Context, rec events.Record) error {
			want[name] = rec.Position
			return nil
		})
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		sts, err := r.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		done := true
		for _, s := range sts {
			if s.Checkpoint < want[s.Name] {
				done = false
			}
		}
		if done {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(2 * time.Millisecond):
		}
	}
	t.Fatal("the projections did not catch up within 60s")
	return false
}

// TestRebuild_queriesNeverSeeAHalfBuiltTable rebuilds the alerts read model several times while
// readers count and list it without pause: every answer is the whole read model.
func TestRebuild_queriesNeverSeeAHalfBuiltTable(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		store := newStore(t, synthEvents(4000, 12, true))
		db := d.Open(t)
		rn := start(t, db, store, projections.Config{RebuildBatchSize: 250}, alerts.New())
		projectiontest.WaitFor(t, rn.Runner, store, filtersOf([]projections.Projection{alerts.New()}), time.Minute)
		before := projectiontest.Dump(t, db, "alerts")
		reader := alerts.NewReader(d.Open(t))
		ctx := context.Background()
		want, err := reader.Count(ctx, projections.AllAccounts(), alerts.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if want.Total != int64(len(before)) || want.Total < 500 {
			t.Fatalf("counted %d alerts, the table holds %d", want.Total, len(before))
		}
		stop := make(chan struct{})
		var reads atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 3 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					c, err := reader.Count(ctx, projections.AllAccounts(), alerts.Filter{})
					if err == nil && c.Total != want.Total {
						err = errors.New("a count saw " + itoa(c.Total) + " alerts, not " + itoa(want.Total))
					}
					if err == nil {
						var page []*alertsv1.Alert
						page, _, err = reader.List(ctx, projections.AllAccounts(), alerts.Filter{}, alerts.Order{}, projections.Page{Size: 100})
						if err == nil && len(page) != 100 {
							err = errors.New("a page had " + itoa(int64(len(page))) + " alerts, not 100")
						}
					}
					if err != nil {
						errs <- err
						return
					}
					reads.Add(1)
				}
			})
		}
		var progress bytes.Buffer
		for range 3 {
			if err := rn.Rebuild(ctx, alerts.Name, &progress); err != nil {
				t.Fatal(err)
			}
		}
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if reads.Load() < 10 {
			t.Errorf("only %d reads ran during the rebuilds", reads.Load())
		}
		if !strings.Contains(progress.String(), "done:") || !strings.Contains(progress.String(), "events/s") {
			t.Errorf("the progress output lacks the final line:\n%s", progress.String())
		}
		equalLines(t, projectiontest.Dump(t, db, "alerts"), before, "alerts after three rebuilds")
		sts, err := rn.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if sts[0].Generation != 3 {
			t.Errorf("generation %d after three rebuilds, want 3", sts[0].Generation)
		}
	})
}

// TestRebuild_catchesUpWithEventsArrivingMeanwhile appends events while a rebuild runs next to
// the live runner: nothing is lost or applied twice across the swap.
func TestRebuild_catchesUpWithEventsArrivingMeanwhile(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		evs := synthEvents(3000, 13, false)
		store := newStore(t, evs[:1000])
		db := d.Open(t)
		rn := start(t, db, store, projections.Config{BatchSize: 50, RebuildBatchSize: 100}, readModels()...)
		appended := make(chan struct{})
		go func() {
			defer close(appended)
			pace := time.NewTicker(time.Millisecond) // keep appending while the rebuilds run
			defer pace.Stop()
			for i := 1000; i < len(evs); i += 100 {
				projectiontest.Append(t, store, evs[i:i+100])
				<-pace.C
			}
		}()
		for _, p := range readModels() {
			if err := rn.Rebuild(context.Background(), p.Name(), nil); err != nil {
				t.Fatal(err)
			}
		}
		<-appended
		projectiontest.WaitFor(t, rn.Runner, store, filtersOf(readModels()), time.Minute)
		rn.stop(t)
		live := dumpAll(t, db)
		rebuildAll(t, db, store)
		equalDumps(t, dumpAll(t, db), live, "live after a rebuild under load vs fresh rebuild")
	})
}

// TestRunner_lagIsZeroOnceCaughtUp checks the lag metric's source: a projection whose filters
// skip the store's last events has still caught up.
func TestRunner_lagIsZeroOnceCaughtUp(t *testing.T) {
	t.Parallel()
	evs := synthEvents(600, 14, false)
	// The store ends with retry events the alerts projection does not read.
	var tail []projectiontest.StreamEvent
	for i, e := range evs {
		if e.Stream.AggregateType == "retry" && len(tail) < 5 {
			e.Event.EventID = events.DeterministicEventID("lag-tail", strconv.Itoa(i))
			tail = append(tail, e)
		}
	}
	store := newStore(t, append(evs, tail...))
	last, _ := store.LastPosition(context.Background())
	db := projectiontest.NewSQLite(t).Open(t)
	rn := start(t, db, store, projections.Config{LagInterval: 5 * time.Millisecond}, alerts.New())
	deadline := time.Now().Add(30 * time.Second)
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for {
		sts, err := rn.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if s := sts[0]; s.LastPosition == last && s.Lag == 0 {
			if s.Checkpoint == last {
				t.Fatalf("the last event (%d) should not be an alert event", last)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag did not reach 0: %+v (store at %d)", sts[0], last)
		}
		<-poll.C
	}
}

func equalLines(t testing.TB, got, want []string, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: row %d differs:\n got %s\nwant %s", what, i, got[i], want[i])
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
