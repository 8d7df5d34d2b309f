// Package aggregate loads and saves event-sourced aggregates. A Repository loads an aggregate's
// stream, folds it into a fresh value, lets a command change it (by raising events), and appends
// the raised events with the loaded state as the expectation, retrying on a concurrency conflict.
package aggregate

import (
	"google.golang.org/protobuf/proto"

	"github.com/reboundhq/rebound/events"
)

// Root is implemented by every event-sourced aggregate. Domain packages embed Recorder and fold
// events in Apply; command methods raise events through Recorder.Raise.
type Root interface {
	// Apply folds one stored event into the state. It must be deterministic: the same history
	// always yields the same state.
	Apply(events.Record) error
	// Changes returns the events raised since the aggregate was loaded, in order.
	Changes() []proto.Message
	// ClearChanges forgets the raised events once they are stored.
	ClearChanges()
}

// Snapshotter is implemented by aggregates that can save and restore their state, so that a
// Repository with a SnapshotStore loads them without reading their whole stream. Restoring
// a snapshot must give exactly the state that folding the same events gives.
type Snapshotter interface {
	// SnapshotSchema names the encoding; a snapshot of another schema is ignored.
	SnapshotSchema() string
	// MarshalSnapshot encodes the state.
	MarshalSnapshot() ([]byte, error)
	// UnmarshalSnapshot restores the state into a fresh aggregate.
	UnmarshalSnapshot([]byte) error
}

// Recorder collects the events an aggregate's commands raise. Embed it in an aggregate.
type Recorder struct {
	raised []proto.Message
}

// Raise records an event the aggregate raised. The aggregate applies it to itself as well.
func (c *Recorder) Raise(msg proto.Message) { c.raised = append(c.raised, msg) }

// Changes returns the raised events.
func (c *Recorder) Changes() []proto.Message { return c.raised }

// ClearChanges forgets the raised events.
func (c *Recorder) ClearChanges() { c.raised = nil }
