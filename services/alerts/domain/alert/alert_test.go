package alert_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

func TestAlertID_derivesFromTheFingerprint(t *testing.T) {
	t.Parallel()
	kind := connectorv1.RecordKind_RECORD_KIND_ORDER
	id := alert.AlertID("merchant-1", "wms-1", kind, "#1001/A.B", "wms_unavailable")
	if !events.ValidToken(id) || id != alert.AlertID("merchant-1", "wms-1", kind, "#1001/A.B", "wms_unavailable") {
		t.Fatalf("AlertID = %q: want a stable subject token", id)
	}
	others := []string{
		alert.AlertID("merchant-2", "wms-1", kind, "#1001/A.B", "wms_unavailable"),
		alert.AlertID("merchant-1", "wms-2", kind, "#1001/A.B", "wms_unavailable"),
		alert.AlertID("merchant-1", "wms-1", connectorv1.RecordKind_RECORD_KIND_TRACKING, "#1001/A.B", "wms_unavailable"),
		alert.AlertID("merchant-1", "wms-1", kind, "#1002/A.B", "wms_unavailable"),
		alert.AlertID("merchant-1", "wms-1", kind, "#1001/A.B", "timeout"),
		alert.ConnectionAlertID("merchant-1", "wms-1"),
	}
	for i, o := range others {
		if o == id {
			t.Errorf("fingerprint variant %d has the same id", i)
		}
	}
	if got := alert.IDOf(order("1001"), "timeout"); got != alert.AlertID("merchant-1", "wms-1", kind, "1001", "timeout") {
		t.Errorf("IDOf disagrees with AlertID")
	}
}

func TestRecordFailure_firstFailureRaises(t *testing.T) {
	t.Parallel()
	r := unavailable(order("1001"), "a1", at(0))
	a := newAlert(t, r, alert.Config{})
	mustFail(t, a, failure(r), at(time.Second), alert.Raised)

	got := a.Snapshot()
	want := &alertsv1.Alert{
		AlertId: a.ID(), Incarnation: 1, Record: order("1001"), AlertType: "wms_unavailable",
		ErrorClass: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, Status: alertsv1.AlertStatus_ALERT_STATUS_OPEN,
		FirstSeenAt: r.GetFailedAt(), LastSeenAt: r.GetFailedAt(), OpenedAt: r.GetFailedAt(),
		RaisedAt: tspb(at(time.Second)), Occurrences: 1,
		LastFailure: &alertsv1.Failure{AttemptId: "a1", Message: "Service Unavailable", HttpStatus: 503, RuleId: "wms-unavailable", FailedAt: r.GetFailedAt()},
	}
	if !proto.Equal(got, want) {
		t.Fatalf("state\n got %v\nwant %v", got, want)
	}
	if ev := eventTypes(a); !slices.Equal(ev, []string{"AlertRaised"}) {
		t.Fatalf("events %v, want a transient failure to raise only AlertRaised", ev)
	}
	replayed(t, a)
}

func TestRecordFailure_repeatAddsAnOccurrence(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	a := newAlert(t, unavailable(ref, "a1", at(0)), alert.Config{})
	mustFail(t, a, failure(unavailable(ref, "a1", at(0))), at(0), alert.Raised)
	mustFail(t, a, failure(report(ref, "a2", 503, "", "Service Unavailable (maintenance)", at(time.Hour))), at(time.Hour), alert.Occurred)
	mustFail(t, a, failure(unavailable(ref, "a3", at(2*time.Hour))), at(2*time.Hour), alert.Occurred)
	// A late report of an earlier attempt counts, but does not move the last failure back.
	mustFail(t, a, failure(report(ref, "a2b", 502, "", "Bad Gateway", at(90*time.Minute))), at(3*time.Hour), alert.Occurred)

	s := a.Snapshot()
	if s.GetOccurrences() != 4 || s.GetIncarnation() != 1 {
		t.Fatalf("occurrences %d incarnation %d, want 4 in incarnation 1", s.GetOccurrences(), s.GetIncarnation())
	}
	if !s.GetLastSeenAt().AsTime().Equal(at(2*time.Hour)) || s.GetLastFailure().GetAttemptId() != "a3" {
		t.Fatalf("last seen %v by %s, want %v by a3", s.GetLastSeenAt().AsTime(), s.GetLastFailure().GetAttemptId(), at(2*time.Hour))
	}
	if !s.GetFirstSeenAt().AsTime().Equal(at(0)) {
		t.Fatalf("first seen moved to %v", s.GetFirstSeenAt().AsTime())
	}
	if ev := eventTypes(a); !slices.Equal(ev, []string{"AlertRaised", "AlertOccurred", "AlertOccurred", "AlertOccurred"}) {
		t.Fatalf("events %v", ev)
	}
	replayed(t, a)
}

