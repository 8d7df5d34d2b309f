package app_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/services/retry/app"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// These tests walk the use cases with a fake clock, an in-memory store and fake timers and index:
// what the durable timer and the index of a schedule become after each command.

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 250_000_000, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// fakeTimers records the pending timer of each schedule.
type fakeTimers struct {
	mu      sync.Mutex
	pending map[events.StreamID]time.Time
	arms    int
	fail    error
}

func (f *fakeTimers) Arm(_ context.Context, s events.StreamID, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.pending[s] = at
	f.arms++
	return nil
}

func (f *fakeTimers) Disarm(_ context.Context, s events.StreamID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pending, s)
	return nil
}

func (f *fakeTimers) at(s events.StreamID) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.pending[s]
	return t, ok
}

// fakeIndex is the index, the sync intervals and the outages in maps.
type fakeIndex struct {
	mu        sync.Mutex
	waiting   map[string]bool
	paused    map[string]time.Time
	intervals map[app.Connection]time.Duration
	down      map[app.Connection]bool
	drains    map[app.Connection]app.DrainJob
}

func newFakeIndex() *fakeIndex {
	return &fakeIndex{waiting: map[string]bool{}, paused: map[string]time.Time{}, intervals: map[app.Connection]time.Duration{},
		down: map[app.Connection]bool{}, drains: map[app.Connection]app.DrainJob{}}
}

func (x *fakeIndex) SetWaiting(_ context.Context, conn app.Connection, _ connectorv1.RecordKind, id string, waiting bool) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if waiting {
		x.waiting[conn.Account+"/"+conn.ID+"/"+id] = true
	} else {
		delete(x.waiting, conn.Account+"/"+conn.ID+"/"+id)
	}
	return nil
}

func (x *fakeIndex) Waiting(_ context.Context, conn app.Connection, _ []connectorv1.RecordKind, fn func(string) error) error {
	x.mu.Lock()
	var ids []string
	prefix := conn.Account + "/" + conn.ID + "/"
	for k := range x.waiting {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			ids = append(ids, k[len(prefix):])
		}
	}
	x.mu.Unlock()
	for _, id := range ids {
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

func (x *fakeIndex) SetPaused(_ context.Context, conn app.Connection, id string, since time.Time) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if since.IsZero() {
		delete(x.paused, conn.Account+"/"+conn.ID+"/"+id)
	} else {
		x.paused[conn.Account+"/"+conn.ID+"/"+id] = since
	}
	return nil
}

func (x *fakeIndex) Paused(_ context.Context, conn app.Connection, fn func(string, time.Time) error) error {
	x.mu.Lock()
	type entry struct {
		id    string
		since time.Time
	}
	var list []entry
	prefix := conn.Account + "/" + conn.ID + "/"
	for k, v := range x.paused {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			list = append(list, entry{k[len(prefix):], v})
		}
	}
	x.mu.Unlock()
	for _, e := range list {
		if err := fn(e.id, e.since); err != nil {
			return err
		}
	}
	return nil
}

func (x *fakeIndex) SyncInterval(_ context.Context, conn app.Connection) (time.Duration, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.intervals[conn], nil
}

func (x *fakeIndex) SetSyncInterval(_ context.Context, conn app.Connection, d time.Duration) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.intervals[conn] = d
	return nil
}

func (x *fakeIndex) SetDown(_ context.Context, conn app.Connection, outage uint32, _ time.Time) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.down[conn] = outage > 0
	return nil
}

func (x *fakeIndex) IsDown(_ context.Context, conn app.Connection) (bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.down[conn], nil
}

func (x *fakeIndex) PutDrain(_ context.Context, job app.DrainJob) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.drains[job.Conn] = job
	return nil
}

func (x *fakeIndex) CancelDrain(_ context.Context, conn app.Connection) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.drains, conn)
	return nil
}

func (x *fakeIndex) FinishDrain(_ context.Context, job app.DrainJob) error {
	return x.CancelDrain(context.Background(), job.Conn)
}

