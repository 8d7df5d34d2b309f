// Package index is the record index of the alerts service: one small aggregate per record that
// lists the alert types the record has alerts of, stored as
// evt.record_alerts.<account>.<record key>.RecordAlertTracked.
//
// An alert's id is derived from (record, alert type), so a record's alerts are found by their
// types: a success of the record resolves every one of them, and its retries running out
// escalates every one of them. The app tracks a type alongside the alert's first failure (the
// input is acknowledged only once both are stored), so the index lists at least every type the
// record has an alert of. It holds at most one entry per alert type, whatever the number of
// failures.
package index

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
)

// AggregateType is the aggregate type of index streams:
// evt.record_alerts.<account>.<record key>.<EventType>. A persisted identifier.
const AggregateType = "record_alerts"

// Stream returns the index stream of the record ref names.
func Stream(ref *connectorv1.RecordRef) events.StreamID {
	return events.StreamID{AggregateType: AggregateType, Account: ref.GetAccountId(), ID: connector.RecordKeyOf(ref)}
}

// EventTypes lists every event the index stores, for the service's registry.
func EventTypes() []proto.Message { return []proto.Message{&alertsv1.RecordAlertTracked{}} }

// Entry is one alert of the record.
type Entry struct {
	AlertID   string
	AlertType string
}

// Index lists the alert types of one record. Build empty ones with New; it changes only by
// folding events (Apply) or by Track. Not safe for concurrent use.
type Index struct {
	aggregate.Recorder

	stream  events.StreamID
	entries []Entry
}

var _ aggregate.Root = (*Index)(nil)

// New returns an empty index for the stream.
func New(stream events.StreamID) *Index { return &Index{stream: stream} }

// Entries returns the record's alerts, in the order they were tracked.
func (x *Index) Entries() []Entry { return slices.Clone(x.entries) }

// Has reports whether the index lists alertType.
func (x *Index) Has(alertType string) bool {
	return slices.ContainsFunc(x.entries, func(e Entry) bool { return e.AlertType == alertType })
}

// Track records that the record ref names has an alert of alertType with the given id; it
// changes nothing when the type is already listed.
func (x *Index) Track(ref *connectorv1.RecordRef, alertType, alertID string, now time.Time) error {
	if err := connector.ValidateRecordRef("record", ref); err != nil {
		return err
	}
	if key := connector.RecordKeyOf(ref); x.stream.ID != "" && key != x.stream.ID {
		return &connector.FieldError{Field: "record", Reason: fmt.Sprintf("the record's key is %s, not %s", key, x.stream.ID)}
	}
	if alertType == "" || !events.ValidToken(alertID) {
		return &connector.FieldError{Field: "alert_type", Reason: "alert type and id are required"}
	}
	if x.Has(alertType) {
		return nil
	}
	msg := &alertsv1.RecordAlertTracked{
		Record: proto.CloneOf(ref), RecordKey: connector.RecordKeyOf(ref),
		AlertId: alertID, AlertType: alertType, TrackedAt: timestamppb.New(now),
	}
	x.when(msg)
	x.Raise(msg)
	return nil
}

// Apply folds one stored event.
func (x *Index) Apply(r events.Record) error {
	if err := r.Decoded(); err != nil {
		return err
	}
	e, ok := r.Message.(*alertsv1.RecordAlertTracked)
	if !ok {
		return fmt.Errorf("index: %w: %s is not an index event", events.ErrUnknownType, r.EventType)
	}
	x.when(e)
	return nil
}

func (x *Index) when(e *alertsv1.RecordAlertTracked) {
	if !x.Has(e.GetAlertType()) {
		x.entries = append(x.entries, Entry{AlertID: e.GetAlertId(), AlertType: e.GetAlertType()})
	}
}
