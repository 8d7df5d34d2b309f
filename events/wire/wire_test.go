package wire_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/wire"
)

func sample() (events.Event, []byte) {
	msg := &connectorv1.RecordFailed{AttemptId: "a1", Message: "boom"}
	ev := events.NewEvent(msg, events.Metadata{CorrelationID: "c1", CausationID: "k1", TraceParent: "00-aa-bb-01"})
	ev.AggregateType, ev.Account, ev.AggregateID, ev.Version = "record", "acme", "r1", 7
	data, _ := proto.Marshal(msg)
	return ev, data
}

func TestMessage_roundTrip(t *testing.T) {
	ev, data := sample()
	m := wire.Message(ev, data)
	if m.Subject != "evt.record.acme.r1.RecordFailed" {
		t.Fatalf("subject %q", m.Subject)
	}
	recorded := time.Now().UTC()
	reg := events.NewRegistry(&connectorv1.RecordFailed{})
	rec, err := wire.Decode(reg, m.Subject, m.Header, m.Data, recorded, 42)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := ev.Envelope
	want.RecordedAt = recorded
	if rec.Envelope != want {
		t.Fatalf("envelope\n got %+v\nwant %+v", rec.Envelope, want)
	}
	if rec.Position != 42 || !proto.Equal(rec.Message, ev.Message) {
		t.Fatalf("position %d, message %v", rec.Position, rec.Message)
	}
	// An unregistered type decodes its envelope and leaves the body for the caller.
	rec, err = wire.Decode(events.NewRegistry(), m.Subject, m.Header, m.Data, recorded, 42)
	if err != nil || rec.Message != nil || !errors.Is(rec.Decoded(), events.ErrUnknownType) {
		t.Fatalf("unregistered type: %v, message %v, Decoded %v", err, rec.Message, rec.Decoded())
	}
}

func TestDecode_malformedSaysWhy(t *testing.T) {
	ev, data := sample()
	reg := events.NewRegistry(&connectorv1.RecordFailed{})
	cases := map[string]struct {
		subject string
		edit    func(nats.Header)
		data    []byte
		want    string
	}{
		"no event id":     {"", func(h nats.Header) { h.Del(wire.HeaderEventID) }, data, wire.HeaderEventID},
		"no type":         {"", func(h nats.Header) { h.Del(wire.HeaderEventType) }, data, wire.HeaderEventType},
		"bad version":     {"", func(h nats.Header) { h.Set(wire.HeaderVersion, "zero") }, data, wire.HeaderVersion},
		"version zero":    {"", func(h nats.Header) { h.Set(wire.HeaderVersion, "0") }, data, wire.HeaderVersion},
		"bad time":        {"", func(h nats.Header) { h.Set(wire.HeaderOccurredAt, "yesterday") }, data, wire.HeaderOccurredAt},
		"short subject":   {"evt.record.acme", func(nats.Header) {}, data, "not evt.<aggregate>"},
		"type mismatch":   {"evt.record.acme.r1.RecordSucceeded", func(nats.Header) {}, data, "names RecordSucceeded"},
		"garbage payload": {"", func(nats.Header) {}, []byte{0xff, 0xff, 0xff}, "decoding rebound.connector.v1.RecordFailed"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := wire.Message(ev, data)
			tc.edit(m.Header)
			subject := m.Subject
			if tc.subject != "" {
				subject = tc.subject
			}
			_, err := wire.Decode(reg, subject, m.Header, tc.data, time.Now(), 1)
			if !errors.Is(err, events.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want ErrInvalidArgument mentioning %q", err, tc.want)
			}
		})
	}
}
