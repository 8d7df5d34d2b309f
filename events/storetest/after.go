package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/reboundhq/rebound/events"
)

func testHead(t *testing.T, s events.Store) {
	ctx := context.Background()
	stream := newStream(t, uniqueAccount(t))
	if st, err := s.Head(ctx, stream); err != nil || st != (events.State{}) {
		t.Fatalf("Head of a missing stream = %+v, %v; want the zero state", st, err)
	}
	st, err := s.Append(ctx, stream, events.ExpectNoStream(), failures(stream, 1, 3)...)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Head(ctx, stream); err != nil || got != st {
		t.Fatalf("Head = %+v, %v; want %+v", got, err, st)
	}
	if _, err := s.Head(ctx, events.StreamID{AggregateType: "record", Account: "a.b", ID: "x"}); !errors.Is(err, events.ErrInvalidArgument) {
		t.Fatalf("Head of a bad stream id: err = %v", err)
	}
}

func testLoadAfter(t *testing.T, s events.Store) {
	ctx := context.Background()
	account := uniqueAccount(t)
	stream, other := newStream(t, account), newStream(t, account)
	if _, err := s.LoadAfter(ctx, stream, events.State{}); !errors.Is(err, events.ErrNotFound) {
		t.Fatalf("LoadAfter of a missing stream: err = %v, want ErrNotFound", err)
	}
	st3, err := s.Append(ctx, stream, events.ExpectNoStream(), failures(stream, 1, 3)...)
	if err != nil {
		t.Fatal(err)
	}
	// Another stream's events interleave, as they do in a shared store.
	if _, err := s.Append(ctx, other, events.ExpectNoStream(), failures(other, 1, 2)...); err != nil {
		t.Fatal(err)
	}
	st4, err := s.Append(ctx, stream, events.ExpectState(st3), failure(stream, 4))
	if err != nil {
		t.Fatal(err)
	}
	st6, err := s.Append(ctx, stream, events.ExpectState(st4), failures(stream, 5, 2)...)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		after events.State
		want  []int // attempts expected
	}{
		{"from nothing", events.State{}, []int{1, 2, 3, 4, 5, 6}},
		{"nothing new", st6, nil},
		{"one new", st4, []int{5, 6}},
		{"one behind", events.State{Version: 5, Token: st6.Token - 1}, []int{6}},
		{"several new", st3, []int{4, 5, 6}},
		{"a state the stream never had", events.State{Version: 2, Token: 1}, []int{3, 4, 5, 6}},
	}
	for _, tc := range cases {
		loaded, err := s.LoadAfter(ctx, stream, tc.after)
		if err != nil {
			t.Fatalf("%s: LoadAfter: %v", tc.name, err)
		}
		if loaded.State != st6 {
			t.Errorf("%s: state %+v, want %+v", tc.name, loaded.State, st6)
		}
		var got []int
		for _, r := range loaded.Events {
			got = append(got, attemptOf(t, r))
			if r.Stream() != stream {
				t.Errorf("%s: delivered an event of %s", tc.name, r.Stream())
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: attempts %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: attempts %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}
