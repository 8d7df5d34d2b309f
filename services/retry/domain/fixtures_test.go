package domain_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// t0 is where every test's clock starts; it has a fraction of a second on purpose.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 250_000_000, time.UTC)

const day = 24 * time.Hour

// clock is the fake clock tests walk forward.
type clock struct{ now time.Time }

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time { return c.now }

// Advance moves the clock on by d and returns the new time.
func (c *clock) Advance(d time.Duration) time.Time { c.now = c.now.Add(d); return c.now }

// Set moves the clock to t (never back).
func (c *clock) Set(t time.Time) time.Time {
	if t.After(c.now) {
		c.now = t
	}
	return c.now
}

var (
	transient   = domain.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT}
	rateLimited = domain.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_RATE_LIMITED}
	authFailure = domain.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_AUTH}
	manual      = domain.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION, AlertType: "ship_method_unmapped"}
	rejected    = domain.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_REJECTED}
)

func orderRef(id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: "merchant-1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id, OrderNumber: id,
	}
}

func trackingRef(id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: "merchant-1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		ConnectionId: "cart-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "shopify",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_TRACKING, RecordId: id, OrderNumber: id,
	}
}

func orderPolicy() domain.Policy {
	return domain.DefaultPolicies().For("wms-1", connectorv1.RecordKind_RECORD_KIND_ORDER, 0)
}

func trackingPolicy(syncInterval time.Duration) domain.Policy {
	return domain.DefaultPolicies().For("cart-1", connectorv1.RecordKind_RECORD_KIND_TRACKING, syncInterval)
}

// failure is a failure report of ref at t.
func failure(ref *connectorv1.RecordRef, attemptID string, t time.Time) *connectorv1.RecordFailed {
	return &connectorv1.RecordFailed{
		Record: ref, AttemptId: attemptID, Message: "Service Unavailable", HttpStatus: 503,
		AttemptedAt: timestamppb.New(t.Add(-time.Second)), FailedAt: timestamppb.New(t),
	}
}

func withRetryAfter(f *connectorv1.RecordFailed, d time.Duration) *connectorv1.RecordFailed {
	f.RetryAfter = durationpb.New(d)
	f.HttpStatus = 429
	return f
}

func success(ref *connectorv1.RecordRef, attemptID string, t time.Time) *connectorv1.RecordSucceeded {
	return &connectorv1.RecordSucceeded{Record: ref, AttemptId: attemptID, SucceededAt: timestamppb.New(t)}
}

func updated(ref *connectorv1.RecordRef, change connectorv1.RecordChange, t time.Time) *connectorv1.RecordUpdated {
	return &connectorv1.RecordUpdated{Record: ref, Change: change, Actor: "ops@example.com", UpdatedAt: timestamppb.New(t)}
}

func cycle(ref *connectorv1.RecordRef, id string, started time.Time, interval time.Duration) *connectorv1.SyncCycleStarted {
	c := &connectorv1.SyncCycleStarted{
		AccountId: ref.GetAccountId(), AccountKind: ref.GetAccountKind(), ConnectionId: ref.GetConnectionId(),
		SystemKind: ref.GetSystemKind(), System: ref.GetSystem(), CycleId: id, StartedAt: timestamppb.New(started),
	}
	if interval > 0 {
		c.SyncInterval = durationpb.New(interval)
	}
	return c
}

func newSchedule(ref *connectorv1.RecordRef) *domain.Schedule {
	return domain.New(domain.StreamOf(ref))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// raised runs a command and returns the events it raised.
func raised(t *testing.T, s *domain.Schedule, cmd func() error) []proto.Message {
	t.Helper()
	n := len(s.Changes())
	must(t, cmd())
	return s.Changes()[n:]
}

// types returns the short type names of msgs.
func types(msgs []proto.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = events.ShortType(events.TypeName(m))
	}
	return out
}

func wantTypes(t *testing.T, got []proto.Message, want ...string) {
	t.Helper()
	if g := fmt.Sprint(types(got)); g != fmt.Sprint(want) {
		t.Fatalf("raised %s, want %v", g, want)
	}
}

func wantStatus(t *testing.T, s *domain.Schedule, want retryv1.RetryStatus) {
	t.Helper()
	if got := s.Status(); got != want {
		t.Fatalf("status %s, want %s", got, want)
	}
}

// fold rebuilds a schedule from the events s raised.
func fold(t *testing.T, s *domain.Schedule) *domain.Schedule {
	t.Helper()
	r := domain.New(s.Stream())
	for i, m := range s.Changes() {
		rec := events.Record{Event: events.Event{
			Envelope: events.Envelope{EventType: events.TypeName(m), Version: uint64(i + 1)},
			Message:  m,
		}}
		if err := r.Apply(rec); err != nil {
			t.Fatalf("applying event %d: %v", i+1, err)
		}
	}
	return r
}

// checkFold fails unless rebuilding s from its events gives the state its commands left.
func checkFold(t *testing.T, s *domain.Schedule) {
	t.Helper()
	got, want := fold(t, s).Snapshot(), s.Snapshot()
	if !proto.Equal(got, want) {
		t.Fatalf("rebuilt state differs from the live state:\nrebuilt %s\nlive    %s", protojson.Format(got), protojson.Format(want))
	}
}

// fireDue fires the pending timer attempt and returns the RetryDue it made.
func fireDue(t *testing.T, s *domain.Schedule, c *clock) *retryv1.RetryDue {
	t.Helper()
	next, ok := s.NextAttemptAt()
	if !ok {
		t.Fatalf("no attempt pending (status %s)", s.Status())
	}
	c.Set(next)
	got := raised(t, s, func() error { return s.Fire(c.Now()) })
	wantTypes(t, got, "RetryAttemptDue")
	due, _ := s.DueCommand()
	return due
}
