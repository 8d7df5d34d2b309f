// Package golden reads recorded event histories and compares rebuilt state with a checked-in
// expectation, for the aggregates' replay tests (temporalio-style): a change that would rebuild
// different state from events already stored fails them.
//
// A history is a JSON Lines file, one stored event per line:
//
//	{"event_id":"…","event_type":"rebound.alerts.v1.AlertRaised","version":1,
//	 "occurred_at":"2026-03-02T09:00:00Z","payload":{…protojson…}}
//
// Histories are recorded once and never regenerated: they stand for events already in
// production stores. The expected state is a protojson file reviewed like code; there is no
// -update flag, a mismatch prints the state the code rebuilt instead.
package golden

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/reboundhq/rebound/events"
)

// Line is one event of a history file.
type Line struct {
	EventID    string          `json:"event_id"`
	EventType  string          `json:"event_type"`
	Version    uint64          `json:"version"`
	OccurredAt time.Time       `json:"occurred_at"`
	Payload    json.RawMessage `json:"payload"`
}

// ReadHistory reads a history file as the records of stream, decoding payloads with reg.
func ReadHistory(path string, reg *events.Registry, stream events.StreamID) ([]events.Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var recs []events.Record
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
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		msg, err := reg.New(l.EventType)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if err := (protojson.UnmarshalOptions{}).Unmarshal(l.Payload, msg); err != nil {
			return nil, fmt.Errorf("%s:%d: payload: %w", path, n, err)
		}
		if want := uint64(len(recs) + 1); l.Version != want {
			return nil, fmt.Errorf("%s:%d: version %d, want %d", path, n, l.Version, want)
		}
		env := events.Envelope{
			EventID: l.EventID, EventType: l.EventType, AggregateType: stream.AggregateType,
			Account: stream.Account, AggregateID: stream.ID, Version: l.Version,
			OccurredAt: l.OccurredAt, RecordedAt: l.OccurredAt, SchemaVersion: events.CurrentSchemaVersion,
		}
		recs = append(recs, events.Record{Event: events.Event{Envelope: env, Message: msg}, Position: l.Version})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: no events", path)
	}
	return recs, nil
}

// EqualState fails t unless got equals the protojson message in the file at path (compared as
// messages, not as text). On a mismatch it prints what the code rebuilt, for review.
func EqualState(t testing.TB, path string, got proto.Message) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the expected state: %v", err)
	}
	want := got.ProtoReflect().New().Interface()
	if err := protojson.Unmarshal(data, want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("the history rebuilds a different state than %s.\nrebuilt:\n%s\nexpected:\n%s\n"+
			"If the change is intended and old events may really rebuild differently, review and replace the file.",
			path, Marshal(got), Marshal(want))
	}
}

// Marshal renders a message as indented protojson, formatted by encoding/json so that the text
// is stable (protojson's own spacing varies on purpose).
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

// DiffState compares two aggregates field by field, unexported fields included (so a field a
// snapshot forgets shows), messages as messages, times with Equal, nil and empty alike. It
// returns "" when they are the same, else the difference (-x +y).
func DiffState(x, y any) string {
	all := cmp.Exporter(func(reflect.Type) bool { return true })
	// proto.Equal first: protocmp's readable diff is slow.
	if cmp.Equal(x, y, all, cmp.Comparer(func(a, b proto.Message) bool { return proto.Equal(a, b) }), cmpopts.EquateEmpty()) {
		return ""
	}
	return cmp.Diff(x, y, all, protocmp.Transform(), cmpopts.EquateEmpty())
}
