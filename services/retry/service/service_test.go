package service_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/services/retry/app"
	"github.com/reboundhq/rebound/services/retry/domain"
	"github.com/reboundhq/rebound/services/retry/outbound"
)

func isNotFound(err error) bool { return errors.Is(err, events.ErrNotFound) }

// TestService runs the scenarios against one service on one server, in parallel, each with an
// account of its own.
func TestService(t *testing.T) {
	srv := natstest.Start(t, "")
	e := start(t, srv.ClientURL(), testConfig(t))
	t.Cleanup(func() { t.Logf("RetryDue lateness after the due time: %s", lateness) })

	t.Run("failure_due_once_repeat_success", func(t *testing.T) { t.Parallel(); testFailureRepeatSuccess(t, e) })
	t.Run("manual_action_held_until_edited", func(t *testing.T) { t.Parallel(); testManualAction(t, e) })
	t.Run("exhaustion_then_resend", func(t *testing.T) { t.Parallel(); testExhaustion(t, e) })
	t.Run("retry_after_respected", func(t *testing.T) { t.Parallel(); testRetryAfter(t, e) })
	t.Run("sync_cycle", func(t *testing.T) { t.Parallel(); testSyncCycle(t, e) })
	t.Run("sync_interval_scales_the_window", func(t *testing.T) { t.Parallel(); testSyncInterval(t, e) })
	t.Run("outage_pause_and_bounded_drain", func(t *testing.T) { t.Parallel(); testOutage(t, e) })
	t.Run("redelivered_input_applied_once", func(t *testing.T) { t.Parallel(); testRedelivery(t, e) })
	t.Run("malformed_events_poisoned", func(t *testing.T) { t.Parallel(); testPoison(t, e) })
	t.Run("grpc", func(t *testing.T) { t.Parallel(); testGRPC(t, e) })
}

func testFailureRepeatSuccess(t *testing.T, e *env) {
	acct := unique("m")
	w := watchDue(t, e.js, acct)
	ref := orderRef(acct, "o1")
	key := connector.RecordKeyOf(ref)

	e.fail(t, failure(ref, "first"))
	s := e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)
	next := s.GetNextAttemptAt().AsTime()
	if d := time.Until(next); d <= 0 || d > 2*time.Second+time.Second {
		t.Fatalf("next attempt at %s, %s from now; want about 2s", next, d)
	}

	a1 := domain.AttemptID(key, 1, 1)
	d1 := w.waitAttempt(t, a1, 10*time.Second)
	checkOnTime(t, w, d1, next)
	if d1.subject != "retry.due.wms.order" || d1.msgID != a1 || d1.due.GetTrigger() != retryv1.AttemptTrigger_ATTEMPT_TRIGGER_TIMER ||
		d1.due.GetRecord().GetRecordId() != "o1" || d1.due.GetAttempt() != 1 || d1.due.GetWindow() != 1 {
		t.Fatalf("RetryDue %+v on %s (msg id %s)", d1.due, d1.subject, d1.msgID)
	}

	// The owner attempts it and fails again: the schedule moves on to attempt 2.
	e.fail(t, failure(ref, a1))
	eventually(t, 10*time.Second, "the repeat failure to reschedule", func() bool {
		s, _ = e.schedule(t, ref)
		return s.GetLastFailure().GetAttemptId() == a1 && s.GetStatus() == retryv1.RetryStatus_RETRY_STATUS_SCHEDULED
	})
	next2 := s.GetNextAttemptAt().AsTime()
	if !next2.After(next) || s.GetWindow().GetConsecutiveFailures() != 2 {
		t.Fatalf("after the repeat failure: next %s (was %s), %d failures", next2, next, s.GetWindow().GetConsecutiveFailures())
	}
	a2 := domain.AttemptID(key, 1, 2)
	d2 := w.waitAttempt(t, a2, 10*time.Second)
	checkOnTime(t, w, d2, next2)

	// It goes through: completed, the timer is gone and no command follows.
	e.succeed(t, ref, a2)
	e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_COMPLETED)
	_, history := e.schedule(t, ref)
	var followUp time.Time
	for _, r := range history {
		if due, ok := r.Message.(*retryv1.RetryAttemptDue); ok {
			followUp = due.GetNextAttemptAt().AsTime()
		}
	}
	eventually(t, 5*time.Second, "the timer to be disarmed", func() bool { return e.pendingTimers(t, domain.StreamOf(ref)) == 0 })
	waitPast(t, followUp.Add(maxLate))
	if got := w.ids(); len(got) != 2 || got[0] != a1 || got[1] != a2 {
		t.Fatalf("RetryDue commands %v; want exactly %s and %s", got, a1, a2)
	}
	want := []string{"RetryScheduled", "RetryAttemptDue", "RetryScheduled", "RetryAttemptDue", "RetryCompleted"}
	if got := typesOf(history); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("history %v; want %v", got, want)
	}
}

