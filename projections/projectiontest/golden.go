package projectiontest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/reboundhq/rebound/events"
)

// Line is one event of a history file (JSON Lines): the stream it was stored on, its type, when
// it happened and its payload as protojson.
//
//	{"stream":"alert/merchant-1/alt_…","event_type":"rebound.alerts.v1.AlertRaised",
//	 "occurred_at":"2026-03-02T09:00:01Z","payload":{…}}
//
// Histories are recorded once and never regenerated: they stand for events already stored.
type Line struct {
	Stream     string          `json:"stream"`
	EventType  string          `json:"event_type"`
	OccurredAt *time.Time      `json:"occurred_at"`
	Payload    json.RawMessage `json:"payload"`
}

// ReadHistory reads a history file as events to append, in order.
func ReadHistory(t testing.TB, path string, reg *events.Registry) []StreamEvent {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []StreamEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var l Line
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		parts := strings.Split(l.Stream, "/")
		if len(parts) != 3 {
			t.Fatalf("%s:%d: stream %q is not aggregate/account/id", path, n, l.Stream)
		}
		msg, err := reg.New(l.EventType)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		if err := protojson.Unmarshal(l.Payload, msg); err != nil {
			t.Fatalf("%s:%d: payload: %v", path, n, err)
		}
		ev := events.NewEvent(msg, events.Metadata{})
		ev.EventID = events.DeterministicEventID(path, fmt.Sprint(n))
		if l.OccurredAt != nil {
			ev.OccurredAt = l.OccurredAt.UTC()
		}
		out = append(out, StreamEvent{Stream: events.StreamID{AggregateType: parts[0], Account: parts[1], ID: parts[2]}, Event: ev})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// StreamEvent is an event and the stream it goes to.
type StreamEvent struct {
	Stream events.StreamID
	Event  events.Event
}

// Append appends the events to store one by one, in order, and returns the global position of
// the last one.
func Append(t testing.TB, store events.Store, evs []StreamEvent) uint64 {
	t.Helper()
	var last uint64
	for i, e := range evs {
		st, err := store.Append(context.Background(), e.Stream, events.ExpectAny(), e.Event)
		if err != nil {
			t.Fatalf("appending event %d (%s to %s): %v", i+1, e.Event.EventType, e.Stream, err)
		}
		last = st.Token
	}
	return last
}

// AppendBatched appends the events in atomic batches of up to n consecutive events (a batch
// ends early where a stream would appear in it twice), which is much faster on JetStream.
func AppendBatched(t testing.TB, store events.Store, evs []StreamEvent, n int) uint64 {
	t.Helper()
	var (
		last    uint64
		appends []events.StreamAppend
		in      = map[events.StreamID]bool{}
		count   int
	)
	flush := func() {
		if len(appends) == 0 {
			return
		}
		sts, err := store.AppendMulti(context.Background(), appends...)
		if err != nil {
			t.Fatalf("appending a batch of %d events: %v", count, err)
		}
		for _, st := range sts {
			last = max(last, st.Token)
		}
		appends, in, count = nil, map[events.StreamID]bool{}, 0
	}
	for _, e := range evs {
		if l := len(appends); l > 0 && appends[l-1].Stream == e.Stream && count < n {
			appends[l-1].Events = append(appends[l-1].Events, e.Event)
			count++
			continue
		}
		if in[e.Stream] || count >= n {
			flush()
		}
		appends = append(appends, events.StreamAppend{Stream: e.Stream, Expect: events.ExpectAny(), Events: []events.Event{e.Event}})
		in[e.Stream] = true
		count++
	}
	flush()
	return last
}

// EqualProto fails t unless got equals the protojson message in the file at path (compared as
// messages). On a mismatch it prints what the read model holds, for review.
func EqualProto(t testing.TB, path string, got proto.Message) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the expected state: %v", err)
	}
	want := got.ProtoReflect().New().Interface()
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(data, want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("the read model holds a different state than %s.\ngot:\n%s\nwant:\n%s", path, Marshal(got), Marshal(want))
	}
}

// Marshal renders a message as indented protojson with stable spacing.
func Marshal(m proto.Message) string {
	b, err := protojson.Marshal(m)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return out.String()
}

func sortStrings(s []string) { slices.Sort(s) }