type noLimit struct{}

func (noLimit) Wait(context.Context) error { return nil }

type fixture struct {
	clock  *clock
	store  events.Store
	timers *fakeTimers
	index  *fakeIndex
	app    app.Application
}

// eachFixture runs test on two repositories: one that keeps the schedules in memory, and one that
// keeps a single schedule, saves the others as snapshots when they leave and restores them.
func eachFixture(t *testing.T, test func(t *testing.T, f *fixture)) {
	for name, cfg := range map[string]aggregate.Config{
		"cached":    {CacheSize: 16},
		"snapshots": {CacheSize: 1, Snapshots: aggregate.NewMemorySnapshots()},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, newFixture(t, cfg))
		})
	}
}

func newFixture(t *testing.T, cfg aggregate.Config) *fixture {
	t.Helper()
	store := memstore.New(events.NewRegistry(domain.Events()...))
	repo, err := aggregate.NewRepository(store, domain.New, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{clock: &clock{now: t0}, store: store, timers: &fakeTimers{pending: map[events.StreamID]time.Time{}}, index: newFakeIndex()}
	schedules, err := app.NewSchedules(repo, f.timers, f.index)
	if err != nil {
		t.Fatal(err)
	}
	policies, err := domain.NewPolicies(domain.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := &f.app.Commands
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	c.RecordFailure, err = app.NewRecordFailureHandler(schedules, classify.Default(), policies, f.index, f.index, f.clock)
	must(err)
	c.RecordSuccess, err = app.NewRecordSuccessHandler(schedules, f.clock)
	must(err)
	c.RecordUpdate, err = app.NewRecordUpdateHandler(schedules, f.clock)
	must(err)
	c.StartSyncCycle, err = app.NewStartSyncCycleHandler(schedules, f.index, f.index, f.index, f.clock, 4)
	must(err)
	c.PauseForOutage, err = app.NewPauseForOutageHandler(schedules, f.index, f.clock, 4)
	must(err)
	c.ResumeAfterOutage, err = app.NewResumeAfterOutageHandler(f.index, f.index, f.clock)
	must(err)
	c.DrainConnection, err = app.NewDrainConnectionHandler(schedules, f.index, f.index, f.clock)
	must(err)
	c.FireTimer, err = app.NewFireTimerHandler(schedules, f.clock)
	must(err)
	return f
}

func orderRef(id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: "merchant-1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id,
	}
}

func (f *fixture) fail(t *testing.T, ref *connectorv1.RecordRef, attempt string) events.Envelope {
	t.Helper()
	now := f.clock.Now()
	m := &connectorv1.RecordFailed{Record: ref, AttemptId: attempt, Message: "Service Unavailable", HttpStatus: 503,
		AttemptedAt: timestamppb.New(now), FailedAt: timestamppb.New(now)}
	env := events.NewEvent(m, events.Metadata{}).Envelope
	if err := f.app.Commands.RecordFailure.Handle(t.Context(), app.RecordFailure{Env: env, Failure: m}); err != nil {
		t.Fatal(err)
	}
	return env
}

func (f *fixture) load(t *testing.T, ref *connectorv1.RecordRef) (*retryv1.RetrySchedule, []events.Record) {
	t.Helper()
	l, err := f.store.Load(t.Context(), domain.StreamOf(ref), 0)
	if err != nil {
		t.Fatal(err)
	}
	s := domain.New(domain.StreamOf(ref))
	for _, r := range l.Events {
		if err := s.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	return s.Snapshot(), l.Events
}

func TestSchedules_timerFollowsTheSchedule(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f *fixture) {
		ref := orderRef("o1")
		stream := domain.StreamOf(ref)

		f.fail(t, ref, "a0")
		s, _ := f.load(t, ref)
		due, ok := f.timers.at(stream)
		if !ok || !due.Equal(s.GetNextAttemptAt().AsTime()) {
			t.Fatalf("timer %s (%v); want it at the next attempt %s", due, ok, s.GetNextAttemptAt().AsTime())
		}

		// The timer goes off: attempt 1 is due and the timer is armed again for the follow-up.
		f.clock.Set(due.Add(3 * time.Millisecond))
		if err := f.app.Commands.FireTimer.Handle(t.Context(), app.FireTimer{Schedule: stream, DueAt: due}); err != nil {
			t.Fatal(err)
		}
		s, history := f.load(t, ref)
		followUp, ok := f.timers.at(stream)
		if s.GetLastAttempt().GetAttempt() != 1 || !ok || !followUp.Equal(s.GetNextAttemptAt().AsTime()) || !followUp.After(due) {
			t.Fatalf("after the timer: attempt %d, timer %s (%v), next %s", s.GetLastAttempt().GetAttempt(), followUp, ok, s.GetNextAttemptAt().AsTime())
		}
		// The same firing delivered again changes nothing and keeps the follow-up armed.
		if err := f.app.Commands.FireTimer.Handle(t.Context(), app.FireTimer{Schedule: stream, DueAt: due}); err != nil {
			t.Fatal(err)
		}
		if _, again := f.load(t, ref); len(again) != len(history) {
			t.Fatalf("a repeated firing stored %d more events", len(again)-len(history))
		}
		if at, ok := f.timers.at(stream); !ok || !at.Equal(followUp) {
			t.Fatalf("timer %s (%v) after a repeated firing; want %s", at, ok, followUp)
		}

		// Success: completed, the timer is gone.
		f.clock.Set(f.clock.Now().Add(time.Second))
		now := f.clock.Now()
		m := &connectorv1.RecordSucceeded{Record: ref, AttemptId: s.GetLastAttempt().GetAttemptId(), SucceededAt: timestamppb.New(now)}
		if err := f.app.Commands.RecordSuccess.Handle(t.Context(), app.RecordSuccess{Env: events.NewEvent(m, events.Metadata{}).Envelope, Success: m}); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.timers.at(stream); ok {
			t.Fatal("the timer of a completed schedule is still armed")
		}
		// A stale timer of the completed schedule changes nothing and arms nothing.
		if err := f.app.Commands.FireTimer.Handle(t.Context(), app.FireTimer{Schedule: stream, DueAt: followUp}); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.timers.at(stream); ok {
			t.Fatal("a stale timer re-armed a completed schedule")
		}
	})
}

