package domain_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// Golden histories: testdata/<name>.events.jsonl is a recorded event history (one event a line:
// its type and its protojson payload) and testdata/<name>.state.json the state it must rebuild.
// Histories are never rewritten: a change that rebuilds different state from them fails.
//
//	go test ./domain -run TestGolden -record   # record histories of new scenarios
//	go test ./domain -run TestGolden -update   # accept new expected states (review the diff!)
var (
	recordGolden = flag.Bool("record", false, "record the golden histories of scenarios that have none yet")
	updateGolden = flag.Bool("update", false, "rewrite the expected states of the golden histories")
)

// goldenScenarios are the command sequences the golden histories were recorded from.
var goldenScenarios = map[string]func(t *testing.T) *domain.Schedule{
	"order_retry_after_then_success": func(t *testing.T) *domain.Schedule {
		ref := orderRef("#G1")
		s, c := newSchedule(ref), newClock()
		must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
		due := fireDue(t, s, c)
		must(t, s.RecordFailure(withRetryAfter(failure(ref, due.GetAttemptId(), c.Advance(1500*time.Millisecond)), 2*time.Hour), rateLimited, orderPolicy(), c.Now()))
		due = fireDue(t, s, c)
		must(t, s.RecordSucceeded(success(ref, due.GetAttemptId(), c.Advance(time.Second)), c.Now()))
		return s
	},
	"order_auth_hold_edit": func(t *testing.T) *domain.Schedule {
		ref := orderRef("#G2")
		s, c := newSchedule(ref), newClock()
		must(t, s.RecordFailure(failure(ref, "a0", c.Now()), authFailure, orderPolicy(), c.Now()))
		due := fireDue(t, s, c)
		must(t, s.RecordFailure(failure(ref, due.GetAttemptId(), c.Advance(time.Second)), authFailure, orderPolicy(), c.Now()))
		due = fireDue(t, s, c)
		must(t, s.RecordFailure(failure(ref, due.GetAttemptId(), c.Advance(time.Second)), manual, orderPolicy(), c.Now()))
		must(t, s.RecordUpdated(updated(ref, connectorv1.RecordChange_RECORD_CHANGE_EDITED, c.Advance(20*day)), c.Now()))
		due, _ = s.DueCommand()
		must(t, s.RecordFailure(failure(ref, due.GetAttemptId(), c.Advance(time.Second)), transient, orderPolicy(), c.Now()))
		return s
	},
	"order_exhausted_then_resent": func(t *testing.T) *domain.Schedule {
		ref := orderRef("#G3")
		s, c := newSchedule(ref), newClock()
		p := orderPolicy()
		p.MaxAge = 150 * time.Minute
		attempt := "a0"
		for s.Status() != retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED {
			must(t, s.RecordFailure(failure(ref, attempt, c.Now()), transient, p, c.Now()))
			if _, ok := s.NextAttemptAt(); ok {
				attempt = fireDue(t, s, c).GetAttemptId()
				c.Advance(time.Second)
			}
		}
		must(t, s.RecordUpdated(updated(ref, connectorv1.RecordChange_RECORD_CHANGE_RESEND_REQUESTED, c.Advance(3*day)), c.Now()))
		return s
	},
	"tracking_sync_cycles_max_failures": func(t *testing.T) *domain.Schedule {
		ref := trackingRef("T-G4")
		s, c := newSchedule(ref), newClock()
		p := trackingPolicy(day)
		p.MaxConsecutiveFailures = 3
		must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, p, c.Now()))
		must(t, s.SyncCycleStarted(cycle(ref, "c1", c.Advance(day), day), c.Advance(time.Second)))
		due, _ := s.DueCommand()
		must(t, s.RecordFailure(withRetryAfter(failure(ref, due.GetAttemptId(), c.Advance(time.Second)), 36*time.Hour), rateLimited, p, c.Now()))
		must(t, s.SyncCycleStarted(cycle(ref, "c2", c.Advance(day), day), c.Advance(time.Second))) // before Retry-After
		must(t, s.SyncCycleStarted(cycle(ref, "c3", c.Advance(day), day), c.Advance(time.Second)))
		due, _ = s.DueCommand()
		must(t, s.RecordFailure(failure(ref, due.GetAttemptId(), c.Advance(time.Second)), transient, p, c.Now()))
		return s
	},
	"order_paused_resumed_canceled": func(t *testing.T) *domain.Schedule {
		ref := orderRef("#G5")
		s, c := newSchedule(ref), newClock()
		must(t, s.RecordFailure(failure(ref, "a0", c.Now()), transient, orderPolicy(), c.Now()))
		must(t, s.Pause(c.Advance(5*time.Minute)))
		must(t, s.RecordFailure(failure(ref, "own", c.Advance(10*time.Minute)), transient, orderPolicy(), c.Now()))
		must(t, s.Resume(c.Advance(6*time.Hour)))
		fireDue(t, s, c)
		must(t, s.Cancel("ops@example.com", c.Advance(time.Minute)))
		return s
	},
	"order_rejected_retry_now": func(t *testing.T) *domain.Schedule {
		ref := orderRef("#G6")
		s, c := newSchedule(ref), newClock()
		must(t, s.RecordFailure(failure(ref, "a0", c.Now()), rejected, orderPolicy(), c.Now()))
		must(t, s.RetryNow("ops@example.com", c.Advance(time.Hour)))
		return s
	},
}

