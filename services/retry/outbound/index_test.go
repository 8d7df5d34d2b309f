package outbound_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/services/retry/app"
	"github.com/reboundhq/rebound/services/retry/outbound"
)

func TestMain(m *testing.M) { natstest.Main(m) }

func newIndex(t *testing.T) *outbound.Index {
	t.Helper()
	js, err := jetstream.New(natstest.Connect(t, natstest.SharedURL(t)))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := outbound.NewIndex(js, "RETRY_INDEX_"+t.Name(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestIndex_waitingAndPausedPerConnection(t *testing.T) {
	t.Parallel()
	ix := newIndex(t)
	ctx := t.Context()
	c1, c2 := app.Connection{Account: "acct", ID: "cart-1"}, app.Connection{Account: "acct", ID: "cart-2"}
	tracking, inventory := connectorv1.RecordKind_RECORD_KIND_TRACKING, connectorv1.RecordKind_RECORD_KIND_INVENTORY
	for _, w := range []struct {
		conn app.Connection
		kind connectorv1.RecordKind
		id   string
	}{{c1, tracking, "rec_a"}, {c1, inventory, "rec_b"}, {c1, tracking, "rec_c"}, {c2, tracking, "rec_d"}} {
		if err := ix.SetWaiting(ctx, w.conn, w.kind, w.id, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.SetWaiting(ctx, c1, tracking, "rec_c", false); err != nil {
		t.Fatal(err)
	}
	list := func(kinds ...connectorv1.RecordKind) []string {
		var ids []string
		if err := ix.Waiting(ctx, c1, kinds, func(id string) error { ids = append(ids, id); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	if got := list(); !slices.Equal(got, []string{"rec_a", "rec_b"}) {
		t.Fatalf("waiting on cart-1: %v", got)
	}
	if got := list(tracking); !slices.Equal(got, []string{"rec_a"}) {
		t.Fatalf("waiting tracking on cart-1: %v", got)
	}
	empty := app.Connection{Account: "acct", ID: "none"}
	if err := ix.Waiting(ctx, empty, nil, func(string) error { t.Fatal("listed a schedule of a connection without any"); return nil }); err != nil {
		t.Fatal(err)
	}

	since := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	if err := ix.SetPaused(ctx, c1, "rec_a", since); err != nil {
		t.Fatal(err)
	}
	if err := ix.SetPaused(ctx, c1, "rec_b", since); err != nil {
		t.Fatal(err)
	}
	if err := ix.SetPaused(ctx, c1, "rec_b", time.Time{}); err != nil {
		t.Fatal(err)
	}
	var paused []string
	if err := ix.Paused(ctx, c1, func(id string, at time.Time) error {
		if !at.Equal(since) {
			t.Errorf("%s paused since %s; want %s", id, at, since)
		}
		paused = append(paused, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(paused, []string{"rec_a"}) {
		t.Fatalf("paused on cart-1: %v", paused)
	}
}

func TestIndex_intervalsOutagesAndDrains(t *testing.T) {
	t.Parallel()
	ix := newIndex(t)
	ctx := t.Context()
	conn := app.Connection{Account: "acct", ID: "wms-1"}
	if d, err := ix.SyncInterval(ctx, conn); err != nil || d != 0 {
		t.Fatalf("unknown interval: %s, %v", d, err)
	}
	if err := ix.SetSyncInterval(ctx, conn, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if d, err := ix.SyncInterval(ctx, conn); err != nil || d != 24*time.Hour {
		t.Fatalf("interval: %s, %v", d, err)
	}

	if err := ix.SetDown(ctx, conn, 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	if down, err := ix.IsDown(ctx, conn); err != nil || !down {
		t.Fatalf("down: %v, %v", down, err)
	}
	if err := ix.SetDown(ctx, conn, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	if down, err := ix.IsDown(ctx, conn); err != nil || down {
		t.Fatalf("down after the recovery: %v, %v", down, err)
	}

	// Drain jobs arrive through the watch; finishing an old job leaves a newer one.
	jobs := make(chan app.DrainJob, 10)
	ctxWatch, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- ix.WatchDrains(ctxWatch, func(job app.DrainJob, deleted bool) {
			if !deleted {
				jobs <- job
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	cutoff := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if err := ix.PutDrain(ctx, app.DrainJob{Conn: conn, Outage: 1, Cutoff: cutoff, CausationID: "ev-1"}); err != nil {
		t.Fatal(err)
	}
	first := <-jobs
	if first.Conn != conn || first.Outage != 1 || !first.Cutoff.Equal(cutoff) || first.CausationID != "ev-1" || first.Revision == 0 {
		t.Fatalf("watched job %+v", first)
	}
	if err := ix.PutDrain(ctx, app.DrainJob{Conn: conn, Outage: 2, Cutoff: cutoff, CausationID: "ev-2"}); err != nil {
		t.Fatal(err)
	}
	second := <-jobs
	if err := ix.FinishDrain(ctx, first); err != nil {
		t.Fatalf("finishing a replaced job: %v", err)
	}
	select {
	case j := <-jobs:
		t.Fatalf("unexpected job %+v", j)
	default:
	}
	if err := ix.FinishDrain(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := ix.CancelDrain(ctx, conn); err != nil {
		t.Fatalf("cancelling without a job: %v", err)
	}
}
