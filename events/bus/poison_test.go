package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/wire"
)

// Messages that do not decode go to poison.<handler> with their reason and original subject,
// and the consumer goes on to the next event.
func TestBus_undecodableMessagesArePoisoned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := unique("undecodable")
	var handled counter
	e.run(t, bus.Config{}, bus.Handler{
		Name:     name,
		Subjects: e.subjects(),
		Func: func(_ context.Context, rec events.Record) error {
			handled.add(rec.EventID)
			return nil
		},
	})

	// Raw bytes without an envelope.
	rawSubject := events.Subject(e.stream("raw"), "rebound.connector.v1.RecordFailed")
	rawAck, err := e.js.Publish(t.Context(), rawSubject, []byte("not an event"))
	if err != nil {
		t.Fatal(err)
	}
	// A well-formed envelope of a registered type whose payload does not decode.
	ev := events.NewEvent(failed(""), events.Metadata{})
	ev.AggregateType, ev.Account, ev.AggregateID, ev.Version = "record", e.account, "garbage", 1
	garbage := wire.Message(ev, []byte{0xff, 0xff, 0xff})
	garbageAck, err := e.js.PublishMsg(t.Context(), garbage)
	if err != nil {
		t.Fatal(err)
	}
	good := e.append(t, "good", failed("timeout"), events.Metadata{})

	eventually(t, 10*time.Second, func() bool { return handled.get(good.EventID) == 1 }, "the good event is handled")
	e.settled(t, "EVENTS", name)
	poisoned, err := bus.ListPoison(t.Context(), e.js, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(poisoned) != 2 {
		t.Fatalf("%d poisoned messages, want 2: %+v", len(poisoned), poisoned)
	}
	want := []struct {
		subject string
		seq     uint64
		reason  string
		data    []byte
	}{
		{rawSubject, rawAck.Sequence, "no Nats-Msg-Id header", []byte("not an event")},
		{garbage.Subject, garbageAck.Sequence, "decoding rebound.connector.v1.RecordFailed", garbage.Data},
	}
	for i, w := range want {
		p := poisoned[i]
		if p.Handler != name || p.Subject != w.subject || p.Stream != "EVENTS" || p.StreamSequence != w.seq {
			t.Errorf("poisoned[%d] = handler %s, %s in %s at %d; want %s, %s in EVENTS at %d",
				i, p.Handler, p.Subject, p.Stream, p.StreamSequence, name, w.subject, w.seq)
		}
		if !strings.Contains(p.Reason, w.reason) {
			t.Errorf("poisoned[%d] reason %q does not say %q", i, p.Reason, w.reason)
		}
		if string(p.Data) != string(w.data) {
			t.Errorf("poisoned[%d] body %q, want the original %q", i, p.Data, w.data)
		}
		if p.At.IsZero() {
			t.Errorf("poisoned[%d] has no time", i)
		}
	}
	if got := poisoned[1].Headers.Get(wire.HeaderEventID); got != ev.EventID {
		t.Errorf("poisoned message keeps event id %q, want %q", got, ev.EventID)
	}
	// The poison headers are on the stored message itself, for tools that do not use ListPoison.
	stream, err := e.js.Stream(t.Context(), bus.PoisonStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := stream.GetMsg(t.Context(), poisoned[0].Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Subject != bus.PoisonSubject(name) {
		t.Errorf("poisoned on %s, want %s", raw.Subject, bus.PoisonSubject(name))
	}
	for _, h := range []string{bus.HeaderPoisonHandler, bus.HeaderPoisonReason, bus.HeaderPoisonSubject,
		bus.HeaderPoisonStream, bus.HeaderPoisonSequence, bus.HeaderPoisonAt} {
		if raw.Header.Get(h) == "" {
			t.Errorf("poisoned message has no %s header: %v", h, raw.Header)
		}
	}
}

// A handler's permanent errors (marked, invalid arguments, panics) send the message to the
// poison subject at once, with the reason, and the consumer goes on.
func TestBus_permanentFailuresArePoisoned(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		fail   func() error
		reason string
	}{
		{"marked permanent", func() error { return bus.Permanent(errors.New("ship method UPS-X is not mapped")) }, "ship method UPS-X is not mapped"},
		{"invalid argument", func() error { return fmt.Errorf("bad record id: %w", events.ErrInvalidArgument) }, "bad record id"},
		{"panic", func() error { panic("nil map in the classifier") }, "handler panicked: nil map in the classifier"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			name := unique("permanent")
			var calls, handled counter
			e.run(t, bus.Config{}, bus.Handler{
				Name:     name,
				Subjects: e.subjects(),
				Func: func(_ context.Context, rec events.Record) error {
					calls.add(rec.EventID)
					if rec.AggregateID == "bad" {
						return tc.fail()
					}
					handled.add(rec.EventID)
					return nil
				},
			})
			bad := e.append(t, "bad", failed("address invalid"), events.Metadata{})
			next := e.append(t, "next", failed("timeout"), events.Metadata{})
			eventually(t, 10*time.Second, func() bool { return handled.get(next.EventID) == 1 }, "the next event is handled")
			e.settled(t, "EVENTS", name)
			if got := calls.get(bad.EventID); got != 1 {
				t.Errorf("failing handler called %d times, want once (no retries)", got)
			}
			poisoned, err := bus.ListPoison(t.Context(), e.js, name)
			if err != nil {
				t.Fatal(err)
			}
			if len(poisoned) != 1 {
				t.Fatalf("%d poisoned messages, want 1", len(poisoned))
			}
			p := poisoned[0]
			if !strings.Contains(p.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", p.Reason, tc.reason)
			}
			if p.Subject != events.Subject(e.stream("bad"), bad.EventType) {
				t.Errorf("poisoned subject %s, want the original", p.Subject)
			}
			if got := p.Headers.Get(wire.HeaderEventID); got != bad.EventID {
				t.Errorf("poisoned event id %q, want %q", got, bad.EventID)
			}
			if !strings.Contains(e.logs.String(), "message poisoned") {
				t.Errorf("no log line for the poisoned message")
			}
		})
	}
}