func testManualAction(t *testing.T, e *env) {
	acct := unique("m")
	w := watchDue(t, e.js, acct)
	ref := orderRef(acct, "o-manual")
	key := connector.RecordKeyOf(ref)

	f := failure(ref, "first")
	f.HttpStatus, f.Message = 422, "Invalid address: postal code could not be validated"
	e.fail(t, f)
	s := e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_HELD)
	if s.GetLastFailure().GetClass() != connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION {
		t.Fatalf("held for a %s failure", s.GetLastFailure().GetClass())
	}
	// Held: no timer, and no command however long it waits (past the 2 s cadence).
	waitPast(t, f.GetFailedAt().AsTime().Add(2*time.Second+maxLate))
	if n := len(w.of(ref)); n != 0 || e.pendingTimers(t, domain.StreamOf(ref)) != 0 {
		t.Fatalf("a held record got %d commands (%d timers)", n, e.pendingTimers(t, domain.StreamOf(ref)))
	}

	// An edit releases it: a fresh window and an attempt at once.
	edited := time.Now()
	e.update(t, ref, connectorv1.RecordChange_RECORD_CHANGE_EDITED)
	d := w.waitAttempt(t, domain.AttemptID(key, 2, 1), 10*time.Second)
	checkOnTime(t, w, d, edited)
	if d.due.GetTrigger() != retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RECORD_EDITED || d.due.GetWindow() != 2 {
		t.Fatalf("RetryDue after the edit: %+v", d.due)
	}
	s = e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED) // the follow-up of the attempt
	if s.GetWindow().GetNumber() != 2 {
		t.Fatalf("window %d after the edit; want 2", s.GetWindow().GetNumber())
	}
}

func testExhaustion(t *testing.T, e *env) {
	acct := unique("m")
	w := watchDue(t, e.js, acct)
	ref := orderRef(acct, "o-short")
	ref.ConnectionId = "wms-short" // max age 3 s
	key := connector.RecordKeyOf(ref)

	e.fail(t, failure(ref, "first"))
	s := e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)
	deadline := s.GetWindow().GetDeadline().AsTime()
	if d := deadline.Sub(s.GetWindow().GetStartedAt().AsTime()); d < 3*time.Second || d > 4*time.Second {
		t.Fatalf("window of %s; want the connection's 3s", d)
	}
	d1 := w.waitAttempt(t, domain.AttemptID(key, 1, 1), 10*time.Second)
	checkOnTime(t, w, d1, s.GetNextAttemptAt().AsTime())

	// No report comes; the follow-up would be after the deadline: the series gives up.
	s = e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED)
	if s.GetExhaustedReason() != retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE {
		t.Fatalf("exhausted for %s", s.GetExhaustedReason())
	}
	_, history := e.schedule(t, ref)
	if countType(history, "RetryExhausted") != 1 {
		t.Fatalf("history %v", typesOf(history))
	}
	ended := s.GetEndedAt().AsTime()
	waitPast(t, ended.Add(2*time.Second+maxLate))
	if n := len(w.of(ref)); n != 1 || e.pendingTimers(t, domain.StreamOf(ref)) != 0 {
		t.Fatalf("%d commands and %d timers after the exhaustion; want 1 and 0", n, e.pendingTimers(t, domain.StreamOf(ref)))
	}

	// A person resends it: a fresh window and a command at once.
	resent := time.Now()
	e.update(t, ref, connectorv1.RecordChange_RECORD_CHANGE_RESEND_REQUESTED)
	d2 := w.waitAttempt(t, domain.AttemptID(key, 2, 1), 10*time.Second)
	checkOnTime(t, w, d2, resent)
	if d2.due.GetTrigger() != retryv1.AttemptTrigger_ATTEMPT_TRIGGER_RESEND_REQUESTED {
		t.Fatalf("RetryDue after the resend: %+v", d2.due)
	}
	s = e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)
	if !s.GetWindow().GetDeadline().AsTime().After(resent) {
		t.Fatalf("the fresh window ends at %s, before the resend", s.GetWindow().GetDeadline().AsTime())
	}
}

