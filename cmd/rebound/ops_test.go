package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
)

func TestMain(m *testing.M) { natstest.Main(m) }

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
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

func testEnv(vars map[string]string) (*environment, *syncBuffer, *syncBuffer) {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	return &environment{stdout: out, stderr: errOut, getenv: func(k string) string { return vars[k] }}, out, errOut
}

func appendFailures(t *testing.T, url string, stream events.StreamID, n int) {
	t.Helper()
	nc := natstest.Connect(t, url)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	store, err := natsstore.New(context.Background(), js, allTypes(), natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		ev := events.NewEvent(&connectorv1.RecordFailed{
			Record:    &connectorv1.RecordRef{AccountId: stream.Account, RecordId: "#100" + string(rune('0'+i)), OrderNumber: "#1001"},
			AttemptId: "a", Message: "WMS said no", HttpStatus: 503, FailedAt: timestamppb.Now(),
		}, events.Metadata{CorrelationID: "corr-42"})
		if _, err := store.Append(context.Background(), stream, events.ExpectAny(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHistory_printsTextAndJSON(t *testing.T) {
	t.Parallel()
	url := natstest.SharedURL(t)
	account := "hist-" + events.NewEventID()[28:]
	stream := events.StreamID{AggregateType: "record", Account: account, ID: "r1"}
	appendFailures(t, url, stream, 3)
	vars := map[string]string{"REBOUND_NATS_URL": url}

	env, out, errOut := testEnv(vars)
	if code := run(context.Background(), env, []string{"history", "record", account, "r1"}); code != 0 {
		t.Fatalf("history exited %d: %s", code, errOut)
	}
	text := out.String()
	for _, want := range []string{"RecordFailed  v1", "RecordFailed  v3", "WMS said no", "correlation corr-42", "3 events; record/" + account + "/r1 is at version 3"} {
		if !strings.Contains(text, want) {
			t.Errorf("history output lacks %q:\n%s", want, text)
		}
	}

	env, out, _ = testEnv(vars)
	if code := run(context.Background(), env, []string{"history", "--json", "record", account, "r1"}); code != 0 {
		t.Fatalf("history --json exited %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("history --json printed %d lines, want 3:\n%s", len(lines), out)
	}
	for i, line := range lines {
		var ev struct {
			Version   uint64 `json:"version"`
			EventType string `json:"event_type"`
			Payload   struct {
				Message string `json:"message"`
			} `json:"payload"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i, err, line)
		}
		if ev.Version != uint64(i+1) || ev.EventType != "rebound.connector.v1.RecordFailed" || ev.Payload.Message != "WMS said no" {
			t.Fatalf("line %d decoded to %+v", i, ev)
		}
	}
}

func TestHistory_errorsAreClear(t *testing.T) {
	t.Parallel()
	url := natstest.SharedURL(t)
	cases := map[string]struct {
		args []string
		vars map[string]string
		code int
		want string
	}{
		"missing args": {[]string{"history", "record"}, map[string]string{"REBOUND_NATS_URL": url}, 2, "want <aggregate> <account> <id>"},
		"bad account":  {[]string{"history", "record", "a.b", "x"}, map[string]string{"REBOUND_NATS_URL": url}, 2, "account"},
		"no events":    {[]string{"history", "record", "nobody", "x"}, map[string]string{"REBOUND_NATS_URL": url}, 1, "no events for record/nobody/x"},
		"bad port":     {[]string{"history", "record", "a", "x"}, map[string]string{"REBOUND_NATS_PORT": "abc"}, 1, "REBOUND_NATS_PORT"},
		"no server":    {[]string{"history", "record", "a", "x"}, map[string]string{"REBOUND_NATS_URL": "nats://127.0.0.1:1"}, 1, "is `rebound dev` running"},
		"unknown cmd":  {[]string{"frobnicate"}, nil, 2, "unknown command"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if tc.args[0] == "history" && tc.vars["REBOUND_NATS_URL"] == url {
				appendFailures(t, url, events.StreamID{AggregateType: "record", Account: "errs", ID: "x"}, 1)
			}
			env, _, errOut := testEnv(tc.vars)
			code := run(context.Background(), env, tc.args)
			if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tc.code, tc.want)
			}
		})
	}
}

func TestTail_followsNewEventsOnly(t *testing.T) {
	t.Parallel()
	url := natstest.SharedURL(t)
	account := "tail-" + events.NewEventID()[28:]
	old := events.StreamID{AggregateType: "record", Account: account, ID: "old"}
	appendFailures(t, url, old, 2)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env, out, errOut := testEnv(map[string]string{"REBOUND_NATS_URL": url})
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, []string{"tail", "--json", "evt.*." + account + ".>"}) }()

	// tail fixes its start position before it says it is following; what is appended after
	// that must appear, what was there before must not.
	eventually(t, 10*time.Second, func() bool { return strings.Contains(errOut.String(), "following") })
	appendFailures(t, url, events.StreamID{AggregateType: "record", Account: account, ID: "new"}, 1)
	eventually(t, 10*time.Second, func() bool { return strings.Contains(out.String(), `"aggregate_id":"new"`) })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("tail exited %d: %s", code, errOut)
	}
	if strings.Contains(out.String(), `"aggregate_id":"old"`) {
		t.Fatalf("tail printed events from before it started:\n%s", out)
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("condition not met within %s", timeout)
		}
	}
}

// clockMoves returns once the wall clock has moved on by two milliseconds, so that events
// appended before and after get distinct recorded times.
func clockMoves() {
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for time.Since(start) < 2*time.Millisecond {
		<-tick.C
	}
}
