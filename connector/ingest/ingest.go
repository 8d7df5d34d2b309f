// Package ingest stores connector reports: it validates a report (connector.Validate*), derives
// its event id from what identifies the report (so a repeated report is stored once) and appends
// it to the record's or the connection's stream. The gRPC IngestService, the NATS ingest
// subjects and the orders service all report through it.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
)

// Stored says where a report was stored.
type Stored struct {
	EventID   string
	Subject   string
	RecordKey string
	State     events.State
}

// Ingester validates and stores reports. It is safe for concurrent use.
type Ingester struct {
	store events.Store

	mu     sync.Mutex
	states map[events.StreamID]events.State // last known state of recently written streams
}

// maxCachedStates bounds the stream states kept to skip the head lookup of an append.
const maxCachedStates = 100_000

// New returns an Ingester that appends to store.
func New(store events.Store) (*Ingester, error) {
	if store == nil {
		return nil, errors.New("ingest: New needs a store")
	}
	return &Ingester{store: store, states: make(map[events.StreamID]events.State)}, nil
}

// Failure stores a RecordFailed report.
func (in *Ingester) Failure(ctx context.Context, m *connectorv1.RecordFailed, meta events.Metadata) (Stored, error) {
	if err := connector.ValidateFailed(m); err != nil {
		return Stored{}, err
	}
	key := connector.RecordKeyOf(m.GetRecord())
	return in.store1(ctx, connector.RecordStream(m.GetRecord()), key, m, meta, m.GetAttemptId())
}

// Success stores a RecordSucceeded report.
func (in *Ingester) Success(ctx context.Context, m *connectorv1.RecordSucceeded, meta events.Metadata) (Stored, error) {
	if err := connector.ValidateSucceeded(m); err != nil {
		return Stored{}, err
	}
	key := connector.RecordKeyOf(m.GetRecord())
	return in.store1(ctx, connector.RecordStream(m.GetRecord()), key, m, meta, m.GetAttemptId())
}

// Updated stores a RecordUpdated report.
func (in *Ingester) Updated(ctx context.Context, m *connectorv1.RecordUpdated, meta events.Metadata) (Stored, error) {
	if err := connector.ValidateUpdated(m); err != nil {
		return Stored{}, err
	}
	key := connector.RecordKeyOf(m.GetRecord())
	ident := m.GetChange().String() + "@" + strconv.FormatInt(m.GetUpdatedAt().AsTime().UnixNano(), 10)
	return in.store1(ctx, connector.RecordStream(m.GetRecord()), key, m, meta, ident)
}

// SyncCycle stores a SyncCycleStarted report.
func (in *Ingester) SyncCycle(ctx context.Context, m *connectorv1.SyncCycleStarted, meta events.Metadata) (Stored, error) {
	if err := connector.ValidateSyncCycle(m); err != nil {
		return Stored{}, err
	}
	stream := connector.ConnectionStream(m.GetAccountId(), m.GetConnectionId())
	return in.store1(ctx, stream, "", m, meta, m.GetCycleId())
}

// store1 appends one report with an id derived from the stream, the type and ident.
func (in *Ingester) store1(ctx context.Context, stream events.StreamID, key string, msg proto.Message, meta events.Metadata, ident string) (Stored, error) {
	ev := events.NewEvent(msg, meta)
	ev.EventID = events.DeterministicEventID("ingest", stream.String(), ev.EventType, ident)
	st, err := in.append(ctx, stream, ev)
	if err != nil {
		return Stored{}, fmt.Errorf("ingest: storing %s for %s: %w", events.ShortType(ev.EventType), stream, err)
	}
	return Stored{EventID: ev.EventID, Subject: events.Subject(stream, ev.EventType), RecordKey: key, State: st}, nil
}

// append writes with the last state this Ingester saw for the stream (no lookup), falling back
// to ExpectAny when it knows none or another writer moved the stream on.
func (in *Ingester) append(ctx context.Context, stream events.StreamID, ev events.Event) (events.State, error) {
	in.mu.Lock()
	st, known := in.states[stream]
	in.mu.Unlock()
	expect := events.ExpectAny()
	if known {
		expect = events.ExpectState(st)
	}
	got, err := in.store.Append(ctx, stream, expect, ev)
	if known && errors.Is(err, events.ErrConcurrencyConflict) {
		got, err = in.store.Append(ctx, stream, events.ExpectAny(), ev)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if err != nil {
		delete(in.states, stream)
		return events.State{}, err
	}
	if len(in.states) >= maxCachedStates {
		clear(in.states)
	}
	in.states[stream] = got
	return got, nil
}

// Registry returns the connector event types, for stores and buses that carry them.
func Registry() *events.Registry {
	return events.NewRegistry(&connectorv1.RecordFailed{}, &connectorv1.RecordSucceeded{},
		&connectorv1.RecordUpdated{}, &connectorv1.SyncCycleStarted{})
}
