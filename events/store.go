package events

import (
	"context"
	"time"
)

// Store is an event store. Implementations are safe for concurrent use; all methods honour
// ctx cancellation and return an error wrapping ctx.Err() when it ends the call.
type Store interface {
	// Append writes evs to one stream, all or nothing, if the stream matches expect. The store
	// fills in each event's stream, version and recorded time (and an id and occurred time when
	// they are empty). It returns the stream's new state.
	//
	// Errors: ErrConcurrencyConflict when expect does not hold, ErrInvalidArgument for a bad
	// stream id, no events or an event the registry does not know (also ErrUnknownType).
	// Appending events whose ids are already stored, in the same order right after the
	// expected version, is a no-op that reports success with the state after them.
	Append(ctx context.Context, stream StreamID, expect Expectation, evs ...Event) (State, error)

	// AppendMulti writes to several streams atomically: either every append's expectation holds
	// and all events are written, or nothing is. It returns each stream's new state, in order.
	AppendMulti(ctx context.Context, appends ...StreamAppend) ([]State, error)

	// Load returns the stream's events from version from (1-based; 0 or 1 means all), and the
	// stream's state. A stream with no events is ErrNotFound. An event whose type the registry
	// does not know fails the load with ErrUnknownType.
	Load(ctx context.Context, stream StreamID, from uint64) (Loaded, error)

	// LoadAfter returns the stream's events after the given state (the versions above
	// after.Version) and the stream's state. The state's token tells the store where to start
	// looking, so a caller that holds a snapshot reads only what came after it. A stream with no
	// events is ErrNotFound; one with nothing after `after` returns no events and its state.
	LoadAfter(ctx context.Context, stream StreamID, after State) (Loaded, error)

	// Head returns the stream's state (its last version and token) without loading its events;
	// the zero State when it has none.
	Head(ctx context.Context, stream StreamID) (State, error)

	// Read calls fn for every event at or after opts.From (a global position) that matches
	// opts.Filters, in global order, one at a time. Without opts.Follow it returns nil once it
	// has delivered what the store held when the call started; with Follow it waits for new
	// events until ctx ends. An error from fn stops the read and is returned as is.
	// Records of unregistered types are delivered with a nil Message (see Record.Decoded).
	Read(ctx context.Context, opts ReadOptions, fn func(context.Context, Record) error) error

	// LastPosition returns the global position of the newest event (0 when the store is empty).
	LastPosition(ctx context.Context) (uint64, error)
}

// StreamAppend is one stream's part of an AppendMulti.
type StreamAppend struct {
	Stream StreamID
	Expect Expectation
	Events []Event
}

// Loaded is a loaded stream.
type Loaded struct {
	Events []Record
	// State is the stream's state after its last event (not only the last one loaded).
	State State
}

// ReadOptions selects what Read delivers.
type ReadOptions struct {
	// From is the first global position to deliver; 0 and 1 both mean the beginning.
	From uint64
	// FromTime, when set and From is 0, starts at the first event recorded at or after it.
	FromTime time.Time
	// Filters are subject filters (evt.alert.>, evt.*.acme.>); empty means every event.
	Filters []string
	// Follow keeps the read open for new events until ctx ends.
	Follow bool
}

// MaxAppendEvents is the most events one Append or AppendMulti may carry (the JetStream
// server's default atomic batch limit).
const MaxAppendEvents = 1000
