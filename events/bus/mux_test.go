package bus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/wire"
)

// A Mux hands each routed event type to its typed function with the correlation id in the
// context, and acks events of types without a route.
func TestMux_routesByType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := unique("mux")
	type seen struct{ message, correlation string }
	got := make(chan seen, 2)
	var m bus.Mux
	bus.On(&m, func(ctx context.Context, env events.Envelope, msg *connectorv1.RecordFailed) error {
		got <- seen{msg.GetMessage(), bus.CorrelationID(ctx)}
		return nil
	})
	if types := m.Types(); len(types) != 1 || types[0] != "rebound.connector.v1.RecordFailed" {
		t.Errorf("Types() = %v", types)
	}
	e.run(t, bus.Config{}, bus.Handler{Name: name, Subjects: e.subjects(), Func: m.Func()})

	e.append(t, "order-1", &connectorv1.RecordSucceeded{}, events.Metadata{})
	e.append(t, "order-1", failed("timeout"), events.Metadata{CorrelationID: "request-42"})
	uncorrelated := e.append(t, "order-2", failed("refused"), events.Metadata{})
	want := []seen{{"timeout", "request-42"}, {"refused", uncorrelated.EventID}}
	for _, w := range want {
		select {
		case s := <-got:
			if s != w {
				t.Errorf("handled %+v, want %+v", s, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q was not handled", w.message)
		}
	}
	e.settled(t, "EVENTS", name)
	if p, err := bus.ListPoison(t.Context(), e.js, name); err != nil || len(p) != 0 {
		t.Errorf("ListPoison = %d messages, %v; want none", len(p), err)
	}
}

// A stream of bare protobuf messages (no envelope) is handled through BareDecoder; a message
// whose type cannot be told is poisoned.
func TestBareDecoder_ingestStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := unique("ingest")
	prefix := unique("ingest")
	if _, err := e.js.CreateOrUpdateStream(t.Context(), jetstream.StreamConfig{
		Name: strings.ToUpper(prefix), Subjects: []string{prefix + ".>"}, Storage: jetstream.MemoryStorage,
	}); err != nil {
		t.Fatal(err)
	}
	const typeHeader = "Rebound-Event-Type"
	got := make(chan events.Record, 1)
	var m bus.Mux
	bus.On(&m, func(ctx context.Context, env events.Envelope, msg *connectorv1.RecordFailed) error {
		rec := events.Record{Event: events.Event{Envelope: env, Message: msg}}
		got <- rec
		return nil
	})
	e.run(t, bus.Config{}, bus.Handler{
		Name:     name,
		Stream:   strings.ToUpper(prefix),
		Subjects: []string{prefix + ".>"},
		Decode: bus.BareDecoder(func(d bus.Delivery) (string, error) {
			if t := d.Header.Get(typeHeader); t != "" {
				return t, nil
			}
			return "", bus.Permanent(errors.New("no " + typeHeader + " header"))
		}),
		Func: m.Func(),
	})

	untyped := nats.NewMsg(prefix + ".failure")
	untyped.Data = []byte("x")
	if _, err := e.js.PublishMsg(t.Context(), untyped); err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(failed("connection refused"))
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(prefix + ".failure")
	msg.Header.Set(typeHeader, "rebound.connector.v1.RecordFailed")
	msg.Header.Set(wire.HeaderCorrelationID, "connector-1")
	msg.Data = data
	if _, err := e.js.PublishMsg(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	select {
	case rec := <-got:
		if rec.Message.(*connectorv1.RecordFailed).GetMessage() != "connection refused" || rec.CorrelationID != "connector-1" || rec.EventID == "" {
			t.Errorf("handled %+v", rec)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the ingest message was not handled")
	}
	e.settled(t, strings.ToUpper(prefix), name)
	p, err := bus.ListPoison(t.Context(), e.js, name)
	if err != nil || len(p) != 1 || !strings.Contains(p[0].Reason, "no "+typeHeader+" header") {
		t.Errorf("ListPoison = %+v, %v; want the untyped message", p, err)
	}
}