func TestSchedules_redeliveryRepairsTheTimer(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f *fixture) {
		ref := orderRef("o2")
		stream := domain.StreamOf(ref)
		now := f.clock.Now()
		m := &connectorv1.RecordFailed{Record: ref, AttemptId: "a0", Message: "timeout", Code: "timeout",
			AttemptedAt: timestamppb.New(now), FailedAt: timestamppb.New(now)}
		cmd := app.RecordFailure{Env: events.NewEvent(m, events.Metadata{}).Envelope, Failure: m}

		// The events are stored but arming the timer fails (a crash would do the same).
		f.timers.fail = errors.New("timers unavailable")
		if err := f.app.Commands.RecordFailure.Handle(t.Context(), cmd); err == nil {
			t.Fatal("the failure was handled though its timer could not be armed")
		}
		if _, ok := f.timers.at(stream); ok {
			t.Fatal("a timer is armed")
		}
		// The bus delivers the failure again: it is not applied twice, and the timer is armed.
		f.timers.fail = nil
		if err := f.app.Commands.RecordFailure.Handle(t.Context(), cmd); err != nil {
			t.Fatal(err)
		}
		s, history := f.load(t, ref)
		if len(history) != 1 {
			t.Fatalf("%d events after the redelivery; want 1", len(history))
		}
		if at, ok := f.timers.at(stream); !ok || !at.Equal(s.GetNextAttemptAt().AsTime()) {
			t.Fatalf("timer %s (%v) after the redelivery; want %s", at, ok, s.GetNextAttemptAt().AsTime())
		}
	})
}

