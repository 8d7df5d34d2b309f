package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/reboundhq/rebound/events"
)

func testRoundTrip(t *testing.T, s events.Store) {
	ctx := context.Background()
	stream := newStream(t, uniqueAccount(t))
	evs := failures(stream, 1, 3)
	occurred := time.Date(2026, 11, 27, 10, 0, 0, 123_456_789, time.UTC)
	for i := range evs {
		evs[i].CorrelationID = "corr-1"
		evs[i].CausationID = "cause-" + evs[i].EventID
		evs[i].TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		evs[i].TraceState = "rebound=1"
		evs[i].OccurredAt = occurred.Add(time.Duration(i) * time.Second)
	}
	before := time.Now().Add(-time.Second)
	st, err := s.Append(ctx, stream, events.ExpectNoStream(), evs...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if st.Version != 3 || st.Token == 0 {
		t.Fatalf("Append returned %+v, want version 3 and a token", st)
	}
	loaded, err := s.Load(ctx, stream, 0)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if loaded.State != st {
		t.Errorf("Load state %+v, Append returned %+v", loaded.State, st)
	}
	if len(loaded.Events) != 3 {
		t.Fatalf("loaded %d events, want 3", len(loaded.Events))
	}
	for i, got := range loaded.Events {
		want := evs[i]
		if got.EventID != want.EventID || got.EventType != "rebound.connector.v1.RecordFailed" {
			t.Errorf("event %d: id %s type %s, want id %s type RecordFailed", i, got.EventID, got.EventType, want.EventID)
		}
		if got.Stream() != stream || got.Version != uint64(i+1) {
			t.Errorf("event %d: stream %s version %d, want %s version %d", i, got.Stream(), got.Version, stream, i+1)
		}
		if !got.OccurredAt.Equal(want.OccurredAt) {
			t.Errorf("event %d: occurred at %s, want %s", i, got.OccurredAt, want.OccurredAt)
		}
		if got.RecordedAt.Before(before) || got.RecordedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("event %d: recorded at %s, not the time of the append", i, got.RecordedAt)
		}
		if got.CorrelationID != want.CorrelationID || got.CausationID != want.CausationID ||
			got.TraceParent != want.TraceParent || got.TraceState != want.TraceState {
			t.Errorf("event %d: metadata %+v, want %+v", i, got.Envelope, want.Envelope)
		}
		if got.SchemaVersion != events.CurrentSchemaVersion {
			t.Errorf("event %d: schema version %d, want %d", i, got.SchemaVersion, events.CurrentSchemaVersion)
		}
		if !proto.Equal(got.Message, want.Message) {
			t.Errorf("event %d: payload %v, want %v", i, got.Message, want.Message)
		}
		if i > 0 && got.Position <= loaded.Events[i-1].Position {
			t.Errorf("event %d: position %d not after %d", i, got.Position, loaded.Events[i-1].Position)
		}
	}
	if loaded.Events[2].Position != st.Token {
		t.Errorf("token %d is not the last event's position %d", st.Token, loaded.Events[2].Position)
	}
}

func testWrongExpectedVersion(t *testing.T, s events.Store) {
	ctx := context.Background()
	stream := newStream(t, uniqueAccount(t))
	first, err := s.Append(ctx, stream, events.ExpectNoStream(), failure(stream, 1))
	if err != nil {
		t.Fatalf("first Append: %v", err)
	}
	second, err := s.Append(ctx, stream, events.ExpectState(first), failure(stream, 2))
	if err != nil {
		t.Fatalf("second Append: %v", err)
	}
	for name, expect := range map[string]events.Expectation{
		"no stream":        events.ExpectNoStream(),
		"older version":    events.ExpectVersion(1),
		"future version":   events.ExpectVersion(7),
		"stale state":      events.ExpectState(first),
		"state off by one": events.ExpectState(events.State{Version: second.Version, Token: second.Token - 1}),
	} {
		_, err := s.Append(ctx, stream, expect, failure(stream, 99))
		if !errors.Is(err, events.ErrConcurrencyConflict) {
			t.Errorf("%s: Append err = %v, want ErrConcurrencyConflict", name, err)
		}
	}
	loaded, err := s.Load(ctx, stream, 0)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(loaded.Events) != 2 || loaded.State != second {
		t.Fatalf("after rejected appends: %d events, state %+v; want 2 events, state %+v", len(loaded.Events), loaded.State, second)
	}
	if _, err := s.Append(ctx, stream, events.ExpectVersion(2), failure(stream, 3)); err != nil {
		t.Fatalf("Append with the right version: %v", err)
	}
}

func testOrderWithinStream(t *testing.T, s events.Store) {
	ctx := context.Background()
	stream := newStream(t, uniqueAccount(t))
	st := events.State{}
	n := 0
	for _, size := range []int{1, 5, 1, 20, 3, 1, 19} {
		var err error
		st, err = s.Append(ctx, stream, events.ExpectState(st), failures(stream, n+1, size)...)
		if err != nil {
			t.Fatalf("Append of %d events at version %d: %v", size, n, err)
		}
		n += size
		if st.Version != uint64(n) {
			t.Fatalf("state version %d after %d events", st.Version, n)
		}
	}
	loaded, err := s.Load(ctx, stream, 0)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(loaded.Events) != n {
		t.Fatalf("loaded %d events, want %d", len(loaded.Events), n)
	}
	for i, r := range loaded.Events {
		if r.Version != uint64(i+1) || attemptOf(t, r) != i+1 {
			t.Fatalf("event %d has version %d and attempt %d", i, r.Version, attemptOf(t, r))
		}
	}
}