type goldenLine struct {
	Type  string          `json:"type"`
	Event json.RawMessage `json:"event"`
}

var goldenRegistry = events.NewRegistry(domain.Events()...)

func TestGolden_historiesRebuildTheRecordedState(t *testing.T) {
	t.Parallel()
	if *recordGolden {
		recordHistories(t)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.events.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden histories in testdata (%v); record them with -record", err)
	}
	for name := range goldenScenarios {
		if !slices.Contains(files, historyPath(name)) {
			t.Errorf("scenario %s has no golden history; record it with -record", name)
		}
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".events.jsonl")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			msgs := readHistory(t, file)
			s := domain.New(domain.StreamOf(firstRecord(t, msgs)))
			for i, m := range msgs {
				rec := events.Record{Event: events.Event{
					Envelope: events.Envelope{EventType: events.TypeName(m), Version: uint64(i + 1)},
					Message:  m,
				}}
				if err := s.Apply(rec); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
			}
			got := s.Snapshot()
			statePath := strings.TrimSuffix(file, ".events.jsonl") + ".state.json"
			if *updateGolden {
				writeJSON(t, statePath, got)
				return
			}
			data, err := os.ReadFile(statePath)
			if err != nil {
				t.Fatalf("expected state: %v (write it with -update)", err)
			}
			want := &retryv1.RetrySchedule{}
			if err := protojson.Unmarshal(data, want); err != nil {
				t.Fatalf("%s: %v", statePath, err)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("history %s rebuilds\n%s\nwant\n%s", file, indent(t, got), data)
			}
		})
	}
}

// recordHistories writes the history and state of every scenario that has no history yet.
func recordHistories(t *testing.T) {
	for name, run := range goldenScenarios {
		path := historyPath(name)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		s := run(t)
		checkFold(t, s)
		var buf bytes.Buffer
		for _, m := range s.Changes() {
			payload, err := protojson.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, payload); err != nil {
				t.Fatal(err)
			}
			line, err := json.Marshal(goldenLine{Type: events.TypeName(m), Event: compact.Bytes()})
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(line)
			buf.WriteByte('\n')
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		writeJSON(t, strings.TrimSuffix(path, ".events.jsonl")+".state.json", s.Snapshot())
		t.Logf("recorded %s", path)
	}
}

func historyPath(name string) string { return filepath.Join("testdata", name+".events.jsonl") }

func readHistory(t *testing.T, path string) []proto.Message {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []proto.Message
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var line goldenLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		msg, err := goldenRegistry.New(line.Type)
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
	return out
}

func firstRecord(t *testing.T, msgs []proto.Message) *connectorv1.RecordRef {
	t.Helper()
	if len(msgs) == 0 {
		t.Fatal("empty history")
	}
	rec, ok := msgs[0].ProtoReflect().Get(msgs[0].ProtoReflect().Descriptor().Fields().ByName("record")).Message().Interface().(*connectorv1.RecordRef)
	if !ok {
		t.Fatalf("first event %s has no record", events.TypeName(msgs[0]))
	}
	return rec
}

func indent(t *testing.T, m proto.Message) []byte {
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

func writeJSON(t *testing.T, path string, m proto.Message) {
	t.Helper()
	if err := os.WriteFile(path, append(indent(t, m), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
