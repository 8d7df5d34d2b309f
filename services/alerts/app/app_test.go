package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/services/alerts/app"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/index"
	"github.com/reboundhq/rebound/services/alerts/domain/outage"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// timers records the last due time armed per alert.
type timers struct {
	mu  sync.Mutex
	due map[events.StreamID]time.Time
}

func (t *timers) Schedule(_ context.Context, s events.StreamID, at time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.due[s] = at
	return nil
}

func (t *timers) of(s events.StreamID) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.due[s]
}

type world struct {
	app    *app.Application
	clock  *clock
	timers *timers
	store  *memstore.Store
}

// eachWorld runs test in two worlds: one whose repositories keep the aggregates in memory, and
// one whose repositories keep a single aggregate each, save the others as snapshots when they
// leave and restore them.
func eachWorld(t *testing.T, cfg alert.Config, test func(t *testing.T, w *world)) {
	for name, repo := range map[string]aggregate.Config{
		"cached":    {CacheSize: 100},
		"snapshots": {CacheSize: 1, Snapshots: aggregate.NewMemorySnapshots()},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, newWorld(t, cfg, repo))
		})
	}
}

func newWorld(t *testing.T, cfg alert.Config, repo aggregate.Config) *world {
	t.Helper()
	reg := events.NewRegistry(append(append(alert.EventTypes(), outage.EventTypes()...), index.EventTypes()...)...)
	reg.Register(&connectorv1.RecordUpdated{})
	s := memstore.New(reg)
	af, err := alert.NewFactory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	of, _ := outage.NewFactory(outage.Config{})
	alerts, _ := aggregate.NewRepository(s, af, repo)
	detectors, _ := aggregate.NewRepository(s, of, repo)
	indexes, _ := aggregate.NewRepository(s, index.New, repo)
	in, _ := ingest.New(s)
	w := &world{clock: &clock{now: t0}, timers: &timers{due: map[events.StreamID]time.Time{}}, store: s}
	w.app, err = app.New(app.Deps{Alerts: alerts, Detectors: detectors, Indexes: indexes, Classifier: classify.Default(),
		Timers: w.timers, Reports: in, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func order(id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{AccountId: "m1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, ConnectionId: "wms-1",
		SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms", RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id}
}

func (w *world) fail(t *testing.T, ref *connectorv1.RecordRef, attempt string, at time.Time) {
	t.Helper()
	err := w.app.Commands.RecordFailure.Handle(context.Background(), app.RecordFailure{
		Envelope: events.Envelope{EventID: events.NewEventID()},
		Report:   &connectorv1.RecordFailed{Record: ref, AttemptId: attempt, HttpStatus: 503, FailedAt: timestamppb.New(at)},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) state(t *testing.T, ref *connectorv1.RecordRef) *alertsv1.Alert {
	t.Helper()
	v, err := w.app.Queries.GetAlert.Handle(context.Background(), app.GetAlert{Account: ref.GetAccountId(),
		AlertID: alert.IDOf(ref, "wms_unavailable"), Authorize: func(string, string, bool) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return v.Alert
}

// The outage handler meets a covered record whose alert the records handler has not stored yet:
// it retries (a retryable error) while the outage is recent, and gives up on it after.
func TestConnectionDown_waitsForAnAlertOnItsWay(t *testing.T) {
	t.Parallel()
	eachWorld(t, alert.Config{}, func(t *testing.T, w *world) {
		ref := order("1")
		down := &alertsv1.ConnectionDown{
			Connection: &alertsv1.ConnectionRef{AccountId: "m1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, ConnectionId: "wms-1",
				SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms"},
			Outage:         &alertsv1.OutageRef{ConnectionId: "wms-1", Number: 1, DownAt: timestamppb.New(t0), ConnectionAlertId: alert.ConnectionAlertID("m1", "wms-1")},
			ErrorClass:     connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT,
			CoveredRecords: []*alertsv1.FailingRecord{{Record: ref, AlertId: alert.IDOf(ref, "wms_unavailable"), AlertType: "wms_unavailable"}},
			Threshold:      20, Window: durationpb.New(5 * time.Minute), DetectedAt: timestamppb.New(t0),
		}
		cmd := app.ConnectionDown{Envelope: events.Envelope{EventID: events.NewEventID()}, Event: down}
		err := w.app.Commands.ApplyConnectionDown.Handle(context.Background(), cmd)
		if err == nil || bus.IsPermanent(err) {
			t.Fatalf("err = %v, want a retryable error while the alert is on its way", err)
		}
		w.fail(t, ref, "a1", t0)
		if err := w.app.Commands.ApplyConnectionDown.Handle(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
		if s := w.state(t, ref); !s.GetCoveredByOutage() {
			t.Fatalf("alert %v, want covered", s)
		}

		// Long after the outage, a record without an alert is skipped.
		other := order("2")
		down.CoveredRecords = []*alertsv1.FailingRecord{{Record: other, AlertId: alert.IDOf(other, "wms_unavailable"), AlertType: "wms_unavailable"}}
		w.clock.set(t0.Add(time.Hour))
		if err := w.app.Commands.ApplyConnectionDown.Handle(context.Background(), app.ConnectionDown{Envelope: events.Envelope{EventID: events.NewEventID()}, Event: down}); err != nil {
			t.Fatalf("err = %v, want the missing alert skipped", err)
		}
	})
}

// A grace timer that fires before a deadline that moved later arms the timer again; one that
// fires at the deadline makes the alert need attention, once.
func TestCheckGrace_rearmsAMovedDeadlineAndFiresOnce(t *testing.T) {
	t.Parallel()
	eachWorld(t, alert.Config{GracePeriod: time.Hour}, func(t *testing.T, w *world) {
		ref := order("1")
		stream := alert.Stream("m1", alert.IDOf(ref, "wms_unavailable"))
		w.fail(t, ref, "a1", t0)
		if got := w.timers.of(stream); !got.Equal(t0.Add(time.Hour)) {
			t.Fatalf("timer armed at %v, want %v", got, t0.Add(time.Hour))
		}
		// An early firing (its deadline said so once, say) re-arms at the real deadline.
		w.timers.due[stream] = time.Time{}
		w.clock.set(t0.Add(30 * time.Minute))
		if err := w.app.Commands.CheckGrace.Handle(context.Background(), app.CheckGrace{Stream: stream, DueAt: t0.Add(30 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if got := w.timers.of(stream); !got.Equal(t0.Add(time.Hour)) || w.state(t, ref).GetNeedsAttention() {
			t.Fatalf("early firing: timer %v, state %v; want re-armed at the deadline, no attention", got, w.state(t, ref))
		}
		w.clock.set(t0.Add(time.Hour + time.Second))
		for range 2 { // the same firing delivered twice
			if err := w.app.Commands.CheckGrace.Handle(context.Background(), app.CheckGrace{Stream: stream, DueAt: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		s := w.state(t, ref)
		if !s.GetNeedsAttention() || s.GetNeedsAttentionReason() != alertsv1.AttentionReason_ATTENTION_REASON_GRACE_PERIOD_EXCEEDED {
			t.Fatalf("alert %v, want it to need attention for the grace period", s)
		}
		l, _ := w.store.Load(context.Background(), stream, 0)
		n := 0
		for _, r := range l.Events {
			if _, ok := r.Message.(*alertsv1.AlertNeedsAttention); ok {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d AlertNeedsAttention, want 1", n)
		}
	})
}

// A failure reported after its grace period already ran out needs attention at once.
func TestRecordFailure_lateReportNeedsAttentionAtOnce(t *testing.T) {
	t.Parallel()
	eachWorld(t, alert.Config{GracePeriod: time.Hour}, func(t *testing.T, w *world) {
		ref := order("1")
		w.clock.set(t0.Add(2 * time.Hour))
		w.fail(t, ref, "a1", t0)
		if s := w.state(t, ref); !s.GetNeedsAttention() {
			t.Fatalf("alert %v, want it to need attention", s)
		}
	})
}
