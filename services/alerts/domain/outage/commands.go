package outage

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

// Outcome says what a report did to the detector.
type Outcome int

// Outcomes of RecordFailure and RecordSuccess.
const (
	// Ignored means nothing changed: a class that does not count, a failure too old for the
	// window or already counted, a record already covered, a success while up.
	Ignored Outcome = iota
	// Counted means the record now counts in the window (ConnectionFailureObserved).
	Counted
	// WentDown means the record crossed the threshold: ConnectionDown was raised.
	WentDown
	// Covered means the connection was down and the record joined the outage
	// (RecordCoveredByOutage).
	Covered
	// Recovered means the outage ended (ConnectionRecovered).
	Recovered
)

func (o Outcome) String() string {
	switch o {
	case Ignored:
		return "ignored"
	case Counted:
		return "counted"
	case WentDown:
		return "went_down"
	case Covered:
		return "covered"
	case Recovered:
		return "recovered"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// RecordFailure counts a failure of a record of the detector's connection, classified as c.
// Only transient and auth failures count. It raises ConnectionFailureObserved (and ConnectionDown
// when the threshold is reached) while the connection is up, RecordCoveredByOutage while it is
// down. A report of another connection, or an invalid one, is an error wrapping
// events.ErrInvalidArgument naming the field.
func (d *Detector) RecordFailure(f *connectorv1.RecordFailed, c classify.Result, now time.Time) (Outcome, error) {
	if err := connector.ValidateFailed(f); err != nil {
		return Ignored, err
	}
	if c.AlertType == "" {
		return Ignored, fieldErr("result.alert_type", "is required")
	}
	if now.IsZero() {
		return Ignored, fieldErr("now", "is required")
	}
	if err := d.owns(f.GetRecord()); err != nil {
		return Ignored, err
	}
	if c.Class != connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT && c.Class != connectorv1.ErrorClass_ERROR_CLASS_AUTH {
		return Ignored, nil
	}
	ref := f.GetRecord()
	rec := &alertsv1.FailingRecord{
		Record:     proto.CloneOf(ref),
		RecordKey:  connector.RecordKeyOf(ref),
		AlertId:    alert.IDOf(ref, c.AlertType),
		AlertType:  c.AlertType,
		ErrorClass: c.Class,
		FailedAt:   f.GetFailedAt(),
	}
	if d.down {
		if _, done := d.coveredKeys[rec.GetRecordKey()]; done {
			return Ignored, nil
		}
		d.raise(&alertsv1.RecordCoveredByOutage{
			Connection: connectionOf(ref), Outage: proto.CloneOf(d.outage), Record: rec,
			Listed: len(d.covered) < d.cfg.MaxListed, CoveredAt: timestamppb.New(now),
		})
		return Covered, nil
	}

	at := f.GetFailedAt().AsTime()
	newest := at
	for _, r := range d.window {
		if t := r.GetFailedAt().AsTime(); t.After(newest) {
			newest = t
		}
	}
	start := newest.Add(-d.cfg.Window)
	if at.Before(start) {
		return Ignored, nil // too old to count
	}
	if prev, ok := d.window[rec.GetRecordKey()]; ok && !prev.GetFailedAt().AsTime().Before(at.Add(-d.cfg.Window/2)) {
		return Ignored, nil // counted recently enough
	}
	d.raise(&alertsv1.ConnectionFailureObserved{ConnectionId: ref.GetConnectionId(), Record: rec, WindowStart: timestamppb.New(start)})
	if len(d.window) < d.cfg.Threshold {
		return Counted, nil
	}

	covered := d.windowRecords()
	class := connectorv1.ErrorClass_ERROR_CLASS_AUTH
	if slices.ContainsFunc(covered, func(r *alertsv1.FailingRecord) bool {
		return r.GetErrorClass() != connectorv1.ErrorClass_ERROR_CLASS_AUTH
	}) {
		class = connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT
	}
	d.raise(&alertsv1.ConnectionDown{
		Connection: connectionOf(ref),
		Outage: &alertsv1.OutageRef{
			ConnectionId:      ref.GetConnectionId(),
			Number:            d.outages + 1,
			DownAt:            timestamppb.New(newest),
			ConnectionAlertId: alert.ConnectionAlertID(ref.GetAccountId(), ref.GetConnectionId()),
		},
		ErrorClass:     class,
		CoveredRecords: covered,
		Threshold:      uint32(d.cfg.Threshold),
		Window:         durationpb.New(d.cfg.Window),
		DetectedAt:     timestamppb.New(now),
	})
	return WentDown, nil
}

// RecordSuccess ends the outage when a record of the detector's connection went through at or
// after the outage began: ConnectionRecovered, listing the covered records. It changes nothing
// while the connection is up (successes do not empty the window) or for an older success.
func (d *Detector) RecordSuccess(s *connectorv1.RecordSucceeded, now time.Time) (Outcome, error) {
	if err := connector.ValidateSucceeded(s); err != nil {
		return Ignored, err
	}
	if now.IsZero() {
		return Ignored, fieldErr("now", "is required")
	}
	if err := d.owns(s.GetRecord()); err != nil {
		return Ignored, err
	}
	if !d.down || s.GetSucceededAt().AsTime().Before(d.outage.GetDownAt().AsTime()) {
		return Ignored, nil
	}
	listed := make([]*alertsv1.FailingRecord, len(d.covered))
	for i, r := range d.covered {
		listed[i] = proto.CloneOf(r)
	}
	d.raise(&alertsv1.ConnectionRecovered{
		Connection:       connectionOf(s.GetRecord()),
		Outage:           proto.CloneOf(d.outage),
		RecoveredAt:      s.GetSucceededAt(),
		RecoveredBy:      proto.CloneOf(s.GetRecord()),
		AttemptId:        s.GetAttemptId(),
		CoveredRecords:   listed,
		CoveredTotal:     d.coveredTotal,
		CoveredTruncated: d.coveredTotal > uint32(len(listed)),
		DetectedAt:       timestamppb.New(now),
	})
	return Recovered, nil
}

// owns checks that the record is on the detector's connection and account.
func (d *Detector) owns(r *connectorv1.RecordRef) error {
	if d.stream.Account != "" && r.GetAccountId() != d.stream.Account {
		return fieldErr("record.account_id", "%q is not the connection's owner %q", r.GetAccountId(), d.stream.Account)
	}
	if d.stream.ID != "" && r.GetConnectionId() != d.stream.ID {
		return fieldErr("record.connection_id", "%q is not the detector's connection %q", r.GetConnectionId(), d.stream.ID)
	}
	return nil
}

func fieldErr(field, format string, args ...any) error {
	return &connector.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
