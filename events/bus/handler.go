package bus

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/wire"
)

// HandlerFunc handles one decoded message. It returns nil only once everything it wrote is
// stored: the bus acks the message right after. An error marked by Permanent (or wrapping
// events.ErrInvalidArgument or events.ErrUnknownType) sends the message to the poison subject;
// any other error is retried. A HandlerFunc of a handler with several workers is called
// concurrently, for different aggregates.
type HandlerFunc func(ctx context.Context, rec events.Record) error

// Handler is one consumer of the bus: a durable JetStream consumer on Stream filtered to
// Subjects, whose messages are decoded by Decode and handled by Func.
type Handler struct {
	// Name identifies the handler ([a-z0-9][a-z0-9_-]{0,63}). It is the durable consumer's name
	// and the suffix of its poison and re-drive subjects, so it is a persisted identifier:
	// renaming it starts a new consumer from the first message of the stream.
	Name string
	// Stream is the stream to consume; default EVENTS.
	Stream string
	// Subjects are the consumer's filter subjects (evt.alert.>, evt.*.*.*.RecordFailed); at
	// least one is required.
	Subjects []string
	// Decode turns a delivery into a record; default DecodeEvent.
	Decode DecodeFunc
	// Workers is how many messages the handler processes at once; default 1. Messages with
	// the same partition key always go to the same worker, in stream order.
	Workers int
	// Partition returns a delivery's partition key; default: the aggregate of an event subject
	// (evt.<aggregate>.<account>.<id>), otherwise the whole subject. A stream whose subjects do
	// not name what must stay in order (every ingest report arrives on one subject) sets its own,
	// or SpreadEvenly when order does not matter.
	Partition func(Delivery) string
	// Func handles each message. Required.
	Func HandlerFunc
}

var handlerNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func (h *Handler) setDefaults() {
	if h.Stream == "" {
		h.Stream = natsstore.DefaultStream
	}
	if h.Decode == nil {
		h.Decode = DecodeEvent
	}
	if h.Workers == 0 {
		h.Workers = 1
	}
}

// SpreadEvenly is a Partition that spreads deliveries over the workers in turn, with no order
// between them.
func SpreadEvenly(d Delivery) string { return strconv.FormatUint(d.Sequence, 10) }

// Validate reports every problem with the handler, with defaults applied first.
func (h Handler) Validate() error {
	h.setDefaults()
	var errs []error
	if !handlerNameRE.MatchString(h.Name) {
		errs = append(errs, fmt.Errorf("bus: handler name %q must match %s", h.Name, handlerNameRE))
	}
	if h.Stream == PoisonStream {
		errs = append(errs, fmt.Errorf("bus: handler %s cannot consume the %s stream", h.Name, PoisonStream))
	}
	if len(h.Subjects) == 0 {
		errs = append(errs, fmt.Errorf("bus: handler %s has no subjects", h.Name))
	}
	for _, s := range h.Subjects {
		if err := events.ValidateFilter(s); err != nil {
			errs = append(errs, fmt.Errorf("bus: handler %s: %w", h.Name, err))
		}
	}
	if h.Workers < 0 {
		errs = append(errs, fmt.Errorf("bus: handler %s: Workers %d is negative", h.Name, h.Workers))
	}
	if h.Func == nil {
		errs = append(errs, fmt.Errorf("bus: handler %s has no Func", h.Name))
	}
	return errors.Join(errs...)
}

// Delivery is a message as a handler's consumer received it, before decoding.
type Delivery struct {
	// Subject is the subject the message was stored under; for a re-driven message, the subject
	// it was originally stored under.
	Subject string
	// Header holds the message's headers; for a re-driven message, its original headers.
	Header nats.Header
	// Data is the message body.
	Data []byte
	// Stream and Sequence locate the message (for a re-driven message, the original one).
	Stream   string
	Sequence uint64
	// Timestamp is when the stream stored the message.
	Timestamp time.Time
	// NumDelivered counts JetStream's deliveries of this message to the handler (1 the first time).
	NumDelivered uint64
	// Redriven reports whether the message came back from the poison stream through Redrive.
	Redriven bool

	// redriveSeq is the POISON stream sequence of the re-drive message.
	redriveSeq uint64
}

// DecodeFunc turns a delivery into the record a HandlerFunc receives. Decoding is
// deterministic, so every error it returns is treated as permanent.
type DecodeFunc func(reg *events.Registry, d Delivery) (events.Record, error)

// DecodeEvent decodes a Rebound event (package wire: envelope in headers, protobuf payload). A
// message that is not a well-formed event, or whose registered type does not decode, is an
// error; an event of a type reg does not know yields a record with a nil Message.
func DecodeEvent(reg *events.Registry, d Delivery) (events.Record, error) {
	return wire.Decode(reg, d.Subject, d.Header, d.Data, d.Timestamp, d.Sequence)
}

// BareDecoder returns a DecodeFunc for streams whose bodies are bare protobuf messages without
// an event envelope (such as ingest subjects): typeOf names the message's protobuf type, from a
// header or the subject. The record's event id is the Nats-Msg-Id header, or one derived from
// the stream and sequence; its occurred and recorded times are the stream's timestamp, and its
// correlation id the Rebound-Correlation-Id header. A type reg does not know is an error.
func BareDecoder(typeOf func(Delivery) (string, error)) DecodeFunc {
	return func(reg *events.Registry, d Delivery) (events.Record, error) {
		eventType, err := typeOf(d)
		if err != nil {
			return events.Record{}, err
		}
		msg, err := reg.Decode(eventType, d.Data)
		if err != nil {
			if errors.Is(err, events.ErrUnknownType) {
				return events.Record{}, err
			}
			return events.Record{}, fmt.Errorf("%w: %s at sequence %d: %w", events.ErrInvalidArgument, d.Subject, d.Sequence, err)
		}
		id := d.Header.Get(wire.HeaderEventID)
		if id == "" {
			id = events.DeterministicEventID(d.Stream, fmt.Sprint(d.Sequence))
		}
		return events.Record{
			Event: events.Event{
				Envelope: events.Envelope{
					EventID:       id,
					EventType:     eventType,
					OccurredAt:    d.Timestamp,
					RecordedAt:    d.Timestamp,
					CorrelationID: d.Header.Get(wire.HeaderCorrelationID),
					CausationID:   d.Header.Get(wire.HeaderCausationID),
					TraceParent:   d.Header.Get(wire.HeaderTraceParent),
					TraceState:    d.Header.Get(wire.HeaderTraceState),
					SchemaVersion: events.CurrentSchemaVersion,
				},
				Message: msg,
			},
			Position: d.Sequence,
			Data:     d.Data,
		}, nil
	}
}
