package alert

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/alerts/domain/internal/snapshot"
)

// SnapshotSchema names the encoding of an alert's snapshots (aggregate.Snapshotter). A persisted
// identifier: change it whenever the encoding changes meaning; snapshots of another schema are
// ignored (the alert is then folded from its events).
const SnapshotSchema = "alerts.alert/1"

var _ aggregate.Snapshotter = (*Alert)(nil)

// A snapshot is the protobuf wire form of
//
//	message AlertSnapshot {
//	  rebound.alerts.v1.Alert state = 1;              // the current incarnation (Snapshot)
//	  google.protobuf.Timestamp closed_at = 2;        // the latest closing, over all incarnations
//	}
//
// The state message alone is not enough: a new incarnation starts from a fresh one, while
// failures observed before any earlier closing must still be ignored.
const (
	snapState protowire.Number = 1 + iota
	snapClosedAt
)

// SnapshotSchema implements aggregate.Snapshotter.
func (a *Alert) SnapshotSchema() string { return SnapshotSchema }

// MarshalSnapshot implements aggregate.Snapshotter. Restoring the snapshot with
// UnmarshalSnapshot gives exactly the alert that folding the same events gives.
func (a *Alert) MarshalSnapshot() ([]byte, error) {
	var w snapshot.Writer
	w.Message(snapState, a.st)
	w.Time(snapClosedAt, a.closedAt)
	b, err := w.Bytes()
	if err != nil {
		return nil, fmt.Errorf("alert: snapshot of %s: %w", a.stream, err)
	}
	return b, nil
}

// UnmarshalSnapshot implements aggregate.Snapshotter: it restores a snapshot of
// MarshalSnapshot into an alert the factory just made (the config stays the factory's).
func (a *Alert) UnmarshalSnapshot(data []byte) error {
	err := snapshot.Read(data, func(n protowire.Number, b []byte) error {
		var err error
		switch n {
		case snapState:
			a.st = &alertsv1.Alert{}
			err = proto.Unmarshal(b, a.st)
		case snapClosedAt:
			a.closedAt, err = snapshot.Time(b)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("alert: restoring a snapshot of %s: %w", a.stream, err)
	}
	return nil
}