func TestOutage_pauseResumeAndDrain(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f *fixture) {
		refs := []*connectorv1.RecordRef{orderRef("p1"), orderRef("p2"), orderRef("p3")}
		for _, r := range refs[:2] {
			f.fail(t, r, "a0")
		}
		conn := app.Connection{Account: "merchant-1", ID: "wms-1"}
		pause := app.PauseForOutage{
			Env:        events.Envelope{EventID: events.NewEventID()},
			Connection: connectionRef(), Outage: outageRef(), Down: true,
			Records: covered(refs[0]),
		}
		if err := f.app.Commands.PauseForOutage.Handle(t.Context(), pause); err != nil {
			t.Fatal(err)
		}
		// The first is covered and paused: no timer. The second is not covered: it keeps its timer.
		if _, ok := f.timers.at(domain.StreamOf(refs[0])); ok {
			t.Fatal("a paused schedule has a timer")
		}
		if _, ok := f.timers.at(domain.StreamOf(refs[1])); !ok {
			t.Fatal("a schedule the outage does not cover lost its timer")
		}
		// The third fails while the connection is down: paused at once.
		f.fail(t, refs[2], "a0")
		if s, _ := f.load(t, refs[2]); s.GetStatus() != retryv1.RetryStatus_RETRY_STATUS_PAUSED {
			t.Fatalf("a failure during the outage left the schedule %s", s.GetStatus())
		}
		if len(f.index.paused) != 2 {
			t.Fatalf("paused index %v; want the two paused schedules", f.index.paused)
		}

		f.clock.Set(t0.Add(2 * time.Hour))
		recovered := app.ResumeAfterOutage{Env: events.Envelope{EventID: events.NewEventID()}, Recovered: recoveredOf(refs[0])}
		if err := f.app.Commands.ResumeAfterOutage.Handle(t.Context(), recovered); err != nil {
			t.Fatal(err)
		}
		job, ok := f.index.drains[conn]
		if !ok || f.index.down[conn] {
			t.Fatalf("drain job %v (%v), down %v", job, ok, f.index.down[conn])
		}
		if err := f.app.Commands.DrainConnection.Handle(t.Context(), job, noLimit{}); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*connectorv1.RecordRef{refs[0], refs[2]} {
			s, _ := f.load(t, r)
			at, ok := f.timers.at(domain.StreamOf(r))
			if s.GetStatus() != retryv1.RetryStatus_RETRY_STATUS_SCHEDULED || !ok || at.After(f.clock.Now().Add(time.Second)) {
				t.Fatalf("%s after the drain: %s, timer %s (%v); want scheduled at once", r.GetRecordId(), s.GetStatus(), at, ok)
			}
		}
		if len(f.index.paused) != 0 || len(f.index.drains) != 0 {
			t.Fatalf("after the drain: paused %v, drains %v", f.index.paused, f.index.drains)
		}
	})
}

func connectionRef() *alertsv1.ConnectionRef {
	return &alertsv1.ConnectionRef{AccountId: "merchant-1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms"}
}

func outageRef() *alertsv1.OutageRef {
	return &alertsv1.OutageRef{ConnectionId: "wms-1", Number: 1, DownAt: timestamppb.New(t0)}
}

func covered(refs ...*connectorv1.RecordRef) []*alertsv1.FailingRecord {
	var out []*alertsv1.FailingRecord
	for _, r := range refs {
		out = append(out, &alertsv1.FailingRecord{Record: r, RecordKey: connector.RecordKeyOf(r), FailedAt: timestamppb.New(t0)})
	}
	return out
}

func recoveredOf(refs ...*connectorv1.RecordRef) *alertsv1.ConnectionRecovered {
	return &alertsv1.ConnectionRecovered{Connection: connectionRef(), Outage: outageRef(), RecoveredAt: timestamppb.New(t0.Add(time.Hour)),
		RecoveredBy: refs[0], AttemptId: "x", CoveredRecords: covered(refs...), CoveredTotal: uint32(len(refs)) + 1, CoveredTruncated: true}
}
