package holds_test

import (
	"flag"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/holds"
	"github.com/reboundhq/rebound/services/orders/domain/internal/golden"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
)

var record = flag.Bool("record", false, "record new golden histories (never rewrites one)")

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ids(hs []*ordersv1.HeldOrder) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.GetOrderId()+"/"+h.GetAttemptId())
	}
	return out
}

// scenario tracks three holds on two codes, releases one code, re-tracks and releases all.
func scenario(t *testing.T) *holds.Index {
	x := holds.New(holds.Stream("m1", "cart-1"))
	must(t, x.Track("ord_a", "GROUND", "ord_a-d1", t0))
	must(t, x.Track("ord_b", " GROUND", "ord_b-d1", t0.Add(time.Minute)))
	must(t, x.Track("ord_c", "EXPRESS", "ord_c-d1", t0.Add(2*time.Minute)))
	must(t, x.Track("ord_a", "GROUND", "ord_a-d1", t0.Add(3*time.Minute))) // again: nothing
	ground := x.Held(shipmap.Release{Account: "m1", CartConnectionID: "cart-1", Code: "GROUND"})
	if got := ids(ground); len(got) != 2 {
		t.Fatalf("held on GROUND: %v", got)
	}
	x.Release(ground, t0.Add(time.Hour))
	x.Release(ground, t0.Add(time.Hour)) // again: nothing
	must(t, x.Track("ord_d", "EXPRESS", "ord_d-d2", t0.Add(2*time.Hour)))
	return x
}

func TestIndex_tracksAndReleases(t *testing.T) {
	t.Parallel()
	x := scenario(t)
	if n := len(x.Changes()); n != 5 {
		t.Fatalf("raised %d events, want 5", n)
	}
	all := x.Held(shipmap.Release{AllCodes: true})
	if got := ids(all); len(got) != 2 || got[0] != "ord_c/ord_c-d1" || got[1] != "ord_d/ord_d-d2" {
		t.Fatalf("held on every code: %v", got)
	}
	if err := x.Track("", "", "", t0); err == nil {
		t.Fatal("an empty hold was tracked")
	}
	// Folding the raised events rebuilds the same index.
	y := holds.New(holds.Stream("m1", "cart-1"))
	for _, rec := range golden.Records(x.Changes()) {
		must(t, y.Apply(rec))
	}
	if !proto.Equal(y.Snapshot(), x.Snapshot()) {
		t.Fatalf("folded %v, want %v", y.Snapshot(), x.Snapshot())
	}
}

func TestIndex_golden(t *testing.T) {
	t.Parallel()
	reg := events.NewRegistry(holds.EventTypes()...)
	const name = "tracked_released_retracked"
	if *record {
		x := scenario(t)
		golden.Write(t, name, x.Changes(), x.Snapshot())
	}
	msgs := golden.Read(t, golden.HistoryPath(name), reg)
	x := holds.New(holds.Stream("m1", "cart-1"))
	for i, rec := range golden.Records(msgs) {
		if err := x.Apply(rec); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	golden.EqualState(t, golden.StatePath(name), x.Snapshot())
	got := scenario(t).Changes()
	if len(got) != len(msgs) {
		t.Fatalf("the scenario raises %d events, the history holds %d", len(got), len(msgs))
	}
	for i := range got {
		if !proto.Equal(got[i], msgs[i]) {
			t.Fatalf("event %d: the scenario raises %v, the history holds %v", i+1, got[i], msgs[i])
		}
	}
}