// A message poisoned by a broken handler is handled once re-driven after the fix; re-driven
// while the handler is still broken, it is poisoned again.
func TestBus_redriveAfterFix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := unique("redrive")
	var fixed, calls counter
	var handled = make(chan events.Record, 1)
	e.run(t, bus.Config{}, bus.Handler{
		Name:     name,
		Subjects: e.subjects(),
		Func: func(ctx context.Context, rec events.Record) error {
			calls.add(rec.EventID)
			if fixed.get("fixed") == 0 {
				return bus.Permanent(errors.New("ship method not mapped"))
			}
			d, _ := bus.DeliveryFrom(ctx)
			if !d.Redriven {
				return fmt.Errorf("delivery not marked as re-driven: %+v", d)
			}
			handled <- rec
			return nil
		},
	})
	ev := e.append(t, "order-7", failed("ship method not mapped"), events.Metadata{CorrelationID: "corr-7"})
	var first []bus.PoisonMessage
	eventually(t, 10*time.Second, func() bool {
		first, _ = bus.ListPoison(t.Context(), e.js, name)
		return len(first) == 1
	}, "the event is poisoned")
	e.settled(t, "EVENTS", name)

	// Still broken: the re-driven message is poisoned again, under a new sequence.
	if n, err := bus.Redrive(t.Context(), e.js, name); err != nil || n != 1 {
		t.Fatalf("Redrive = %d, %v; want 1, nil", n, err)
	}
	var second []bus.PoisonMessage
	eventually(t, 10*time.Second, func() bool {
		second, _ = bus.ListPoison(t.Context(), e.js, name)
		return len(second) == 1 && second[0].Sequence != first[0].Sequence
	}, "the re-driven event is poisoned again")
	if second[0].Subject != first[0].Subject || second[0].StreamSequence != first[0].StreamSequence {
		t.Errorf("poisoned again as %s at %d, want the original %s at %d",
			second[0].Subject, second[0].StreamSequence, first[0].Subject, first[0].StreamSequence)
	}

	// Another handler's sequence is refused.
	if _, err := bus.Redrive(t.Context(), e.js, unique("other"), second[0].Sequence); !errors.Is(err, events.ErrInvalidArgument) {
		t.Errorf("Redrive of another handler's message: %v, want ErrInvalidArgument", err)
	}

	fixed.add("fixed")
	if n, err := bus.Redrive(t.Context(), e.js, name, second[0].Sequence); err != nil || n != 1 {
		t.Fatalf("Redrive = %d, %v; want 1, nil", n, err)
	}
	var rec events.Record
	select {
	case rec = <-handled:
	case <-time.After(10 * time.Second):
		t.Fatal("the re-driven event was not handled")
	}
	if rec.EventID != ev.EventID || rec.CorrelationID != "corr-7" || rec.Position != first[0].StreamSequence {
		t.Errorf("re-driven record %s (correlation %s) at %d, want %s (corr-7) at %d",
			rec.EventID, rec.CorrelationID, rec.Position, ev.EventID, first[0].StreamSequence)
	}
	if got := rec.Message.(interface{ GetMessage() string }).GetMessage(); got != "ship method not mapped" {
		t.Errorf("re-driven payload %q", got)
	}
	e.settled(t, bus.PoisonStream, name)
	if left, err := bus.ListPoison(t.Context(), e.js, name); err != nil || len(left) != 0 {
		t.Errorf("ListPoison after the fix = %d messages, %v; want none", len(left), err)
	}
	if got := calls.get(ev.EventID); got != 3 {
		t.Errorf("handler called %d times, want 3 (original, first re-drive, second re-drive)", got)
	}
}
