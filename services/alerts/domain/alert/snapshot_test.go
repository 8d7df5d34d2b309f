package alert_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/internal/golden"
)

// TestSnapshot_restoresWhatFoldingGives folds every prefix of every golden history, snapshots
// the alert, restores the snapshot into a fresh one and checks that both are the same: the whole
// state, and how they answer every command (outcome, error, events raised, state after).
func TestSnapshot_restoresWhatFoldingGives(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.history.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden histories (%v)", err)
	}
	reg := events.NewRegistry(alert.EventTypes()...)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".history.jsonl"), func(t *testing.T) {
			t.Parallel()
			recs, err := golden.ReadHistory(file, reg, alert.Stream("merchant-1", "history"))
			if err != nil {
				t.Fatal(err)
			}
			first := recs[0].Message.(*alertsv1.AlertRaised).GetAlert()
			stream := alert.Stream(first.GetRecord().GetAccountId(), first.GetAlertId())
			fold := func(n int) *alert.Alert {
				a, err := alert.New(stream, alert.DefaultConfig())
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs[:n] {
					if err := a.Apply(r); err != nil {
						t.Fatalf("version %d: %v", r.Version, err)
					}
				}
				return a
			}
			for n := range len(recs) + 1 {
				folded := fold(n)
				if folded.SnapshotSchema() != "alerts.alert/1" {
					t.Fatalf("schema %q", folded.SnapshotSchema())
				}
				if diff := golden.DiffState(folded, restored(t, folded)); diff != "" {
					t.Fatalf("after %d events the restored alert differs (-folded +restored):\n%s", n, diff)
				}
				base := t0
				if n > 0 {
					base = recs[n-1].OccurredAt
				}
				for _, p := range alertProbes(first, folded, base) {
					x, y := fold(n), restored(t, folded)
					outX, errX := p.run(x)
					outY, errY := p.run(y)
					if outX != outY || fmt.Sprint(errX) != fmt.Sprint(errY) {
						t.Fatalf("after %d events, %s: folded says %s, %v; restored %s, %v", n, p.name, outX, errX, outY, errY)
					}
					if diff := golden.DiffState(x, y); diff != "" {
						t.Fatalf("after %d events, %s: the alerts differ (-folded +restored):\n%s", n, p.name, diff)
					}
				}
			}
		})
	}
}

func TestSnapshot_refusesGarbage(t *testing.T) {
	t.Parallel()
	a := newAlert(t, unavailable(order("1"), "a1", t0), alert.DefaultConfig())
	for _, data := range [][]byte{{0x0a, 0x05, 0x01}, {0x12, 0x02, 0x08}, {0xff}} {
		if err := a.UnmarshalSnapshot(data); err == nil {
			t.Errorf("UnmarshalSnapshot(%x): want an error", data)
		}
	}
}

// restored snapshots a and restores the snapshot into a new alert.
func restored(t *testing.T, a *alert.Alert) *alert.Alert {
	t.Helper()
	data, err := a.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := alert.New(a.Stream(), alert.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.UnmarshalSnapshot(data); err != nil {
		t.Fatal(err)
	}
	return r
}

type alertProbe struct {
	name string
	run  func(*alert.Alert) (string, error)
}

// alertProbes returns every command of an alert, with arguments that make sense for a: failures
// of its fingerprint in every class, before and after its closing and past the regression
// window, with and without an outage; outages; resolutions; dismissals; escalations; grace checks.
func alertProbes(ref *alertsv1.AlertRef, a *alert.Alert, base time.Time) []alertProbe {
	var ps []alertProbe
	add := func(name string, run func(*alert.Alert) (string, error)) { ps = append(ps, alertProbe{name, run}) }
	done := func(err error) (string, error) { return "", err }
	st := a.Snapshot()
	rec, typ := ref.GetRecord(), ref.GetAlertType()
	if st != nil {
		rec = st.GetRecord()
	}
	outage := outageRef(7, base)
	if o := st.GetOutage(); o != nil {
		outage = o
	}
	if typ == classify.TypeConnectionDown {
		for _, d := range []time.Duration{-time.Hour, time.Minute, 10 * day} {
			add(fmt.Sprint("RaiseConnectionDown ", d), func(a *alert.Alert) (string, error) {
				out, err := a.RaiseConnectionDown(connectionDown(9, base.Add(d), 3), true, base.Add(d+time.Second))
				return out.String(), err
			})
		}
	}
	classes := []connectorv1.ErrorClass{
		connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, connectorv1.ErrorClass_ERROR_CLASS_AUTH,
		connectorv1.ErrorClass_ERROR_CLASS_RATE_LIMITED, connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION,
		connectorv1.ErrorClass_ERROR_CLASS_REJECTED,
	}
	attempts := []string{"probe", st.GetLastFailure().GetAttemptId()}
	for _, class := range classes {
		for _, attempt := range attempts {
			for _, d := range []time.Duration{-time.Hour, time.Minute, 10 * day} {
				for _, o := range []*alertsv1.OutageRef{nil, outage} {
					add(fmt.Sprintf("RecordFailure %s %s %s outage=%v", class, attempt, d, o != nil), func(a *alert.Alert) (string, error) {
						f := alert.Failure{
							Report: unavailable(rec, attempt, base.Add(d)),
							Result: classify.Result{AlertType: typ, Class: class, RuleID: "probe"},
							Outage: o,
						}
						out, err := a.RecordFailure(f, base.Add(d+time.Second))
						return out.String(), err
					})
				}
			}
		}
	}
	for _, d := range []time.Duration{-time.Hour, time.Minute} {
		add(fmt.Sprint("Resolve ", d), func(a *alert.Alert) (string, error) {
			return done(a.Resolve(succeeded(base.Add(d)), base.Add(time.Minute)))
		})
	}
	add("Dismiss", func(a *alert.Alert) (string, error) {
		return done(a.Dismiss("probe@example.com", "probe", base.Add(time.Minute)))
	})
	add("Escalate", func(a *alert.Alert) (string, error) {
		return done(a.Escalate("retries exhausted", base.Add(time.Minute)))
	})
	checks := []time.Time{base.Add(time.Minute), base.Add(2 * time.Hour)}
	if d, ok := a.GraceDeadline(); ok {
		checks = append(checks, d, d.Add(-time.Second))
	}
	for _, now := range checks {
		add("CheckGrace "+now.Format(time.RFC3339), func(a *alert.Alert) (string, error) { return fmt.Sprint(a.CheckGrace(now)), nil })
	}
	for _, o := range []*alertsv1.OutageRef{outage, outageRef(8, base)} {
		add(fmt.Sprint("CoverByOutage ", o.GetNumber()), func(a *alert.Alert) (string, error) {
			return done(a.CoverByOutage(o, base.Add(time.Minute)))
		})
		add(fmt.Sprint("Uncover ", o.GetNumber()), func(a *alert.Alert) (string, error) {
			return done(a.Uncover(o, base.Add(time.Hour), base.Add(time.Hour)))
		})
	}
	return ps
}
