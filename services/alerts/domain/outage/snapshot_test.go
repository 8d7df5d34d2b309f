package outage_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain/internal/golden"
	"github.com/reboundhq/rebound/services/alerts/domain/outage"
)

// TestSnapshot_restoresWhatFoldingGives folds every prefix of every golden history, snapshots
// the detector, restores the snapshot into a fresh one and checks that both are the same: the
// whole state, and how they answer every command (outcome, error, events raised, state after),
// under the default policy and a small one.
func TestSnapshot_restoresWhatFoldingGives(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.history.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden histories (%v)", err)
	}
	reg := events.NewRegistry(outage.EventTypes()...)
	stream := outage.Stream("merchant-1", "wms-1")
	configs := []outage.Config{{}, {Threshold: 4, MaxListed: 5}}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".history.jsonl"), func(t *testing.T) {
			t.Parallel()
			recs, err := golden.ReadHistory(file, reg, stream)
			if err != nil {
				t.Fatal(err)
			}
			for _, cfg := range configs {
				fold := func(n int) *outage.Detector {
					d := newDetector(t, cfg)
					for _, r := range recs[:n] {
						if err := d.Apply(r); err != nil {
							t.Fatalf("version %d: %v", r.Version, err)
						}
					}
					return d
				}
				restore := func(d *outage.Detector) *outage.Detector {
					data, err := d.MarshalSnapshot()
					if err != nil {
						t.Fatal(err)
					}
					r := newDetector(t, cfg)
					if err := r.UnmarshalSnapshot(data); err != nil {
						t.Fatal(err)
					}
					return r
				}
				for n := range len(recs) + 1 {
					folded := fold(n)
					if folded.SnapshotSchema() != "alerts.outage/1" {
						t.Fatalf("schema %q", folded.SnapshotSchema())
					}
					if diff := golden.DiffState(folded, restore(folded)); diff != "" {
						t.Fatalf("after %d events the restored detector differs (-folded +restored):\n%s", n, diff)
					}
					base := t0
					if n > 0 {
						base = recs[n-1].OccurredAt
					}
					for _, p := range detectorProbes(base) {
						x, y := fold(n), restore(folded)
						outX, errX := p.run(x)
						outY, errY := p.run(y)
						if outX != outY || fmt.Sprint(errX) != fmt.Sprint(errY) {
							t.Fatalf("%+v, after %d events, %s: folded says %s, %v; restored %s, %v", cfg, n, p.name, outX, errX, outY, errY)
						}
						if diff := golden.DiffState(x, y); diff != "" {
							t.Fatalf("%+v, after %d events, %s: the detectors differ (-folded +restored):\n%s", cfg, n, p.name, diff)
						}
					}
				}
			}
		})
	}
}

func TestSnapshot_refusesGarbage(t *testing.T) {
	t.Parallel()
	d := newDetector(t, outage.Config{})
	for _, data := range [][]byte{{0x0a, 0x05, 0x01}, {0x10, 0x01}, {0xff}} {
		if err := d.UnmarshalSnapshot(data); err == nil {
			t.Errorf("UnmarshalSnapshot(%x): want an error", data)
		}
	}
}

type detectorProbe struct {
	name string
	run  func(*outage.Detector) (string, error)
}

// detectorProbes returns the detector's commands with arguments around base (the time of the
// last event): failures of records in the histories and of new ones, transient and auth, too old,
// in the window and later; successes before and after; and a burst of new failures that takes
// the connection down (or adds to its outage) and a success that recovers it.
func detectorProbes(base time.Time) []detectorProbe {
	var ps []detectorProbe
	add := func(name string, run func(*outage.Detector) (string, error)) {
		ps = append(ps, detectorProbe{name, run})
	}
	for _, i := range []int{0, 5, 21, 100} {
		for _, d := range []time.Duration{-10 * time.Minute, time.Second, 3 * time.Minute} {
			add(fmt.Sprintf("RecordFailure 503 %d %s", i, d), func(x *outage.Detector) (string, error) {
				r := unavailable(i, base.Add(d))
				out, err := x.RecordFailure(r, classifier.Classify(r), base.Add(time.Minute))
				return out.String(), err
			})
			add(fmt.Sprintf("RecordFailure 401 %d %s", i, d), func(x *outage.Detector) (string, error) {
				r := unauthorized(i, base.Add(d))
				out, err := x.RecordFailure(r, classifier.Classify(r), base.Add(time.Minute))
				return out.String(), err
			})
		}
	}
	for _, d := range []time.Duration{-time.Hour, time.Second} {
		add(fmt.Sprint("RecordSuccess ", d), func(x *outage.Detector) (string, error) {
			out, err := x.RecordSuccess(success(3, base.Add(d)), base.Add(time.Minute))
			return out.String(), err
		})
	}
	add("burst, then success", func(x *outage.Detector) (string, error) {
		var outs []string
		for i := range 25 {
			r := unavailable(200+i%22, base.Add(time.Duration(i)*time.Second))
			out, err := x.RecordFailure(r, classifier.Classify(r), base.Add(time.Minute))
			if err != nil {
				return fmt.Sprint(outs), err
			}
			outs = append(outs, out.String())
		}
		out, err := x.RecordSuccess(success(200, base.Add(time.Hour)), base.Add(time.Hour))
		return fmt.Sprint(append(outs, out.String())), err
	})
	return ps
}
