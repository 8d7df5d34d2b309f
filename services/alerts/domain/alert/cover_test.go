package alert_test

import (
	"slices"
	"testing"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

func TestRecordFailure_duringAnOutageOpensCovered(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	down := outageRef(1, at(0))
	cases := []struct {
		name    string
		r       func(attempt string, t time.Time) alert.Failure
		events  []string
		covered bool
	}{
		{name: "auth", r: func(a string, t time.Time) alert.Failure {
			f := failure(report(ref, a, 401, "", "Invalid API key or access token", t))
			f.Outage = down
			return f
		}, events: []string{"AlertRaised", "AlertCoveredByOutage"}, covered: true},
		{name: "transient", r: func(a string, t time.Time) alert.Failure {
			f := failure(unavailable(ref, a, t))
			f.Outage = down
			return f
		}, events: []string{"AlertRaised", "AlertCoveredByOutage"}, covered: true},
		{name: "manual action is never covered", r: func(a string, t time.Time) alert.Failure {
			f := failure(shipMethod(ref, a, t))
			f.Outage = down
			return f
		}, events: []string{"AlertRaised", "AlertNeedsAttention"}, covered: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			first := tc.r("a1", at(time.Minute))
			a := newAlert(t, first.Report, alert.Config{})
			mustFail(t, a, first, at(time.Minute), alert.Raised)
			if ev := eventTypes(a); !slices.Equal(ev, tc.events) {
				t.Fatalf("events %v, want %v", ev, tc.events)
			}
			if a.Covered() != tc.covered {
				t.Fatalf("covered %v, want %v", a.Covered(), tc.covered)
			}
			if !tc.covered {
				return
			}
			s := a.Snapshot()
			if s.GetOutage().GetNumber() != 1 || s.GetNeedsAttention() {
				t.Fatalf("covered alert: %v", s)
			}
			// While covered: more failures of the same outage add occurrences only, and the
			// grace period does not run.
			mustFail(t, a, tc.r("a2", at(2*time.Hour)), at(2*time.Hour), alert.Occurred)
			if _, ok := a.GraceDeadline(); ok || a.CheckGrace(at(10*time.Hour)) {
				t.Fatal("a covered alert runs its grace period")
			}
			if ev := since(a, 2); !slices.Equal(ev, []string{"AlertOccurred"}) {
				t.Fatalf("events while covered %v", ev)
			}
			// Recovery: the grace period starts again from the recovery.
			if err := a.Uncover(down, at(11*time.Hour), at(11*time.Hour+time.Second)); err != nil {
				t.Fatal(err)
			}
			if d, ok := a.GraceDeadline(); !ok || !d.Equal(at(12*time.Hour)) {
				t.Fatalf("grace deadline after recovery %v %v, want %v", d, ok, at(12*time.Hour))
			}
			if s := a.Snapshot(); s.GetCoveredByOutage() || !s.GetUncoveredAt().AsTime().Equal(at(11*time.Hour)) || s.GetOutage().GetNumber() != 1 {
				t.Fatalf("uncovered state: %v", s)
			}
			replayed(t, a)
		})
	}
}

