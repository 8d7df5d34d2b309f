package events

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
)

// CurrentSchemaVersion is the envelope schema version this code writes.
const CurrentSchemaVersion = 1

// Envelope is the metadata every stored event carries besides its payload.
type Envelope struct {
	// EventID is unique per event and time-ordered (UUIDv7). Appending an event whose id is
	// already stored is a no-op, which is what makes retried appends safe.
	EventID string
	// EventType is the payload's protobuf full name, e.g. "rebound.connector.v1.RecordFailed".
	EventType string
	// AggregateType, Account and AggregateID name the stream the event belongs to.
	AggregateType string
	Account       string
	AggregateID   string
	// Version is the event's 1-based position within its stream.
	Version uint64
	// OccurredAt is when the fact happened, as the producer saw it.
	OccurredAt time.Time
	// RecordedAt is when the store accepted the event; set by the store.
	RecordedAt time.Time
	// CorrelationID ties together every event caused, directly or not, by one request.
	CorrelationID string
	// CausationID is the id of the event or command that caused this one.
	CausationID string
	// TraceParent and TraceState carry the W3C trace context of the producer.
	TraceParent string
	TraceState  string
	// SchemaVersion is the envelope schema version the event was written with.
	SchemaVersion uint32
}

// Stream returns the id of the stream the envelope belongs to.
func (e Envelope) Stream() StreamID {
	return StreamID{AggregateType: e.AggregateType, Account: e.Account, ID: e.AggregateID}
}

// Event is one event: its envelope and its decoded protobuf payload.
type Event struct {
	Envelope
	Message proto.Message
}

// NewEvent returns an event for msg with a fresh time-ordered id, its type name and the current
// time; the store fills in the stream, the version and the recorded time when it is appended.
func NewEvent(msg proto.Message, meta Metadata) Event {
	return Event{
		Envelope: Envelope{
			EventID:       NewEventID(),
			EventType:     TypeName(msg),
			OccurredAt:    time.Now().UTC(),
			CorrelationID: meta.CorrelationID,
			CausationID:   meta.CausationID,
			TraceParent:   meta.TraceParent,
			TraceState:    meta.TraceState,
			SchemaVersion: CurrentSchemaVersion,
		},
		Message: msg,
	}
}

// Metadata is what a command or a consumed event passes on to the events it causes.
type Metadata struct {
	CorrelationID string
	CausationID   string
	TraceParent   string
	TraceState    string
}

// CausedBy returns the metadata for events caused by the event with envelope e: same
// correlation id and trace, causation set to e's event id.
func CausedBy(e Envelope) Metadata {
	corr := e.CorrelationID
	if corr == "" {
		corr = e.EventID
	}
	return Metadata{CorrelationID: corr, CausationID: e.EventID, TraceParent: e.TraceParent, TraceState: e.TraceState}
}

// Record is an event as a store hands it back, with its global position.
type Record struct {
	Event
	// Position is the event's global position in the store (1-based, increasing).
	Position uint64
	// Data is the encoded payload as stored.
	Data []byte
}

// Decoded reports whether the record's payload type is registered; Message is nil when it is not.
func (r Record) Decoded() error {
	if r.Message == nil {
		return &UnknownTypeError{Type: r.EventType}
	}
	return nil
}

// NewEventID returns a new time-ordered event id: a UUIDv7 (RFC 9562) with the Unix time in
// milliseconds in its first 48 bits and 74 random bits from the runtime's per-thread ChaCha8
// generator, which is seeded from the operating system and needs no lock, unlike reading from
// crypto/rand for every event.
func NewEventID() string {
	var id uuid.UUID
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	binary.BigEndian.PutUint16(id[6:], uint16(rand.Uint32()))
	id[0], id[1], id[2], id[3], id[4], id[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	id[6] = id[6]&0x0f | 0x70 // version 7
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return id.String()
}

// DeterministicEventID returns a stable UUID (version 5) for a name, so that reprocessing the same
// input produces the same event id and the store drops the repeat.
func DeterministicEventID(parts ...string) string {
	name := ""
	for i, p := range parts {
		if i > 0 {
			name += "\x1f"
		}
		name += p
	}
	return uuid.NewSHA1(eventNamespace, []byte(name)).String()
}

var eventNamespace = uuid.MustParse("6f1d4a52-8f0e-4b8a-9a51-3a8b8f3f6d10")

// TypeName returns the protobuf full name of msg, which is its event type.
func TypeName(msg proto.Message) string {
	return string(msg.ProtoReflect().Descriptor().FullName())
}
