package alert_test

import (
	"path/filepath"
	"testing"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/internal/golden"
)

// TestGolden_historiesRebuildTheSameState replays recorded alert histories (testdata/*.history.jsonl,
// recorded once, never regenerated) and compares the rebuilt state with the reviewed expectation
// (*.want.json). A change to folding, or to the protos, that would rebuild different state from
// events already stored fails here.
func TestGolden_historiesRebuildTheSameState(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		stream events.StreamID
	}{
		// raised → occurred → grace exceeded → occurred → escalated → resolved → reopened → dismissed
		{"regression", alert.Stream("merchant-1", alert.IDOf(order("1001"), "wms_unavailable"))},
		// ship method unmapped: raised → attention → resolved; 8 days later a new incarnation
		{"new_incarnation", alert.Stream("merchant-1", alert.IDOf(order("1001"), "ship_method_unmapped"))},
		// auth failure during an outage: raised covered → occurred → uncovered → grace exceeded
		{"covered", alert.Stream("merchant-1", alert.IDOf(order("1001"), "auth_failed"))},
		// connection_down: raised → attention → resolved by recovery → reopened by the next outage
		{"connection_down", alert.Stream("merchant-1", alert.ConnectionAlertID("merchant-1", "wms-1"))},
	}
	reg := events.NewRegistry(alert.EventTypes()...)
	repo := newRepository(t, newStore(), 0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs, err := golden.ReadHistory(filepath.Join("testdata", tc.name+".history.jsonl"), reg, tc.stream)
			if err != nil {
				t.Fatal(err)
			}
			a, err := repo.Fold(tc.stream, recs)
			if err != nil {
				t.Fatal(err)
			}
			if a.ID() != tc.stream.ID || a.Snapshot().GetAlertId() != tc.stream.ID {
				t.Fatalf("the history's alert id %s is not its stream's %s", a.Snapshot().GetAlertId(), tc.stream.ID)
			}
			golden.EqualState(t, filepath.Join("testdata", tc.name+".want.json"), a.Snapshot())
		})
	}
}