func TestCoverByOutage(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	t.Run("an open transient alert is covered once per outage", func(t *testing.T) {
		t.Parallel()
		a := newAlert(t, unavailable(ref, "a1", at(0)), alert.Config{})
		mustFail(t, a, failure(unavailable(ref, "a1", at(0))), at(0), alert.Raised)
		for range 2 {
			if err := a.CoverByOutage(outageRef(1, at(time.Minute)), at(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if ev := eventTypes(a); !slices.Equal(ev, []string{"AlertRaised", "AlertCoveredByOutage"}) {
			t.Fatalf("events %v", ev)
		}
		ev := a.Changes()[1].(*alertsv1.AlertCoveredByOutage)
		if ev.GetAlert().GetAlertId() != a.ID() || ev.GetOutage().GetConnectionAlertId() != alert.ConnectionAlertID("merchant-1", "wms-1") {
			t.Fatalf("AlertCoveredByOutage: %v", ev)
		}
		// Another outage's recovery does not uncover it; its own does.
		if err := a.Uncover(outageRef(2, at(time.Hour)), at(2*time.Hour), at(2*time.Hour)); err != nil || !a.Covered() {
			t.Fatalf("uncover by another outage: %v, covered %v", err, a.Covered())
		}
		if err := a.Uncover(outageRef(1, at(time.Minute)), at(2*time.Hour), at(2*time.Hour)); err != nil || a.Covered() {
			t.Fatalf("uncover: %v, covered %v", err, a.Covered())
		}
		if err := a.Uncover(outageRef(1, at(time.Minute)), at(2*time.Hour), at(2*time.Hour)); err != nil || len(a.Changes()) != 3 {
			t.Fatalf("uncovering twice: %v, %d events", err, len(a.Changes()))
		}
		replayed(t, a)
	})
	t.Run("nothing to cover", func(t *testing.T) {
		t.Parallel()
		manual := newAlert(t, shipMethod(ref, "a1", at(0)), alert.Config{})
		mustFail(t, manual, failure(shipMethod(ref, "a1", at(0))), at(0), alert.Raised)
		resolved := newAlert(t, unavailable(ref, "a1", at(0)), alert.Config{})
		mustFail(t, resolved, failure(unavailable(ref, "a1", at(0))), at(0), alert.Raised)
		if err := resolved.Resolve(succeeded(at(time.Second)), at(time.Second)); err != nil {
			t.Fatal(err)
		}
		for name, a := range map[string]*alert.Alert{"manual action": manual, "resolved": resolved} {
			n := len(a.Changes())
			if err := a.CoverByOutage(outageRef(1, at(time.Minute)), at(time.Minute)); err != nil || len(a.Changes()) != n || a.Covered() {
				t.Errorf("%s: cover: %v, covered %v", name, err, a.Covered())
			}
		}
	})
	t.Run("bad input and wrong state", func(t *testing.T) {
		t.Parallel()
		a := newAlert(t, unavailable(ref, "a1", at(0)), alert.Config{})
		wantWrongState(t, a.CoverByOutage(outageRef(1, at(0)), at(0)), "cover")
		wantWrongState(t, a.Uncover(outageRef(1, at(0)), at(0), at(0)), "uncover")
		mustFail(t, a, failure(unavailable(ref, "a1", at(0))), at(0), alert.Raised)
		other := outageRef(1, at(0))
		other.ConnectionId = "cart-1"
		wantField(t, a.CoverByOutage(other, at(0)), "outage.connection_id")
		wantField(t, a.CoverByOutage(nil, at(0)), "outage")
		wantField(t, a.Uncover(outageRef(1, at(0)), time.Time{}, at(0)), "recovered_at")
	})
}

func TestRaiseConnectionDown(t *testing.T) {
	t.Parallel()
	id := alert.ConnectionAlertID("merchant-1", "wms-1")
	a, err := alert.New(alert.Stream("merchant-1", id), alert.Config{})
	if err != nil {
		t.Fatal(err)
	}
	immediate := classifier.Immediate(classify.TypeConnectionDown)
	out, err := a.RaiseConnectionDown(connectionDown(1, at(0), 20), immediate, at(time.Second))
	if err != nil || out != alert.Raised {
		t.Fatalf("RaiseConnectionDown = %v, %v", out, err)
	}
	if ev := eventTypes(a); !slices.Equal(ev, []string{"AlertRaised", "AlertNeedsAttention"}) {
		t.Fatalf("events %v", ev)
	}
	s := a.Snapshot()
	if s.GetAlertType() != classify.TypeConnectionDown || !s.GetImmediate() || s.GetRecord().GetConnectionId() != "wms-1" ||
		s.GetRecord().GetRecordId() != "" || s.GetNeedsAttentionReason() != alertsv1.AttentionReason_ATTENTION_REASON_CONNECTION_DOWN ||
		s.GetLastFailure().GetMessage() != "20 records of connection wms-1 failed within 5m0s" {
		t.Fatalf("state: %v", s)
	}
	// The same outage reported again changes nothing.
	if out, err := a.RaiseConnectionDown(connectionDown(1, at(0), 20), immediate, at(time.Minute)); err != nil || out != alert.Ignored {
		t.Fatalf("repeat: %v, %v", out, err)
	}
	recovered := alert.Resolution{Cause: alertsv1.ResolutionCause_RESOLUTION_CAUSE_CONNECTION_RECOVERED, At: at(time.Hour), AttemptID: "ok-1"}
	if err := a.Resolve(recovered, at(time.Hour)); err != nil || a.Status() != alertsv1.AlertStatus_ALERT_STATUS_RESOLVED {
		t.Fatalf("resolve: %v, %v", err, a.Status())
	}
	// The connection flaps: the next outage within the regression window reopens the alert,
	// which needs attention again.
	out, err = a.RaiseConnectionDown(connectionDown(2, at(3*time.Hour), 25), immediate, at(3*time.Hour))
	if err != nil || out != alert.Reopened {
		t.Fatalf("second outage: %v, %v", out, err)
	}
	if ev := since(a, 3); !slices.Equal(ev, []string{"AlertReopened", "AlertNeedsAttention"}) {
		t.Fatalf("events %v", ev)
	}
	replayed(t, a)

	// It belongs to its own stream only.
	rec, err := alert.New(alert.Stream("merchant-1", alert.IDOf(order("1"), "timeout")), alert.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = rec.RaiseConnectionDown(connectionDown(1, at(0), 20), immediate, at(0))
	wantField(t, err, "connection")
}

func TestEscalate_whileCoveredWaitsForRecovery(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	down := outageRef(1, at(0))
	f := failure(unavailable(ref, "a1", at(0)))
	f.Outage = down
	a := newAlert(t, f.Report, alert.Config{})
	mustFail(t, a, f, at(0), alert.Raised)
	if err := a.Escalate("retries_exhausted: 100 consecutive failures", at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ev := since(a, 2); !slices.Equal(ev, []string{"AlertEscalated"}) {
		t.Fatalf("escalating a covered alert raised %v, want only AlertEscalated", ev)
	}
	if err := a.Uncover(down, at(2*time.Hour), at(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ev := since(a, 3); !slices.Equal(ev, []string{"AlertUncovered", "AlertNeedsAttention"}) {
		t.Fatalf("recovery raised %v", ev)
	}
	if r := a.Snapshot().GetNeedsAttentionReason(); r != alertsv1.AttentionReason_ATTENTION_REASON_RETRIES_EXHAUSTED {
		t.Fatalf("reason %v", r)
	}
	replayed(t, a)
}