func TestRecordFailure_sameAttemptTwiceIsOneFailure(t *testing.T) {
	t.Parallel()
	r := unavailable(order("1001"), "a1", at(0))
	a := newAlert(t, r, alert.Config{})
	mustFail(t, a, failure(r), at(0), alert.Raised)
	mustFail(t, a, failure(r), at(time.Minute), alert.Ignored)
	if n := len(a.Changes()); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
}

func TestRecordFailure_classDecidesImmediateAttention(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	cases := []struct {
		name      string
		report    *connectorv1.RecordFailed
		events    []string
		reason    alertsv1.AttentionReason
		immediate bool
	}{
		{"transient", unavailable(ref, "a1", at(0)), []string{"AlertRaised"}, 0, false},
		{"rate limited", report(ref, "a1", 429, "", "Too Many Requests", at(0)), []string{"AlertRaised"}, 0, false},
		{"manual action", shipMethod(ref, "a1", at(0)), []string{"AlertRaised", "AlertNeedsAttention"}, alertsv1.AttentionReason_ATTENTION_REASON_MANUAL_ACTION, true},
		{"address", report(ref, "a1", 400, "INVALID_ADDRESS", "Address validation failed", at(0)), []string{"AlertRaised", "AlertNeedsAttention"}, alertsv1.AttentionReason_ATTENTION_REASON_MANUAL_ACTION, false},
		{"auth", report(ref, "a1", 401, "", "Invalid API key", at(0)), []string{"AlertRaised", "AlertNeedsAttention"}, alertsv1.AttentionReason_ATTENTION_REASON_AUTH, true},
		{"rejected", report(ref, "a1", 422, "", "tracking_number can't be blank", at(0)), []string{"AlertRaised", "AlertNeedsAttention"}, alertsv1.AttentionReason_ATTENTION_REASON_REJECTED, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAlert(t, tc.report, alert.Config{})
			mustFail(t, a, failure(tc.report), at(time.Second), alert.Raised)
			if ev := eventTypes(a); !slices.Equal(ev, tc.events) {
				t.Fatalf("events %v, want %v", ev, tc.events)
			}
			s := a.Snapshot()
			if s.GetNeedsAttentionReason() != tc.reason || s.GetNeedsAttention() != (tc.reason != 0) || s.GetImmediate() != tc.immediate {
				t.Fatalf("needs attention %v (%v), immediate %v; want reason %v, immediate %v",
					s.GetNeedsAttention(), s.GetNeedsAttentionReason(), s.GetImmediate(), tc.reason, tc.immediate)
			}
			if tc.reason != 0 {
				na := a.Changes()[1].(*alertsv1.AlertNeedsAttention)
				if na.GetAlert().GetAlertId() != a.ID() || na.GetAlert().GetRecord().GetOrderNumber() != "#1001" ||
					na.GetLastFailure().GetAttemptId() != "a1" || !na.GetNeedsAttentionAt().AsTime().Equal(at(time.Second)) {
					t.Fatalf("AlertNeedsAttention lacks what a subscriber needs: %v", na)
				}
				// Later occurrences do not ask again.
				again := proto.CloneOf(tc.report)
				again.AttemptId, again.FailedAt = "a2", tspb(at(time.Hour))
				mustFail(t, a, failure(again), at(time.Hour), alert.Occurred)
				if ev := since(a, len(tc.events)); !slices.Equal(ev, []string{"AlertOccurred"}) {
					t.Fatalf("repeat raised %v, want only AlertOccurred", ev)
				}
			}
			replayed(t, a)
		})
	}
}

