package alert_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

// t0 is a Monday morning; every test's times are offsets from it.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const day = 24 * time.Hour

var classifier = classify.Default()

// order returns the reference of an order sent to a WMS.
func order(id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: "merchant-1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: "wh-1",
		ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id, OrderNumber: "#" + id,
	}
}

// report builds a failure report of ref.
func report(ref *connectorv1.RecordRef, attempt string, status int32, code, msg string, failedAt time.Time) *connectorv1.RecordFailed {
	return &connectorv1.RecordFailed{
		Record: proto.CloneOf(ref), AttemptId: attempt, HttpStatus: status, Code: code, Message: msg,
		AttemptedAt: timestamppb.New(failedAt.Add(-2 * time.Second)), FailedAt: timestamppb.New(failedAt),
	}
}

// Typical failures.
func unavailable(ref *connectorv1.RecordRef, attempt string, t time.Time) *connectorv1.RecordFailed {
	return report(ref, attempt, 503, "", "Service Unavailable", t)
}

func shipMethod(ref *connectorv1.RecordRef, attempt string, t time.Time) *connectorv1.RecordFailed {
	return report(ref, attempt, 422, "SHIP_METHOD_NOT_MAPPED", "Ship method 'UPS Ground Saver' is not mapped", t)
}

// failure classifies r with the default rules.
func failure(r *connectorv1.RecordFailed) alert.Failure {
	return alert.Failure{Report: r, Result: classifier.Classify(r)}
}

// newAlert returns the empty alert r's classification leads to.
func newAlert(t *testing.T, r *connectorv1.RecordFailed, cfg alert.Config) *alert.Alert {
	t.Helper()
	id := alert.IDOf(r.GetRecord(), classifier.Classify(r).AlertType)
	a, err := alert.New(alert.Stream(r.GetRecord().GetAccountId(), id), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// mustFail records a failure and checks the outcome.
func mustFail(t *testing.T, a *alert.Alert, f alert.Failure, now time.Time, want alert.Outcome) {
	t.Helper()
	got, err := a.RecordFailure(f, now)
	if err != nil {
		t.Fatalf("RecordFailure(%s): %v", f.Report.GetAttemptId(), err)
	}
	if got != want {
		t.Fatalf("RecordFailure(%s) = %v, want %v", f.Report.GetAttemptId(), got, want)
	}
}

func succeeded(t time.Time) alert.Resolution {
	return alert.Resolution{Cause: alertsv1.ResolutionCause_RESOLUTION_CAUSE_RECORD_SUCCEEDED, At: t, AttemptID: "ok-1"}
}

// eventTypes returns the short types of the events raised so far.
func eventTypes(a *alert.Alert) []string {
	var out []string
	for _, m := range a.Changes() {
		out = append(out, events.ShortType(events.TypeName(m)))
	}
	return out
}

// since returns the short types of the events raised after the first n.
func since(a *alert.Alert, n int) []string { return eventTypes(a)[n:] }

// replayed folds every event a raised into a fresh alert and checks it rebuilds the same state:
// what commands decide and what folding rebuilds must agree.
func replayed(t *testing.T, a *alert.Alert) {
	t.Helper()
	fresh, err := alert.New(a.Stream(), alert.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range a.Changes() {
		rec := events.Record{Event: events.Event{Envelope: events.Envelope{EventType: events.TypeName(m), Version: uint64(i + 1)}, Message: m}}
		if err := fresh.Apply(rec); err != nil {
			t.Fatalf("replaying event %d (%T): %v", i+1, m, err)
		}
	}
	if !proto.Equal(fresh.Snapshot(), a.Snapshot()) {
		t.Fatalf("replay differs from the live state:\nlive   %v\nreplay %v", a.Snapshot(), fresh.Snapshot())
	}
}

// wantField checks err is an invalid-argument error naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *connector.FieldError
	if !errors.Is(err, events.ErrInvalidArgument) || !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a FieldError wrapping ErrInvalidArgument", err)
	}
	if fe.Field != field {
		t.Fatalf("err names %q (%v), want %q", fe.Field, err, field)
	}
}

// wantWrongState checks err is an ErrWrongState for the command.
func wantWrongState(t *testing.T, err error, command string) {
	t.Helper()
	var se *domain.StateError
	if !errors.Is(err, domain.ErrWrongState) || !errors.As(err, &se) || se.Command != command {
		t.Fatalf("err = %v, want a StateError for %q wrapping ErrWrongState", err, command)
	}
}

// outageRef returns outage n of the wms-1 connection.
func outageRef(n uint32, down time.Time) *alertsv1.OutageRef {
	return &alertsv1.OutageRef{ConnectionId: "wms-1", Number: n, DownAt: timestamppb.New(down),
		ConnectionAlertId: alert.ConnectionAlertID("merchant-1", "wms-1")}
}

// connectionDown returns a ConnectionDown of wms-1 with n covered records.
func connectionDown(number uint32, down time.Time, covered int) *alertsv1.ConnectionDown {
	d := &alertsv1.ConnectionDown{
		Connection: &alertsv1.ConnectionRef{
			AccountId: "merchant-1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: "wh-1",
			ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		},
		Outage:     outageRef(number, down),
		ErrorClass: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT,
		Threshold:  20,
		Window:     durationpb.New(5 * time.Minute),
		DetectedAt: timestamppb.New(down),
	}
	for range covered {
		d.CoveredRecords = append(d.CoveredRecords, &alertsv1.FailingRecord{})
	}
	return d
}

func tspb(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }
