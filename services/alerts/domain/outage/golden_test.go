package outage_test

import (
	"path/filepath"
	"testing"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain/internal/golden"
	"github.com/reboundhq/rebound/services/alerts/domain/outage"
)

// TestGolden_historiesRebuildTheSameState replays recorded detector histories
// (testdata/*.history.jsonl, recorded once, never regenerated) and compares the rebuilt state
// with the reviewed expectation (*.want.json).
func TestGolden_historiesRebuildTheSameState(t *testing.T) {
	t.Parallel()
	cases := []string{
		// 20 records fail within 95 s (every fifth with 401) → down; 2 more covered; a success
		// recovers; 2 new failures count in a fresh window.
		"recovered",
		// threshold 4, 5 listed: the window slides (record 1000 drops out, 1001 is counted
		// again), down with 4; 3 more covered, the last 2 only counted.
		"down",
	}
	reg := events.NewRegistry(outage.EventTypes()...)
	stream := outage.Stream("merchant-1", "wms-1")
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			recs, err := golden.ReadHistory(filepath.Join("testdata", name+".history.jsonl"), reg, stream)
			if err != nil {
				t.Fatal(err)
			}
			// Folding does not depend on the configuration: the default one rebuilds histories
			// recorded under another.
			d := newDetector(t, outage.Config{})
			for _, r := range recs {
				if err := d.Apply(r); err != nil {
					t.Fatalf("version %d: %v", r.Version, err)
				}
			}
			golden.EqualState(t, filepath.Join("testdata", name+".want.json"), d.Snapshot())
		})
	}
}
