package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
)

// The events come from histories the alerts service recorded (its golden replay tests), written
// to a real embedded NATS server by Rebound's own event store: the subjects, headers and bodies
// are exactly what a running Rebound stores.
const histories = "../../services/alerts/domain"

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) lines() []string {
	out := strings.TrimSpace(s.String())
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// start starts an embedded NATS server with Rebound's EVENTS stream.
func start(t *testing.T) (string, *natsstore.Store, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Start(t, "")
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	reg := events.NewRegistry()
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if strings.HasPrefix(string(mt.Descriptor().FullName()), alertsPackage+".") {
			reg.Register(mt.New().Interface())
		}
		return true
	})
	store, err := natsstore.New(context.Background(), js, reg, natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return srv.ClientURL(), store, js
}

// recorded is one event of a recorded history.
type recorded struct {
	ID, Type string
}

// appendHistory stores a recorded history as stream and returns its events.
func appendHistory(t *testing.T, store *natsstore.Store, stream events.StreamID, file string) []recorded {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(histories, file))
	if err != nil {
		t.Fatal(err)
	}
	var (
		evs []events.Event
		out []recorded
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var l struct {
			EventID    string          `json:"event_id"`
			EventType  string          `json:"event_type"`
			OccurredAt time.Time       `json:"occurred_at"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(l.EventType))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		msg := mt.New().Interface()
		if err := protojson.Unmarshal(l.Payload, msg); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		evs = append(evs, events.Event{Envelope: events.Envelope{
			EventID: l.EventID, EventType: l.EventType, OccurredAt: l.OccurredAt, CorrelationID: "corr-" + file,
			SchemaVersion: events.CurrentSchemaVersion,
		}, Message: msg})
		out = append(out, recorded{ID: l.EventID, Type: l.EventType})
	}
	if _, err := store.Append(context.Background(), stream, events.ExpectNoStream(), evs...); err != nil {
		t.Fatalf("appending %s: %v", file, err)
	}
	return out
}

func alertStream(account, id string) events.StreamID {
	return events.StreamID{AggregateType: "alert", Account: account, ID: id}
}

// eventually polls cond until it holds or ten seconds passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		<-poll.C
	}
}

// TestRun_printsAlertEventsAndResumes runs the program as a service would: it prints one
// account's alert events, stops, and after a restart with the same durable consumer receives
// only what was stored meanwhile.
func TestRun_printsAlertEventsAndResumes(t *testing.T) {
	t.Parallel()
	url, store, js := start(t)
	regression := appendHistory(t, store, alertStream("merchant-1", "alt_w7wjerungpvws6fn37brgz2tzu"), "alert/testdata/regression.history.jsonl")
	// Neither an outage nor another account's alert reaches a subscriber of merchant-1's alerts.
	appendHistory(t, store, events.StreamID{AggregateType: "outage", Account: "merchant-1", ID: "wms-1"}, "outage/testdata/down.history.jsonl")
	appendHistory(t, store, alertStream("merchant-2", "alt_d4aq5p74twm7t2mwws4rckznl4"), "alert/testdata/covered.history.jsonl")

	args := []string{"--nats-url", url, "--durable", "ops-feed", "--account", "merchant-1"}
	runUntil := func(want int) (*syncBuffer, *syncBuffer) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out, errOut := &syncBuffer{}, &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- run(ctx, args, out, errOut) }()
		eventually(t, "printing the events", func() bool { return len(out.lines()) >= want })
		// Nothing more may come: the consumer has delivered and acked everything it had.
		eventually(t, "the consumer acking everything", func() bool {
			cons, err := js.Consumer(context.Background(), "EVENTS", "ops-feed")
			if err != nil {
				return false
			}
			info, err := cons.Info(context.Background())
			return err == nil && info.NumPending == 0 && info.NumAckPending == 0
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run: %v (%s)", err, errOut)
		}
		if got := out.lines(); len(got) != want {
			t.Fatalf("printed %d lines, want %d:\n%s", len(got), want, out)
		}
		return out, errOut
	}

	out, errOut := runUntil(len(regression))
	if !strings.Contains(errOut.String(), "created consumer ops-feed on EVENTS, subjects [evt.alert.merchant-1.>]: 8 events waiting") {
		t.Fatalf("stderr: %s", errOut)
	}
	for i, line := range out.lines() {
		short := strings.TrimPrefix(regression[i].Type, alertsPackage+".")
		if !strings.Contains(line, " "+short+" alert/merchant-1/alt_w7wjerungpvws6fn37brgz2tzu v") {
			t.Errorf("line %d is not the %s: %s", i, short, line)
		}
	}
	if first := out.lines()[0]; !strings.HasSuffix(first, "v1: raised wms_unavailable (transient) on order #1001 via wms-1: HTTP 503 Service Unavailable") {
		t.Errorf("the first line says %q", first)
	}

	// Stored while the subscriber was away: a new incarnation of another alert.
	incarnation := appendHistory(t, store, alertStream("merchant-1", "alt_43tgehvvt7iinwyklhcniqxy5a"), "alert/testdata/new_incarnation.history.jsonl")
	out, errOut = runUntil(len(incarnation))
	if !strings.Contains(errOut.String(), "resuming consumer ops-feed on EVENTS, subjects [evt.alert.merchant-1.>]: 6 events waiting") {
		t.Fatalf("stderr after the restart: %s", errOut)
	}
	for i, line := range out.lines() {
		if !strings.Contains(line, "alert/merchant-1/alt_43tgehvvt7iinwyklhcniqxy5a") || !strings.Contains(line, " "+strings.TrimPrefix(incarnation[i].Type, alertsPackage+".")+" ") {
			t.Errorf("after the restart, line %d is %s", i, line)
		}
	}
}

// TestSubscriber_decodesGeneratedTypesAndSkipsWhatItCannotUse checks the handler gets the
// generated Go types, that a failed handling comes again, and that messages it cannot use are
// acknowledged away instead of blocking the consumer.
func TestSubscriber_decodesGeneratedTypesAndSkipsWhatItCannotUse(t *testing.T) {
	t.Parallel()
	url, store, js := start(t)
	ctx := context.Background()
	var want []recorded
	want = append(want, appendHistory(t, store, alertStream("merchant-1", "alt_w7wjerungpvws6fn37brgz2tzu"), "alert/testdata/regression.history.jsonl")...)
	want = append(want, appendHistory(t, store, events.StreamID{AggregateType: "outage", Account: "merchant-1", ID: "wms-1"}, "outage/testdata/down.history.jsonl")...)
	// A type from a newer Rebound, and a body that does not decode.
	for _, m := range []*nats.Msg{
		{Subject: "evt.alert.merchant-1.alt_x.AlertSnoozed", Header: nats.Header{headerEventID: {"snoozed-1"}, headerEventType: {"rebound.alerts.v1.AlertSnoozed"}, headerVersion: {"1"}}, Data: []byte{}},
		{Subject: "evt.alert.merchant-1.alt_y.AlertRaised", Header: nats.Header{headerEventID: {"garbage-1"}, headerEventType: {"rebound.alerts.v1.AlertRaised"}, headerVersion: {"1"}}, Data: []byte{0xff, 0xff, 0xff}},
	} {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	want = append(want, appendHistory(t, store, alertStream("merchant-1", "alt_d4aq5p74twm7t2mwws4rckznl4"), "alert/testdata/covered.history.jsonl")...)

	nc := natstest.Connect(t, url)
	sjs, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	s, err := Bind(ctx, sjs, Config{Durable: "typed", Account: "merchant-1", Outages: true, RetryDelay: 50 * time.Millisecond}, log)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		got      = map[string]Event{}
		attempts = map[string]int{}
	)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- s.Run(runCtx, func(_ context.Context, ev Event) error {
			mu.Lock()
			defer mu.Unlock()
			attempts[ev.ID]++
			if ev.ID == want[0].ID && attempts[ev.ID] == 1 {
				return context.DeadlineExceeded // the first handling of the first event fails
			}
			got[ev.ID] = ev
			return nil
		})
	}()
	eventually(t, "handling every event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == len(want)
	})
	eventually(t, "acknowledging every message", func() bool {
		info, err := s.consumer.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	for _, w := range want {
		ev, ok := got[w.ID]
		if !ok || ev.Type != w.Type || string(ev.Message.ProtoReflect().Descriptor().FullName()) != w.Type || ev.Version == 0 || ev.Position == 0 {
			t.Fatalf("event %s (%s): got %+v", w.ID, w.Type, ev)
		}
	}
	first := got[want[0].ID]
	raised, ok := first.Message.(*alertsv1.AlertRaised)
	if !ok || raised.GetAlert().GetRecord().GetOrderNumber() != "#1001" || raised.GetFailure().GetHttpStatus() != 503 ||
		first.Aggregate != "alert" || first.Account != "merchant-1" || first.AggregateID != raised.GetAlert().GetAlertId() ||
		first.CorrelationID != "corr-alert/testdata/regression.history.jsonl" || first.OccurredAt.IsZero() {
		t.Fatalf("the first event decoded to %+v", first)
	}
	if attempts[want[0].ID] != 2 {
		t.Fatalf("the failed event was handled %d times, want 2", attempts[want[0].ID])
	}
	var down *alertsv1.ConnectionDown
	for _, ev := range got {
		if d, ok := ev.Message.(*alertsv1.ConnectionDown); ok && ev.Aggregate == "outage" && ev.AggregateID == "wms-1" {
			down = d
		}
	}
	if down == nil || down.GetConnection().GetConnectionId() != "wms-1" {
		t.Fatalf("no ConnectionDown of wms-1 among the outage events")
	}
	for _, want := range []string{"skipping evt.alert.merchant-1.alt_x.AlertSnoozed", "dropping a malformed message on evt.alert.merchant-1.alt_y.AlertRaised", "it comes again in 50ms"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}
