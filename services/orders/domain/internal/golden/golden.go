// Package golden reads and writes the recorded event histories of the orders service's
// aggregates, for their replay tests: testdata/<name>.events.jsonl is a history (one event a line:
// its type and its protojson payload) and testdata/<name>.state.json the state it must rebuild.
// Histories stand for events already in production stores: they are recorded once (-record) and
// never rewritten; a change that rebuilds a different state from them fails.
package golden

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/reboundhq/rebound/events"
)

// Line is one event of a history file.
type Line struct {
	Type  string          `json:"type"`
	Event json.RawMessage `json:"event"`
}

// HistoryPath returns the history file of a scenario.
func HistoryPath(name string) string { return filepath.Join("testdata", name+".events.jsonl") }

// StatePath returns the expected-state file of a scenario.
func StatePath(name string) string { return filepath.Join("testdata", name+".state.json") }

// Read reads a history, decoding payloads with reg.
func Read(t testing.TB, path string, reg *events.Registry) []proto.Message {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []proto.Message
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var line Line
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		msg, err := reg.New(line.Type)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		if err := protojson.Unmarshal(line.Event, msg); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		out = append(out, msg)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: empty history", path)
	}
	return out
}

// Records returns msgs as the stored records Apply takes, versions from 1.
func Records(msgs []proto.Message) []events.Record {
	out := make([]events.Record, len(msgs))
	for i, m := range msgs {
		out[i] = events.Record{Event: events.Event{
			Envelope: events.Envelope{EventType: events.TypeName(m), Version: uint64(i + 1)},
			Message:  m,
		}}
	}
	return out
}

// Write records a history and the state it rebuilds, unless the history exists.
func Write(t testing.TB, name string, msgs []proto.Message, state proto.Message) {
	t.Helper()
	path := HistoryPath(name)
	if _, err := os.Stat(path); err == nil {
		return
	}
	var buf bytes.Buffer
	for _, m := range msgs {
		payload, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, payload); err != nil {
			t.Fatal(err)
		}
		line, err := json.Marshal(Line{Type: events.TypeName(m), Event: compact.Bytes()})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	WriteState(t, StatePath(name), state)
	t.Logf("recorded %s", path)
}

// WriteState writes an expected state.
func WriteState(t testing.TB, path string, m proto.Message) {
	t.Helper()
	if err := os.WriteFile(path, append(Indent(t, m), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// EqualState fails t unless got equals the protojson message in the file at path, printing what
// the code rebuilt for review.
func EqualState(t testing.TB, path string, got proto.Message) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("expected state: %v", err)
	}
	want := got.ProtoReflect().New().Interface()
	if err := protojson.Unmarshal(data, want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("the history rebuilds\n%s\nwant (%s)\n%s", Indent(t, got), path, data)
	}
}

// Indent renders a message as indented protojson, formatted by encoding/json so the text is
// stable.
func Indent(t testing.TB, m proto.Message) []byte {
	t.Helper()
	data, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
