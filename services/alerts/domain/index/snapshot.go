package index

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/alerts/domain/internal/snapshot"
)

// SnapshotSchema names the encoding of an index's snapshots (aggregate.Snapshotter). A persisted
// identifier: change it whenever the encoding changes meaning; snapshots of another schema are
// ignored (the index is then folded from its events).
const SnapshotSchema = "alerts.record_alerts/1"

var _ aggregate.Snapshotter = (*Index)(nil)

// A snapshot is the protobuf wire form of
//
//	message IndexSnapshot {
//	  // The entries in order, each with only alert_id and alert_type set.
//	  repeated rebound.alerts.v1.RecordAlertTracked entries = 1;
//	}
const snapEntry protowire.Number = 1

// SnapshotSchema implements aggregate.Snapshotter.
func (x *Index) SnapshotSchema() string { return SnapshotSchema }

// MarshalSnapshot implements aggregate.Snapshotter. Restoring the snapshot with
// UnmarshalSnapshot gives exactly the index that folding the same events gives.
func (x *Index) MarshalSnapshot() ([]byte, error) {
	var w snapshot.Writer
	for _, e := range x.entries {
		w.Message(snapEntry, &alertsv1.RecordAlertTracked{AlertId: e.AlertID, AlertType: e.AlertType})
	}
	b, err := w.Bytes()
	if err != nil {
		return nil, fmt.Errorf("index: snapshot of %s: %w", x.stream, err)
	}
	return b, nil
}

// UnmarshalSnapshot implements aggregate.Snapshotter: it restores a snapshot of
// MarshalSnapshot into an index New just made.
func (x *Index) UnmarshalSnapshot(data []byte) error {
	err := snapshot.Read(data, func(n protowire.Number, b []byte) error {
		if n != snapEntry {
			return nil
		}
		var m alertsv1.RecordAlertTracked
		if err := proto.Unmarshal(b, &m); err != nil {
			return err
		}
		x.entries = append(x.entries, Entry{AlertID: m.GetAlertId(), AlertType: m.GetAlertType()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: restoring a snapshot of %s: %w", x.stream, err)
	}
	return nil
}