func testRetryAfter(t *testing.T, e *env) {
	acct := unique("m")
	w := watchDue(t, e.js, acct)
	ref := orderRef(acct, "o-429")
	key := connector.RecordKeyOf(ref)

	f := failure(ref, "first")
	f.HttpStatus, f.Message, f.RetryAfter = 429, "Too Many Requests", durationpb.New(4500*time.Millisecond)
	e.fail(t, f)
	s := e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)
	notBefore := f.GetFailedAt().AsTime().Add(4500 * time.Millisecond)
	if got := s.GetNextAttemptAt().AsTime(); got.Before(notBefore) || got.Sub(notBefore) >= time.Second ||
		s.GetLastFailure().GetClass() != connectorv1.ErrorClass_ERROR_CLASS_RATE_LIMITED {
		t.Fatalf("next attempt at %s for a Retry-After until %s (class %s)", got, notBefore, s.GetLastFailure().GetClass())
	}
	d := w.waitAttempt(t, domain.AttemptID(key, 1, 1), 15*time.Second)
	if d.at.Before(notBefore) {
		t.Fatalf("RetryDue arrived at %s, before the Retry-After %s", d.at, notBefore)
	}
	checkOnTime(t, w, d, s.GetNextAttemptAt().AsTime())
}

func testSyncCycle(t *testing.T, e *env) {
	acct, conn := unique("m"), unique("cart")
	w := watchDue(t, e.js, acct)
	ref := trackingRef(acct, conn, "t1")
	key := connector.RecordKeyOf(ref)

	f := failure(ref, "first")
	e.fail(t, f)
	e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC)
	eventually(t, 5*time.Second, "the index to list the waiting schedule", func() bool {
		return e.indexHas(t, "waiting."+acct+"."+conn+".tracking."+key)
	})
	// No timer makes it due: nothing comes while no cycle starts.
	waitPast(t, f.GetFailedAt().AsTime().Add(2*time.Second+maxLate))
	if n := len(w.of(ref)); n != 0 {
		t.Fatalf("%d commands before any sync cycle", n)
	}

	started := time.Now()
	e.cycle(t, acct, conn, "cycle-1", 6*time.Hour)
	d := w.waitAttempt(t, domain.AttemptID(key, 1, 1), 10*time.Second)
	checkOnTime(t, w, d, started)
	if d.subject != "retry.due.cart.tracking" || d.due.GetTrigger() != retryv1.AttemptTrigger_ATTEMPT_TRIGGER_SYNC_CYCLE || d.due.GetCycleId() != "cycle-1" {
		t.Fatalf("RetryDue %+v on %s", d.due, d.subject)
	}
	// The same cycle reported again is one cycle; the schedule keeps waiting for the next.
	e.cycle(t, acct, conn, "cycle-1", 6*time.Hour)
	eventually(t, 5*time.Second, "the sync interval to be remembered", func() bool {
		return e.indexValue(t, "interval."+acct+"."+conn) == "21600000000000"
	})
	waitPast(t, time.Now().Add(maxLate))
	if n := len(w.of(ref)); n != 1 {
		t.Fatalf("%d commands after one sync cycle; want 1", n)
	}
	e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC)

	// It goes through: it no longer waits, and the next cycle sends nothing.
	e.succeed(t, ref, d.due.GetAttemptId())
	e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_COMPLETED)
	eventually(t, 5*time.Second, "the index to drop the schedule", func() bool {
		return !e.indexHas(t, "waiting."+acct+"."+conn+".tracking."+key)
	})
	e.cycle(t, acct, conn, "cycle-2", 6*time.Hour)
	waitPast(t, time.Now().Add(maxLate))
	if n := len(w.of(ref)); n != 1 {
		t.Fatalf("%d commands after the record completed; want 1", n)
	}
}

