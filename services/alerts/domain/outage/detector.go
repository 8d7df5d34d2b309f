package outage

import (
	"cmp"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
)

// AggregateType is the aggregate type of outage streams:
// evt.outage.<account>.<connection id>.<EventType>. A persisted identifier.
const AggregateType = "outage"

// Stream returns the detector stream of a connection owned by account.
func Stream(account, connectionID string) events.StreamID {
	return events.StreamID{AggregateType: AggregateType, Account: account, ID: connectionID}
}

// EventTypes lists every event the outage aggregate stores, for the service's registry.
func EventTypes() []proto.Message {
	return []proto.Message{
		&alertsv1.ConnectionFailureObserved{}, &alertsv1.ConnectionDown{},
		&alertsv1.RecordCoveredByOutage{}, &alertsv1.ConnectionRecovered{},
	}
}

// Detector is the outage detector of one connection. Build empty ones with New or NewFactory;
// they change only by folding events (Apply) or by commands, which raise events and fold them.
// Not safe for concurrent use.
type Detector struct {
	aggregate.Recorder

	cfg    Config
	stream events.StreamID

	conn    *alertsv1.ConnectionRef // nil until the first event
	down    bool
	outage  *alertsv1.OutageRef // the current outage while down, else the last one
	outages uint32
	// window maps record keys to their counted failure, while up.
	window map[string]*alertsv1.FailingRecord
	// covered holds the current outage's listed records, in the order they were covered, and
	// their keys.
	covered      []*alertsv1.FailingRecord
	coveredKeys  map[string]struct{}
	coveredTotal uint32
	lastRecovery *timestamppb.Timestamp
}

var _ aggregate.Root = (*Detector)(nil)

// Down reports whether the connection is down.
func (d *Detector) Down() bool { return d.down }

// Outage returns the current outage while down, else the last one (nil when there was none).
func (d *Detector) Outage() *alertsv1.OutageRef { return proto.CloneOf(d.outage) }

// Snapshot returns the connection's outage-detection state, or nil before the first event.
func (d *Detector) Snapshot() *alertsv1.ConnectionHealth {
	if d.conn == nil {
		return nil
	}
	h := &alertsv1.ConnectionHealth{
		Connection:      proto.CloneOf(d.conn),
		Status:          alertsv1.ConnectionStatus_CONNECTION_STATUS_UP,
		Outage:          proto.CloneOf(d.outage),
		Outages:         d.outages,
		WindowRecords:   d.windowRecords(),
		CoveredTotal:    d.coveredTotal,
		LastRecoveredAt: d.lastRecovery,
	}
	if d.down {
		h.Status = alertsv1.ConnectionStatus_CONNECTION_STATUS_DOWN
	}
	for _, r := range d.covered {
		h.CoveredRecords = append(h.CoveredRecords, proto.CloneOf(r))
	}
	return h
}

// windowRecords returns copies of the window's records, oldest first (ties by record key).
func (d *Detector) windowRecords() []*alertsv1.FailingRecord {
	out := make([]*alertsv1.FailingRecord, 0, len(d.window))
	for _, r := range d.window {
		out = append(out, proto.CloneOf(r))
	}
	slices.SortFunc(out, func(x, y *alertsv1.FailingRecord) int {
		return cmp.Or(x.GetFailedAt().AsTime().Compare(y.GetFailedAt().AsTime()), cmp.Compare(x.GetRecordKey(), y.GetRecordKey()))
	})
	return out
}

// Apply folds one stored event into the state.
func (d *Detector) Apply(r events.Record) error {
	if err := r.Decoded(); err != nil {
		return err
	}
	return d.when(r.Message)
}

func (d *Detector) raise(msg proto.Message) {
	if err := d.when(msg); err != nil {
		panic(fmt.Sprintf("outage: raising %T: %v", msg, err))
	}
	d.Raise(msg)
}

// when folds one event. It depends on the event alone (and the state), never on the config.
func (d *Detector) when(msg proto.Message) error {
	switch e := msg.(type) {
	case *alertsv1.ConnectionFailureObserved:
		rec := e.GetRecord()
		d.conn = connectionOf(rec.GetRecord())
		if d.window == nil {
			d.window = make(map[string]*alertsv1.FailingRecord)
		}
		d.window[rec.GetRecordKey()] = proto.CloneOf(rec)
		start := e.GetWindowStart().AsTime()
		for k, r := range d.window {
			if r.GetFailedAt().AsTime().Before(start) {
				delete(d.window, k)
			}
		}
	case *alertsv1.ConnectionDown:
		d.conn = proto.CloneOf(e.GetConnection())
		d.down = true
		d.outage = proto.CloneOf(e.GetOutage())
		d.outages = e.GetOutage().GetNumber()
		d.window = nil
		d.covered, d.coveredKeys = nil, make(map[string]struct{})
		for _, r := range e.GetCoveredRecords() {
			d.covered = append(d.covered, proto.CloneOf(r))
			d.coveredKeys[r.GetRecordKey()] = struct{}{}
		}
		d.coveredTotal = uint32(len(e.GetCoveredRecords()))
	case *alertsv1.RecordCoveredByOutage:
		if !d.down {
			return fmt.Errorf("outage: RecordCoveredByOutage while the connection is up")
		}
		d.conn = proto.CloneOf(e.GetConnection())
		if e.GetListed() {
			d.covered = append(d.covered, proto.CloneOf(e.GetRecord()))
			d.coveredKeys[e.GetRecord().GetRecordKey()] = struct{}{}
		}
		d.coveredTotal++
	case *alertsv1.ConnectionRecovered:
		d.conn = proto.CloneOf(e.GetConnection())
		d.down = false
		d.window = nil
		d.covered, d.coveredKeys, d.coveredTotal = nil, nil, 0
		d.lastRecovery = e.GetRecoveredAt()
	default:
		return fmt.Errorf("outage: %w: %s is not an outage event", events.ErrUnknownType, events.TypeName(msg))
	}
	return nil
}

// connectionOf returns the connection part of a record reference.
func connectionOf(r *connectorv1.RecordRef) *alertsv1.ConnectionRef {
	return &alertsv1.ConnectionRef{
		AccountId: r.GetAccountId(), AccountKind: r.GetAccountKind(), WarehouseId: r.GetWarehouseId(),
		ConnectionId: r.GetConnectionId(), SystemKind: r.GetSystemKind(), System: r.GetSystem(),
	}
}
