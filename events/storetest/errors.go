package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
)

func testContextCancellation(t *testing.T, s events.Store) {
	stream := newStream(t, uniqueAccount(t))
	if _, err := s.Append(context.Background(), stream, events.ExpectNoStream(), failure(stream, 1)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(ctx, stream, events.ExpectVersion(1), failure(stream, 2)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context: err = %v, want context.Canceled", err)
	}
	if _, err := s.Load(ctx, stream, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a cancelled context: err = %v, want context.Canceled", err)
	}
	err := s.Read(ctx, events.ReadOptions{Follow: true}, func(context.Context, events.Record) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context: err = %v, want context.Canceled", err)
	}
	loaded, err := s.Load(context.Background(), stream, 0)
	if err != nil || len(loaded.Events) != 1 {
		t.Fatalf("after cancelled calls: %d events, %v; want 1", len(loaded.Events), err)
	}
}

func testUnknownType(t *testing.T, s events.Store) {
	stream := newStream(t, uniqueAccount(t))
	ev := events.NewEvent(&connectorv1.SyncCycleStarted{AccountId: stream.Account}, events.Metadata{})
	_, err := s.Append(context.Background(), stream, events.ExpectNoStream(), ev)
	var unknown *events.UnknownTypeError
	if !errors.As(err, &unknown) || !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("Append of an unregistered type: err = %v, want an *UnknownTypeError", err)
	}
	if unknown.Type != "rebound.connector.v1.SyncCycleStarted" {
		t.Fatalf("UnknownTypeError names %q", unknown.Type)
	}
	if _, err := s.Load(context.Background(), stream, 0); !errors.Is(err, events.ErrNotFound) {
		t.Fatalf("the refused event was stored: Load err = %v", err)
	}
	if _, err := Registry().Decode("rebound.nothing.v1.Missing", nil); !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("Registry.Decode of an unknown type: err = %v", err)
	}
}

func testInvalidArguments(t *testing.T, s events.Store) {
	ctx := context.Background()
	account := uniqueAccount(t)
	good := newStream(t, account)
	cases := map[string]struct {
		stream events.StreamID
		evs    []events.Event
		field  string
	}{
		"dotted account":     {events.StreamID{AggregateType: "record", Account: "a.b", ID: "x"}, failures(good, 1, 1), "account"},
		"wildcard id":        {events.StreamID{AggregateType: "record", Account: account, ID: "*"}, failures(good, 1, 1), "aggregate_id"},
		"empty id":           {events.StreamID{AggregateType: "record", Account: account}, failures(good, 1, 1), "aggregate_id"},
		"upper-case type":    {events.StreamID{AggregateType: "Record", Account: account, ID: "x"}, failures(good, 1, 1), "aggregate_type"},
		"no events":          {good, nil, "events"},
		"event without body": {good, []events.Event{{}}, "event.message"},
		"too many events":    {good, failures(good, 1, events.MaxAppendEvents+1), "events"},
	}
	for name, tc := range cases {
		_, err := s.Append(ctx, tc.stream, events.ExpectAny(), tc.evs...)
		var invalid *events.InvalidArgumentError
		if !errors.As(err, &invalid) || !errors.Is(err, events.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want an *InvalidArgumentError", name, err)
			continue
		}
		if invalid.Field != tc.field || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error names %q (%v), want %q", name, invalid.Field, err, tc.field)
		}
	}
	dup := failure(good, 1)
	if _, err := s.Append(ctx, good, events.ExpectAny(), dup, dup); !errors.Is(err, events.ErrInvalidArgument) {
		t.Errorf("one event id twice in an append: err = %v, want ErrInvalidArgument", err)
	}
	if err := s.Read(ctx, events.ReadOptions{Filters: []string{"evt.>.x"}}, nil); !errors.Is(err, events.ErrInvalidArgument) {
		t.Errorf("Read with a bad filter: err = %v, want ErrInvalidArgument", err)
	}
	if _, err := s.Load(ctx, good, 0); !errors.Is(err, events.ErrNotFound) {
		t.Errorf("refused appends stored something: Load err = %v", err)
	}
}

func testNotFound(t *testing.T, s events.Store) {
	_, err := s.Load(context.Background(), newStream(t, uniqueAccount(t)), 0)
	if !errors.Is(err, events.ErrNotFound) {
		t.Fatalf("Load of a missing stream: err = %v, want ErrNotFound", err)
	}
}

func testRestart(t *testing.T, restartable func(*testing.T, *events.Registry) (events.Store, func() events.Store)) {
	ctx := context.Background()
	s, restart := restartable(t, Registry())
	stream := newStream(t, uniqueAccount(t))
	st, err := s.Append(ctx, stream, events.ExpectNoStream(), failures(stream, 1, 5)...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	s = restart()
	loaded, err := s.Load(ctx, stream, 0)
	if err != nil {
		t.Fatalf("Load after restart: %v", err)
	}
	if len(loaded.Events) != 5 || loaded.State != st {
		t.Fatalf("after restart: %d events, state %+v; want 5, state %+v", len(loaded.Events), loaded.State, st)
	}
	for i, r := range loaded.Events {
		if attemptOf(t, r) != i+1 {
			t.Fatalf("after restart event %d is attempt %d", i, attemptOf(t, r))
		}
	}
	if _, err := s.Append(ctx, stream, events.ExpectState(st), failure(stream, 6)); err != nil {
		t.Fatalf("Append with the state from before the restart: %v", err)
	}
	all := readAll(t, s, events.ReadOptions{Filters: accountFilter(stream.Account)})
	if len(all) != 6 {
		t.Fatalf("global read after restart: %d events, want 6", len(all))
	}
}
