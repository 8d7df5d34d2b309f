// Package wire is how an event travels on NATS: its subject (which names the aggregate type,
// account, aggregate id and event type) and the headers that carry the rest of its envelope, next
// to the protobuf payload in the message body. Subscribers in other services can read these
// without Rebound's Go code; the README lists them.
package wire

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/reboundhq/rebound/events"
)

// Header names. They are public: subscribers and ops tools rely on them.
const (
	HeaderEventID       = "Nats-Msg-Id"
	HeaderEventType     = "Rebound-Event-Type"
	HeaderVersion       = "Rebound-Version"
	HeaderOccurredAt    = "Rebound-Occurred-At"
	HeaderCorrelationID = "Rebound-Correlation-Id"
	HeaderCausationID   = "Rebound-Causation-Id"
	HeaderSchemaVersion = "Rebound-Schema-Version"
	HeaderTraceParent   = "traceparent"
	HeaderTraceState    = "tracestate"
)

// Message returns the NATS message that stores ev with the encoded payload data. The aggregate
// type, account and id travel in the subject only; optional headers are left out when empty, and
// the schema version when it is the first one: every header costs the server a scan per publish.
func Message(ev events.Event, data []byte) *nats.Msg {
	return MessageWithExtra(ev, data, 0)
}

// MessageWithExtra is Message with room for extra more headers, so a store that adds its own
// (expectations) does not grow the header map.
func MessageWithExtra(ev events.Event, data []byte, extra int) *nats.Msg {
	// One backing array for every header value: a message costs a handful of allocations, not
	// one per header.
	vals := make([]string, 0, 9)
	h := make(nats.Header, 9+extra)
	set := func(k, v string) {
		if v != "" {
			vals = append(vals, v)
			h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	var buf [40]byte
	set(HeaderEventID, ev.EventID)
	set(HeaderEventType, ev.EventType)
	set(HeaderVersion, strconv.FormatUint(ev.Version, 10))
	set(HeaderOccurredAt, string(ev.OccurredAt.UTC().AppendFormat(buf[:0], time.RFC3339Nano)))
	set(HeaderCorrelationID, ev.CorrelationID)
	set(HeaderCausationID, ev.CausationID)
	if ev.SchemaVersion > 1 {
		set(HeaderSchemaVersion, strconv.FormatUint(uint64(ev.SchemaVersion), 10))
	}
	set(HeaderTraceParent, ev.TraceParent)
	set(HeaderTraceState, ev.TraceState)
	return &nats.Msg{
		Subject: events.Subject(ev.Stream(), ev.EventType),
		Header:  h,
		Data:    data,
	}
}

// Envelope reads an event's envelope from its subject and headers. recordedAt is the store's
// timestamp of the message. A message that is not a well-formed Rebound event is an error
// wrapping events.ErrInvalidArgument that says what is wrong.
func Envelope(subject string, h nats.Header, recordedAt time.Time) (events.Envelope, error) {
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	env := events.Envelope{
		EventID:       get(HeaderEventID),
		EventType:     get(HeaderEventType),
		CorrelationID: get(HeaderCorrelationID),
		CausationID:   get(HeaderCausationID),
		TraceParent:   get(HeaderTraceParent),
		TraceState:    get(HeaderTraceState),
		RecordedAt:    recordedAt,
	}
	if env.EventID == "" {
		return env, malformed(subject, "no %s header", HeaderEventID)
	}
	if env.EventType == "" {
		return env, malformed(subject, "no %s header", HeaderEventType)
	}
	stream, short, err := events.ParseSubject(subject)
	if err != nil {
		return env, malformed(subject, "the subject is not evt.<aggregate>.<account>.<id>.<EventType>")
	}
	if short != events.ShortType(env.EventType) {
		return env, malformed(subject, "the subject names %s but %s says %s", short, HeaderEventType, env.EventType)
	}
	env.AggregateType, env.Account, env.AggregateID = stream.AggregateType, stream.Account, stream.ID
	v, err := strconv.ParseUint(get(HeaderVersion), 10, 64)
	if err != nil || v == 0 {
		return env, malformed(subject, "%s header %q is not a version (1, 2, ...)", HeaderVersion, get(HeaderVersion))
	}
	env.Version = v
	if s := get(HeaderOccurredAt); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return env, malformed(subject, "%s header %q is not an RFC 3339 time", HeaderOccurredAt, s)
		}
		env.OccurredAt = t
	}
	env.SchemaVersion = events.CurrentSchemaVersion
	if s := get(HeaderSchemaVersion); s != "" {
		sv, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return env, malformed(subject, "%s header %q is not a number", HeaderSchemaVersion, s)
		}
		env.SchemaVersion = uint32(sv)
	}
	return env, nil
}

// Decode reads a whole event: its envelope and, when reg knows the type, its payload. An
// unregistered type yields a record with a nil Message and no error; a registered type whose
// payload does not decode is an error.
func Decode(reg *events.Registry, subject string, h nats.Header, data []byte, recordedAt time.Time, position uint64) (events.Record, error) {
	env, err := Envelope(subject, h, recordedAt)
	if err != nil {
		return events.Record{}, err
	}
	rec := events.Record{Event: events.Event{Envelope: env}, Position: position, Data: data}
	if !reg.Known(env.EventType) {
		return rec, nil
	}
	msg, err := reg.Decode(env.EventType, data)
	if err != nil {
		return rec, fmt.Errorf("%w: %s at position %d: %w", events.ErrInvalidArgument, subject, position, err)
	}
	rec.Message = msg
	return rec, nil
}

func malformed(subject, format string, args ...any) error {
	return fmt.Errorf("%w: malformed event on %s: %s", events.ErrInvalidArgument, subject, fmt.Sprintf(format, args...))
}