func TestRecordFailure_badInputNamesTheField(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	good := unavailable(ref, "a1", at(0))
	a := newAlert(t, good, alert.Config{})
	cases := []struct {
		name  string
		f     alert.Failure
		now   time.Time
		field string
	}{
		{"no record", alert.Failure{Report: &connectorv1.RecordFailed{AttemptId: "a1", Message: "x", FailedAt: tspb(at(0))}, Result: failure(good).Result}, at(0), "record"},
		{"no failed_at", func() alert.Failure { f := failure(proto.CloneOf(good)); f.Report.FailedAt = nil; return f }(), at(0), "failed_at"},
		{"another record", failure(unavailable(order("1002"), "a1", at(0))), at(0), "record"},
		{"another type", alert.Failure{Report: good, Result: classify.Result{Class: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, AlertType: "timeout"}}, at(0), "record"},
		{"no class", alert.Failure{Report: good, Result: classify.Result{AlertType: "wms_unavailable"}}, at(0), "result.class"},
		{"bad type", alert.Failure{Report: good, Result: classify.Result{Class: 1, AlertType: "WMS Down"}}, at(0), "result.alert_type"},
		{"no time", failure(good), time.Time{}, "now"},
		{"outage of another connection", alert.Failure{Report: good, Result: failure(good).Result,
			Outage: &alertsv1.OutageRef{ConnectionId: "cart-1", Number: 1, DownAt: tspb(at(0))}}, at(0), "outage.connection_id"},
		{"outage without number", alert.Failure{Report: good, Result: failure(good).Result,
			Outage: &alertsv1.OutageRef{ConnectionId: "wms-1", DownAt: tspb(at(0))}}, at(0), "outage.number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.RecordFailure(tc.f, tc.now)
			wantField(t, err, tc.field)
		})
	}
	if a.Exists() || len(a.Changes()) != 0 {
		t.Fatal("a refused failure changed the alert")
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	open := func(t *testing.T) *alert.Alert {
		a := newAlert(t, unavailable(ref, "a1", at(0)), alert.Config{})
		mustFail(t, a, failure(unavailable(ref, "a1", at(0))), at(0), alert.Raised)
		mustFail(t, a, failure(unavailable(ref, "a2", at(time.Hour))), at(time.Hour), alert.Occurred)
		return a
	}
	t.Run("a later success resolves", func(t *testing.T) {
		t.Parallel()
		a := open(t)
		if err := a.Resolve(succeeded(at(2*time.Hour)), at(2*time.Hour+time.Second)); err != nil {
			t.Fatal(err)
		}
		s := a.Snapshot()
		if s.GetStatus() != alertsv1.AlertStatus_ALERT_STATUS_RESOLVED || !s.GetResolvedAt().AsTime().Equal(at(2*time.Hour)) ||
			s.GetResolvedBy() != "ok-1" || s.GetResolutionCause() != alertsv1.ResolutionCause_RESOLUTION_CAUSE_RECORD_SUCCEEDED {
			t.Fatalf("state after resolve: %v", s)
		}
		ev := a.Changes()[2].(*alertsv1.AlertResolved)
		if ev.GetOccurrences() != 2 || !ev.GetFirstSeenAt().AsTime().Equal(at(0)) || ev.GetAlert().GetRecord().GetConnectionId() != "wms-1" {
			t.Fatalf("AlertResolved lacks what a subscriber needs: %v", ev)
		}
		// Resolving again (another success) changes nothing.
		if err := a.Resolve(succeeded(at(3*time.Hour)), at(3*time.Hour)); err != nil || len(a.Changes()) != 3 {
			t.Fatalf("second resolve: %v, %d events", err, len(a.Changes()))
		}
		replayed(t, a)
	})
	t.Run("from ResolutionOf", func(t *testing.T) {
		t.Parallel()
		a := open(t)
		s := &connectorv1.RecordSucceeded{Record: ref, AttemptId: "ok-9", SucceededAt: tspb(at(5 * time.Hour))}
		if err := a.Resolve(alert.ResolutionOf(s), at(5*time.Hour)); err != nil || a.Snapshot().GetResolvedBy() != "ok-9" {
			t.Fatalf("resolve: %v, %v", err, a.Snapshot())
		}
	})
	t.Run("a success older than the last failure changes nothing", func(t *testing.T) {
		t.Parallel()
		a := open(t)
		if err := a.Resolve(succeeded(at(30*time.Minute)), at(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if !a.Open() || len(a.Changes()) != 2 {
			t.Fatalf("status %v with %d events; want still open", a.Status(), len(a.Changes()))
		}
	})
	t.Run("a dismissed alert stays dismissed", func(t *testing.T) {
		t.Parallel()
		a := open(t)
		if err := a.Dismiss("ops@example.com", "", at(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := a.Resolve(succeeded(at(3*time.Hour)), at(3*time.Hour)); err != nil || a.Status() != alertsv1.AlertStatus_ALERT_STATUS_DISMISSED {
			t.Fatalf("resolve after dismiss: %v, status %v", err, a.Status())
		}
	})
	t.Run("never raised", func(t *testing.T) {
		t.Parallel()
		a := newAlert(t, unavailable(ref, "a1", at(0)), alert.Config{})
		wantWrongState(t, a.Resolve(succeeded(at(0)), at(0)), "resolve")
	})
	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		a := open(t)
		wantField(t, a.Resolve(alert.Resolution{At: at(3 * time.Hour)}, at(3*time.Hour)), "cause")
		wantField(t, a.Resolve(alert.Resolution{Cause: 1}, at(3*time.Hour)), "at")
		wantField(t, a.Resolve(succeeded(at(3*time.Hour)), time.Time{}), "now")
	})
}

func TestDismiss(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	r := shipMethod(ref, "a1", at(0))
	cases := []struct {
		name    string
		prepare func(*testing.T, *alert.Alert)
		by      string
		field   string // bad input
		wrong   bool   // ErrWrongState
	}{
		{"open", nil, "ops@example.com", "", false},
		{"resolved", func(t *testing.T, a *alert.Alert) {
			if err := a.Resolve(succeeded(at(time.Hour)), at(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}, "ops@example.com", "", true},
		{"dismissed", func(t *testing.T, a *alert.Alert) {
			if err := a.Dismiss("someone@example.com", "dup", at(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}, "ops@example.com", "", true},
		{"nobody", nil, "  ", "by", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAlert(t, r, alert.Config{})
			mustFail(t, a, failure(r), at(0), alert.Raised)
			if tc.prepare != nil {
				tc.prepare(t, a)
			}
			n := len(a.Changes())
			err := a.Dismiss(tc.by, "customer cancelled the order", at(2*time.Hour))
			switch {
			case tc.field != "":
				wantField(t, err, tc.field)
			case tc.wrong:
				wantWrongState(t, err, "dismiss")
			case err != nil:
				t.Fatal(err)
			default:
				s := a.Snapshot()
				if s.GetStatus() != alertsv1.AlertStatus_ALERT_STATUS_DISMISSED || s.GetDismissedBy() != tc.by ||
					s.GetDismissReason() != "customer cancelled the order" || !s.GetDismissedAt().AsTime().Equal(at(2*time.Hour)) {
					t.Fatalf("state after dismiss: %v", s)
				}
				n++
			}
			if len(a.Changes()) != n {
				t.Fatalf("%d events, want %d", len(a.Changes()), n)
			}
			replayed(t, a)
		})
	}
	t.Run("never raised", func(t *testing.T) {
		t.Parallel()
		a := newAlert(t, r, alert.Config{})
		wantWrongState(t, a.Dismiss("ops@example.com", "", at(0)), "dismiss")
	})
}

func TestRecordFailure_afterClosing(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	const closedAt = 10 * time.Hour
	resolve := func(a *alert.Alert) error { return a.Resolve(succeeded(at(closedAt)), at(closedAt)) }
	dismiss := func(a *alert.Alert) error { return a.Dismiss("ops@example.com", "known", at(closedAt)) }
	cases := []struct {
		name   string
		close  func(*alert.Alert) error
		cfg    alert.Config
		after  time.Duration // failure time relative to the closing
		want   alert.Outcome
		status alertsv1.AlertStatus
		incarn uint32
	}{
		{"resolved, an hour later", resolve, alert.Config{}, time.Hour, alert.Reopened, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 1},
		{"dismissed, an hour later", dismiss, alert.Config{}, time.Hour, alert.Reopened, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 1},
		{"resolved, exactly 7 days later", resolve, alert.Config{}, 7 * day, alert.Reopened, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 1},
		{"resolved, 7 days and a second later", resolve, alert.Config{}, 7*day + time.Second, alert.Raised, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 2},
		{"dismissed, 30 days later", dismiss, alert.Config{}, 30 * day, alert.Raised, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 2},
		{"1-day window, 2 days later", resolve, alert.Config{RegressionWindow: day}, 2 * day, alert.Raised, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 2},
		{"1-day window, 20 hours later", resolve, alert.Config{RegressionWindow: day}, 20 * time.Hour, alert.Reopened, alertsv1.AlertStatus_ALERT_STATUS_OPEN, 1},
		{"resolved, failure from before", resolve, alert.Config{}, -time.Minute, alert.Ignored, alertsv1.AlertStatus_ALERT_STATUS_RESOLVED, 1},
		{"resolved, failure at the same instant", resolve, alert.Config{}, 0, alert.Ignored, alertsv1.AlertStatus_ALERT_STATUS_RESOLVED, 1},
		{"dismissed, failure from before", dismiss, alert.Config{}, -time.Minute, alert.Ignored, alertsv1.AlertStatus_ALERT_STATUS_DISMISSED, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAlert(t, unavailable(ref, "a1", at(0)), tc.cfg)
			mustFail(t, a, failure(unavailable(ref, "a1", at(0))), at(0), alert.Raised)
			mustFail(t, a, failure(unavailable(ref, "a2", at(time.Hour))), at(time.Hour), alert.Occurred)
			if !a.CheckGrace(at(2 * time.Hour)) {
				t.Fatal("grace period not exceeded after 2 hours")
			}
			if err := a.Escalate("retries_exhausted", at(3*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := tc.close(a); err != nil {
				t.Fatal(err)
			}
			n := len(a.Changes())
			when := at(closedAt + tc.after)
			mustFail(t, a, failure(report(ref, "a3", 502, "", "Bad Gateway", when)), when.Add(time.Second), tc.want)
			s := a.Snapshot()
			if s.GetStatus() != tc.status || s.GetIncarnation() != tc.incarn {
				t.Fatalf("status %v incarnation %d, want %v %d", s.GetStatus(), s.GetIncarnation(), tc.status, tc.incarn)
			}
			switch tc.want {
			case alert.Ignored:
				if len(a.Changes()) != n {
					t.Fatalf("an old failure raised %v", since(a, n))
				}
			case alert.Reopened:
				ev := a.Changes()[n].(*alertsv1.AlertReopened)
				if s.GetReopenCount() != 1 || s.GetOccurrences() != 3 || !s.GetOpenedAt().AsTime().Equal(when) ||
					!s.GetFirstSeenAt().AsTime().Equal(at(0)) || s.GetNeedsAttention() || s.GetEscalated() ||
					s.GetLastFailure().GetAttemptId() != "a3" || s.GetAlertType() != "wms_unavailable" {
					t.Fatalf("reopened state: %v", s)
				}
				if !ev.GetClosedAt().AsTime().Equal(at(closedAt)) || ev.GetPreviousStatus() == alertsv1.AlertStatus_ALERT_STATUS_OPEN {
					t.Fatalf("AlertReopened: %v", ev)
				}
				// The grace period runs again from the reopening.
				if d, ok := a.GraceDeadline(); !ok || !d.Equal(when.Add(a.Config().GracePeriod)) {
					t.Fatalf("grace deadline %v %v, want %v", d, ok, when.Add(time.Hour))
				}
			case alert.Raised:
				if s.GetOccurrences() != 1 || s.GetReopenCount() != 0 || !s.GetFirstSeenAt().AsTime().Equal(when) ||
					s.GetNeedsAttention() || s.GetEscalated() || s.GetResolvedAt() != nil || s.GetDismissedAt() != nil || s.GetAlertId() != a.ID() {
					t.Fatalf("new incarnation carries old state: %v", s)
				}
			}
			replayed(t, a)
		})
	}
}

func TestRecordFailure_oldFailureAfterReopenIsIgnored(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	a := newAlert(t, unavailable(ref, "a1", at(0)), alert.Config{})
	mustFail(t, a, failure(unavailable(ref, "a1", at(0))), at(0), alert.Raised)
	if err := a.Resolve(succeeded(at(time.Hour)), at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustFail(t, a, failure(unavailable(ref, "a2", at(2*time.Hour))), at(2*time.Hour), alert.Reopened)
	// A failure from before the resolution arrives late: the alert is open again, but it is
	// still older than the resolution.
	mustFail(t, a, failure(unavailable(ref, "a0", at(30*time.Minute))), at(3*time.Hour), alert.Ignored)
	if s := a.Snapshot(); s.GetOccurrences() != 2 {
		t.Fatalf("occurrences %d, want 2", s.GetOccurrences())
	}
}

func TestRecordFailure_reopenedManualAlertAsksAgain(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	a := newAlert(t, shipMethod(ref, "a1", at(0)), alert.Config{})
	mustFail(t, a, failure(shipMethod(ref, "a1", at(0))), at(0), alert.Raised)
	if err := a.Resolve(succeeded(at(time.Hour)), at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	n := len(a.Changes())
	mustFail(t, a, failure(shipMethod(ref, "a2", at(day))), at(day), alert.Reopened)
	if ev := since(a, n); !slices.Equal(ev, []string{"AlertReopened", "AlertNeedsAttention"}) {
		t.Fatalf("events %v, want the regression to need attention again", ev)
	}
	replayed(t, a)
}

func TestEscalate(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	t.Run("transient alert escalates and needs attention", func(t *testing.T) {
		t.Parallel()
		a := newAlert(t, unavailable(ref, "a1", at(0)), alert.Config{})
		mustFail(t, a, failure(unavailable(ref, "a1", at(0))), at(0), alert.Raised)
		if err := a.Escalate("retries_exhausted: 15 days of trying", at(15*day)); err != nil {
			t.Fatal(err)
		}
		if ev := since(a, 1); !slices.Equal(ev, []string{"AlertEscalated", "AlertNeedsAttention"}) {
			t.Fatalf("events %v", ev)
		}
		s := a.Snapshot()
		if !s.GetEscalated() || s.GetEscalationReason() != "retries_exhausted: 15 days of trying" || !s.GetEscalatedAt().AsTime().Equal(at(15*day)) ||
			s.GetNeedsAttentionReason() != alertsv1.AttentionReason_ATTENTION_REASON_RETRIES_EXHAUSTED {
			t.Fatalf("state: %v", s)
		}
		if err := a.Escalate("retries_exhausted", at(16*day)); err != nil || len(a.Changes()) != 3 {
			t.Fatalf("escalating twice: %v, %d events", err, len(a.Changes()))
		}
		if _, ok := a.GraceDeadline(); ok {
			t.Fatal("an alert that needs attention still has a grace deadline")
		}
		replayed(t, a)
	})
	t.Run("an alert that needs attention only escalates", func(t *testing.T) {
		t.Parallel()
		a := newAlert(t, shipMethod(ref, "a1", at(0)), alert.Config{})
		mustFail(t, a, failure(shipMethod(ref, "a1", at(0))), at(0), alert.Raised)
		if err := a.Escalate("retries_exhausted", at(day)); err != nil {
			t.Fatal(err)
		}
		if ev := eventTypes(a); !slices.Equal(ev, []string{"AlertRaised", "AlertNeedsAttention", "AlertEscalated"}) {
			t.Fatalf("events %v", ev)
		}
		if r := a.Snapshot().GetNeedsAttentionReason(); r != alertsv1.AttentionReason_ATTENTION_REASON_MANUAL_ACTION {
			t.Fatalf("reason %v, want the first reason kept", r)
		}
	})
	t.Run("closed or never raised", func(t *testing.T) {
		t.Parallel()
		a := newAlert(t, unavailable(ref, "a1", at(0)), alert.Config{})
		wantWrongState(t, a.Escalate("retries_exhausted", at(0)), "escalate")
		mustFail(t, a, failure(unavailable(ref, "a1", at(0))), at(0), alert.Raised)
		if err := a.Dismiss("ops@example.com", "", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		wantWrongState(t, a.Escalate("retries_exhausted", at(2*time.Hour)), "escalate")
	})
	t.Run("no reason", func(t *testing.T) {
		t.Parallel()
		a := newAlert(t, unavailable(ref, "a1", at(0)), alert.Config{})
		mustFail(t, a, failure(unavailable(ref, "a1", at(0))), at(0), alert.Raised)
		wantField(t, a.Escalate("", at(0)), "reason")
	})
}

func TestCheckGrace(t *testing.T) {
	t.Parallel()
	ref := order("1001")
	cases := []struct {
		name     string
		cfg      alert.Config
		deadline time.Duration
	}{
		{"default hour", alert.Config{}, time.Hour},
		{"configured 15 minutes", alert.Config{GracePeriod: 15 * time.Minute}, 15 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAlert(t, unavailable(ref, "a1", at(0)), tc.cfg)
			if _, ok := a.GraceDeadline(); ok {
				t.Fatal("an alert never raised has a grace deadline")
			}
			mustFail(t, a, failure(unavailable(ref, "a1", at(0))), at(time.Second), alert.Raised)
			mustFail(t, a, failure(unavailable(ref, "a2", at(tc.deadline/2))), at(tc.deadline/2), alert.Occurred)
			d, ok := a.GraceDeadline()
			if !ok || !d.Equal(at(tc.deadline)) {
				t.Fatalf("GraceDeadline = %v, %v; want %v from the first failure", d, ok, at(tc.deadline))
			}
			if a.CheckGrace(d.Add(-time.Nanosecond)) {
				t.Fatal("CheckGrace before the deadline raised")
			}
			if !a.CheckGrace(d) {
				t.Fatal("CheckGrace at the deadline did not raise")
			}
			if a.CheckGrace(d.Add(time.Hour)) {
				t.Fatal("CheckGrace raised twice")
			}
			s := a.Snapshot()
			if s.GetNeedsAttentionReason() != alertsv1.AttentionReason_ATTENTION_REASON_GRACE_PERIOD_EXCEEDED || !s.GetNeedsAttentionAt().AsTime().Equal(d) {
				t.Fatalf("state: %v", s)
			}
			if ev := eventTypes(a); !slices.Equal(ev, []string{"AlertRaised", "AlertOccurred", "AlertNeedsAttention"}) {
				t.Fatalf("events %v", ev)
			}
			replayed(t, a)
		})
	}
	t.Run("closed alerts need no timer", func(t *testing.T) {
		t.Parallel()
		a := newAlert(t, unavailable(ref, "a1", at(0)), alert.Config{})
		mustFail(t, a, failure(unavailable(ref, "a1", at(0))), at(0), alert.Raised)
		if err := a.Resolve(succeeded(at(time.Minute)), at(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, ok := a.GraceDeadline(); ok || a.CheckGrace(at(day)) {
			t.Fatal("a resolved alert still runs its grace period")
		}
	})
}

func TestConfig_validate(t *testing.T) {
	t.Parallel()
	if err := (alert.Config{GracePeriod: -time.Second, RegressionWindow: -time.Second}).Validate(); err == nil ||
		!containsAll(err.Error(), "grace period", "regression window") {
		t.Fatalf("Validate = %v, want both problems", err)
	}
	if _, err := alert.New(events.StreamID{AggregateType: "outage", Account: "a", ID: "b"}, alert.Config{}); err == nil {
		t.Fatal("New accepted a stream of another aggregate type")
	}
	if c := alert.DefaultConfig(); c.GracePeriod != time.Hour || c.RegressionWindow != 7*day {
		t.Fatalf("defaults %+v", c)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
