package index_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/index"
	"github.com/reboundhq/rebound/services/alerts/domain/internal/golden"
)

// TestSnapshot_restoresWhatFoldingGives folds every prefix of every golden history, snapshots
// the index, restores the snapshot into a fresh one and checks that both are the same: the whole
// state, and how they answer Track (error, events raised, state after).
func TestSnapshot_restoresWhatFoldingGives(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.history.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden histories (%v)", err)
	}
	r := order("1001")
	stream := index.Stream(r)
	reg := events.NewRegistry(index.EventTypes()...)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".history.jsonl"), func(t *testing.T) {
			t.Parallel()
			recs, err := golden.ReadHistory(file, reg, stream)
			if err != nil {
				t.Fatal(err)
			}
			fold := func(n int) *index.Index {
				x := index.New(stream)
				for _, rec := range recs[:n] {
					if err := x.Apply(rec); err != nil {
						t.Fatal(err)
					}
				}
				return x
			}
			restore := func(x *index.Index) *index.Index {
				data, err := x.MarshalSnapshot()
				if err != nil {
					t.Fatal(err)
				}
				y := index.New(stream)
				if err := y.UnmarshalSnapshot(data); err != nil {
					t.Fatal(err)
				}
				return y
			}
			for n := range len(recs) + 1 {
				folded := fold(n)
				if folded.SnapshotSchema() != "alerts.record_alerts/1" {
					t.Fatalf("schema %q", folded.SnapshotSchema())
				}
				if diff := golden.DiffState(folded, restore(folded)); diff != "" {
					t.Fatalf("after %d events the restored index differs (-folded +restored):\n%s", n, diff)
				}
				for _, typ := range []string{"wms_unavailable", "ship_method_unmapped", "timeout"} {
					x, y := fold(n), restore(folded)
					errX := x.Track(r, typ, alert.IDOf(r, typ), t0)
					errY := y.Track(r, typ, alert.IDOf(r, typ), t0)
					if fmt.Sprint(errX) != fmt.Sprint(errY) {
						t.Fatalf("after %d events, Track %s: folded says %v, restored %v", n, typ, errX, errY)
					}
					if diff := golden.DiffState(x, y); diff != "" {
						t.Fatalf("after %d events, Track %s: the indexes differ (-folded +restored):\n%s", n, typ, diff)
					}
				}
			}
		})
	}
}

func TestSnapshot_refusesGarbage(t *testing.T) {
	t.Parallel()
	x := index.New(index.Stream(order("1001")))
	for _, data := range [][]byte{{0x0a, 0x05, 0x01}, {0x0a, 0x02, 0xff, 0xff}, {0xff}} {
		if err := x.UnmarshalSnapshot(data); err == nil {
			t.Errorf("UnmarshalSnapshot(%x): want an error", data)
		}
	}
}
