package outage

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events/aggregate"
)

// SnapshotSchema names the encoding of a detector's snapshots (aggregate.Snapshotter): the
// protobuf of its state message, rebound.alerts.v1.ConnectionHealth (Snapshot), which holds the
// whole state: the covered keys are those of the covered records, the window's keys those of its
// records. A persisted identifier: change it whenever the encoding changes meaning; snapshots of
// another schema are ignored (the detector is then folded from its events).
const SnapshotSchema = "alerts.outage/1"

var _ aggregate.Snapshotter = (*Detector)(nil)

// SnapshotSchema implements aggregate.Snapshotter.
func (d *Detector) SnapshotSchema() string { return SnapshotSchema }

// MarshalSnapshot implements aggregate.Snapshotter. Restoring the snapshot with
// UnmarshalSnapshot gives exactly the detector that folding the same events gives.
func (d *Detector) MarshalSnapshot() ([]byte, error) {
	h := d.Snapshot()
	if h == nil {
		return nil, nil
	}
	b, err := proto.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("outage: snapshot of %s: %w", d.stream, err)
	}
	return b, nil
}

// UnmarshalSnapshot implements aggregate.Snapshotter: it restores a snapshot of
// MarshalSnapshot into a detector the factory just made (the config stays the factory's).
func (d *Detector) UnmarshalSnapshot(data []byte) error {
	if len(data) == 0 {
		return nil // before the first event
	}
	var h alertsv1.ConnectionHealth
	if err := proto.Unmarshal(data, &h); err != nil {
		return fmt.Errorf("outage: restoring a snapshot of %s: %w", d.stream, err)
	}
	if h.GetConnection() == nil {
		return fmt.Errorf("outage: restoring a snapshot of %s: no connection", d.stream)
	}
	d.conn = h.GetConnection()
	d.down = h.GetStatus() == alertsv1.ConnectionStatus_CONNECTION_STATUS_DOWN
	d.outage = h.GetOutage()
	d.outages = h.GetOutages()
	d.window = nil
	if recs := h.GetWindowRecords(); len(recs) > 0 {
		d.window = make(map[string]*alertsv1.FailingRecord, len(recs))
		for _, r := range recs {
			d.window[r.GetRecordKey()] = r
		}
	}
	d.covered, d.coveredKeys = h.GetCoveredRecords(), nil
	if d.down {
		d.coveredKeys = make(map[string]struct{}, len(d.covered))
		for _, r := range d.covered {
			d.coveredKeys[r.GetRecordKey()] = struct{}{}
		}
	}
	d.coveredTotal = h.GetCoveredTotal()
	d.lastRecovery = h.GetLastRecoveredAt()
	return nil
}