func testSyncInterval(t *testing.T, e *env) {
	acct, daily, hourly := unique("m"), unique("cart"), unique("cart")
	// The daily connection reported its interval before its record failed.
	e.cycle(t, acct, daily, "c0", 24*time.Hour)
	eventually(t, 5*time.Second, "the sync interval to be remembered", func() bool {
		return e.indexValue(t, "interval."+acct+"."+daily) != ""
	})
	slow, fast := trackingRef(acct, daily, "t-daily"), trackingRef(acct, hourly, "t-hourly")
	e.fail(t, failure(slow, "first"))
	e.fail(t, failure(fast, "first"))
	window := func(ref *connectorv1.RecordRef) time.Duration {
		s := e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC)
		return s.GetWindow().GetDeadline().AsTime().Sub(s.GetWindow().GetStartedAt().AsTime())
	}
	if got := window(slow); got < 30*24*time.Hour {
		t.Errorf("window of a daily connection's record: %s; want 30 days", got)
	}
	if got := window(fast); got > 21*time.Second {
		t.Errorf("window of a record of a connection of unknown interval: %s; want the 20 s policy", got)
	}
}

func testOutage(t *testing.T, e *env) {
	acct, conn := unique("m"), unique("wms")
	w := watchDue(t, e.js, acct)
	refs := make([]*connectorv1.RecordRef, 7)
	for i := range refs {
		refs[i] = orderRef(acct, "o"+string(rune('a'+i)))
		refs[i].ConnectionId = conn
	}
	covering := func(refs ...*connectorv1.RecordRef) []*alertsv1.FailingRecord {
		var out []*alertsv1.FailingRecord
		for _, r := range refs {
			out = append(out, &alertsv1.FailingRecord{Record: r, RecordKey: connector.RecordKeyOf(r),
				ErrorClass: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, FailedAt: timestamppb.Now()})
		}
		return out
	}
	cref := &alertsv1.ConnectionRef{AccountId: acct, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		ConnectionId: conn, SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms"}
	outage := &alertsv1.OutageRef{ConnectionId: conn, Number: 1, DownAt: timestamppb.Now()}
	outageStream := events.StreamID{AggregateType: "outage", Account: acct, ID: conn}

	// Six records fail; the outage covers five at once and the sixth later.
	var lastNext time.Time
	for _, r := range refs[:6] {
		e.fail(t, failure(r, "first"))
	}
	for _, r := range refs[:6] {
		s := e.waitStatus(t, r, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)
		if n := s.GetNextAttemptAt().AsTime(); n.After(lastNext) {
			lastNext = n
		}
	}
	e.appendEvent(t, outageStream, &alertsv1.ConnectionDown{Connection: cref, Outage: outage,
		ErrorClass: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, CoveredRecords: covering(refs[:5]...), Threshold: 5,
		Window: durationpb.New(5 * time.Minute), DetectedAt: timestamppb.Now()})
	e.appendEvent(t, outageStream, &alertsv1.RecordCoveredByOutage{Connection: cref, Outage: outage,
		Record: covering(refs[5])[0], Listed: false, CoveredAt: timestamppb.Now()})
	for _, r := range refs[:6] {
		e.waitStatus(t, r, retryv1.RetryStatus_RETRY_STATUS_PAUSED)
	}
	// The seventh fails while the connection is down: paused at once.
	e.fail(t, failure(refs[6], "first"))
	e.waitStatus(t, refs[6], retryv1.RetryStatus_RETRY_STATUS_PAUSED)

	// Nothing is attempted while the connection is down, though the attempts' times pass.
	waitPast(t, lastNext.Add(maxLate))
	for _, r := range refs {
		if n := len(w.of(r)); n != 0 {
			t.Fatalf("%s got %d commands while its connection was down", r.GetRecordId(), n)
		}
	}
	deadlines := map[string]time.Time{}
	for _, r := range refs {
		s, _ := e.schedule(t, r)
		deadlines[r.GetRecordId()] = s.GetWindow().GetDeadline().AsTime()
	}

	// The connection recovers; the listed records and the rest drain at 4 a second.
	e.appendEvent(t, outageStream, &alertsv1.ConnectionRecovered{Connection: cref, Outage: outage,
		RecoveredAt: timestamppb.Now(), RecoveredBy: refs[0], AttemptId: "x", CoveredRecords: covering(refs[:5]...),
		CoveredTotal: 6, CoveredTruncated: true, DetectedAt: timestamppb.Now()})
	var resumed []time.Time
	for _, r := range refs {
		d := w.waitAttempt(t, domain.AttemptID(connector.RecordKeyOf(r), 1, 1), 10*time.Second)
		_, history := e.schedule(t, r)
		var at, due time.Time
		for _, h := range history {
			if res, ok := h.Message.(*retryv1.RetryResumed); ok {
				at, due = res.GetResumedAt().AsTime(), res.GetNextAttemptAt().AsTime()
				if !res.GetDeadline().AsTime().After(deadlines[r.GetRecordId()]) {
					t.Errorf("%s: deadline %s after the pause; was %s", r.GetRecordId(), res.GetDeadline().AsTime(), deadlines[r.GetRecordId()])
				}
			}
		}
		if at.IsZero() {
			t.Fatalf("%s has no RetryResumed: %v", r.GetRecordId(), typesOf(history))
		}
		resumed = append(resumed, at)
		checkOnTime(t, w, d, due)
		if d.at.Before(at) {
			t.Errorf("%s: RetryDue at %s, before its resume at %s", r.GetRecordId(), d.at, at)
		}
	}
	first, last := resumed[0], resumed[0]
	for _, at := range resumed {
		if at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	// 7 resumes at 4 a second (burst 1) take at least 6/4 s.
	if span := last.Sub(first); span < 1400*time.Millisecond {
		t.Fatalf("7 schedules resumed within %s; the drain is not bounded to 4/s", span)
	}
	eventually(t, 5*time.Second, "the drain job to finish", func() bool {
		return !e.indexHas(t, "drain."+acct+"."+conn) && !e.indexHas(t, "down."+acct+"."+conn)
	})
}

// testRedelivery hands the same stored failure to the service twice, as the bus does after a
// crash between the handler's writes and its ack: the schedule records it once.
func testRedelivery(t *testing.T, e *env) {
	acct := unique("m")
	ref := orderRef(acct, "o-dup")
	f := failure(ref, "first")
	env := events.NewEvent(f, events.Metadata{}).Envelope
	cmd := app.RecordFailure{Env: env, Failure: f}
	for range 2 {
		if err := e.svc.Application().Commands.RecordFailure.Handle(t.Context(), cmd); err != nil {
			t.Fatal(err)
		}
	}
	s, history := e.schedule(t, ref)
	if s.GetStatus() != retryv1.RetryStatus_RETRY_STATUS_SCHEDULED || len(history) != 1 || history[0].CausationID != env.EventID {
		t.Fatalf("%s with history %v; want one RetryScheduled caused by the failure", s.GetStatus(), typesOf(history))
	}
	if e.pendingTimers(t, domain.StreamOf(ref)) != 1 {
		t.Fatalf("%d timers pending; want 1", e.pendingTimers(t, domain.StreamOf(ref)))
	}
}

// pendingTimers counts the schedule's pending timers in the timers stream.
func (e *env) pendingTimers(t *testing.T, stream events.StreamID) int {
	t.Helper()
	st, err := e.js.Stream(t.Context(), "TIMERS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter("timers.sched."+outbound.DefaultTimerKind+"."+outbound.TimerKey(stream)+".*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}

// indexValue returns the value of an index key; "" when it is missing.
func (e *env) indexValue(t *testing.T, key string) string {
	t.Helper()
	kv, err := e.js.KeyValue(t.Context(), outbound.DefaultIndexBucket)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(t.Context(), key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(entry.Value())
}

func (e *env) indexHas(t *testing.T, key string) bool { return e.indexValue(t, key) != "" }