func testLoadFromVersion(t *testing.T, s events.Store) {
	ctx := context.Background()
	stream := newStream(t, uniqueAccount(t))
	st, err := s.Append(ctx, stream, events.ExpectNoStream(), failures(stream, 1, 12)...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	loaded, err := s.Load(ctx, stream, 10)
	if err != nil {
		t.Fatalf("Load from 10: %v", err)
	}
	if len(loaded.Events) != 3 || loaded.Events[0].Version != 10 || loaded.State != st {
		t.Fatalf("Load from 10: %d events starting at %v, state %+v; want 3 from version 10, state %+v",
			len(loaded.Events), loaded.Events, loaded.State, st)
	}
	past, err := s.Load(ctx, stream, 13)
	if err != nil {
		t.Fatalf("Load past the end: %v", err)
	}
	if len(past.Events) != 0 || past.State != st {
		t.Fatalf("Load past the end: %d events, state %+v; want none and state %+v", len(past.Events), past.State, st)
	}
}

func testIdempotentReappend(t *testing.T, s events.Store) {
	ctx := context.Background()
	stream := newStream(t, uniqueAccount(t))
	evs := failures(stream, 1, 3)
	st, err := s.Append(ctx, stream, events.ExpectNoStream(), evs...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	again, err := s.Append(ctx, stream, events.ExpectNoStream(), evs...)
	if err != nil {
		t.Fatalf("re-append of the same events: %v", err)
	}
	if again != st {
		t.Fatalf("re-append returned %+v, want %+v", again, st)
	}
	one := failure(stream, 4)
	st4, err := s.Append(ctx, stream, events.ExpectState(st), one)
	if err != nil {
		t.Fatalf("Append of a fourth event: %v", err)
	}
	again4, err := s.Append(ctx, stream, events.ExpectState(st), one)
	if err != nil || again4 != st4 {
		t.Fatalf("re-append of one event = %+v, %v; want %+v", again4, err, st4)
	}
	// The same expectation with new ids is a real conflict.
	if _, err := s.Append(ctx, stream, events.ExpectState(st), failure(stream, 5)); !errors.Is(err, events.ErrConcurrencyConflict) {
		t.Fatalf("stale append with new ids: err = %v, want ErrConcurrencyConflict", err)
	}
	loaded, err := s.Load(ctx, stream, 0)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(loaded.Events) != 4 {
		t.Fatalf("stream holds %d events, want 4", len(loaded.Events))
	}
}

func testExpectAny(t *testing.T, s events.Store) {
	ctx := context.Background()
	stream := newStream(t, uniqueAccount(t))
	for i := 1; i <= 3; i++ {
		st, err := s.Append(ctx, stream, events.ExpectAny(), failure(stream, i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if st.Version != uint64(i) {
			t.Fatalf("Append %d returned version %d", i, st.Version)
		}
	}
}

func testMultiStreamAtomic(t *testing.T, s events.Store) {
	ctx := context.Background()
	account := uniqueAccount(t)
	a, b, c := newStream(t, account), newStream(t, account), newStream(t, account)
	states, err := s.AppendMulti(ctx,
		events.StreamAppend{Stream: a, Expect: events.ExpectNoStream(), Events: failures(a, 1, 2)},
		events.StreamAppend{Stream: b, Expect: events.ExpectNoStream(), Events: failures(b, 1, 1)},
		events.StreamAppend{Stream: c, Expect: events.ExpectNoStream(), Events: failures(c, 1, 3)},
	)
	if err != nil {
		t.Fatalf("AppendMulti: %v", err)
	}
	if len(states) != 3 || states[0].Version != 2 || states[1].Version != 1 || states[2].Version != 3 {
		t.Fatalf("AppendMulti states %+v, want versions 2, 1, 3", states)
	}
	for i, stream := range []events.StreamID{a, b, c} {
		loaded, err := s.Load(ctx, stream, 0)
		if err != nil {
			t.Fatalf("Load %s: %v", stream, err)
		}
		if loaded.State != states[i] {
			t.Errorf("%s: loaded state %+v, AppendMulti returned %+v", stream, loaded.State, states[i])
		}
	}
	// b's expectation is stale: nothing of the batch may be written, not even to a and c.
	_, err = s.AppendMulti(ctx,
		events.StreamAppend{Stream: a, Expect: events.ExpectState(states[0]), Events: failures(a, 3, 1)},
		events.StreamAppend{Stream: b, Expect: events.ExpectNoStream(), Events: failures(b, 2, 1)},
		events.StreamAppend{Stream: c, Expect: events.ExpectState(states[2]), Events: failures(c, 4, 2)},
	)
	if !errors.Is(err, events.ErrConcurrencyConflict) {
		t.Fatalf("AppendMulti with one stale expectation: err = %v, want ErrConcurrencyConflict", err)
	}
	for i, stream := range []events.StreamID{a, b, c} {
		loaded, err := s.Load(ctx, stream, 0)
		if err != nil {
			t.Fatalf("Load %s: %v", stream, err)
		}
		if loaded.State != states[i] {
			t.Errorf("%s changed by a rejected atomic append: %+v, want %+v", stream, loaded.State, states[i])
		}
	}
	if _, err := s.AppendMulti(ctx,
		events.StreamAppend{Stream: a, Expect: events.ExpectState(states[0]), Events: failures(a, 3, 1)},
		events.StreamAppend{Stream: a, Expect: events.ExpectState(states[0]), Events: failures(a, 4, 1)},
	); !errors.Is(err, events.ErrInvalidArgument) {
		t.Fatalf("AppendMulti naming one stream twice: err = %v, want ErrInvalidArgument", err)
	}
}
