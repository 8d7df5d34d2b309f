package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events"
)

func accountFilter(account string) []string {
	return []string{events.SubjectPrefix + ".*." + account + ".>"}
}

func testGlobalRead(t *testing.T, s events.Store) {
	ctx := context.Background()
	account := uniqueAccount(t)
	a, b := newStream(t, account), newStream(t, account)
	var want []string
	for i := 1; i <= 4; i++ {
		for _, stream := range []events.StreamID{a, b} {
			ev := failure(stream, i)
			if _, err := s.Append(ctx, stream, events.ExpectAny(), ev); err != nil {
				t.Fatalf("Append: %v", err)
			}
			want = append(want, ev.EventID)
		}
	}
	all := readAll(t, s, events.ReadOptions{Filters: accountFilter(account)})
	if len(all) != len(want) {
		t.Fatalf("read %d events, want %d", len(all), len(want))
	}
	for i, r := range all {
		if r.EventID != want[i] {
			t.Fatalf("event %d is %s, want %s (global order)", i, r.EventID, want[i])
		}
		if i > 0 && r.Position <= all[i-1].Position {
			t.Fatalf("positions not increasing: %d after %d", r.Position, all[i-1].Position)
		}
		if r.Message == nil {
			t.Fatalf("event %d was not decoded", i)
		}
	}
	from := all[3].Position
	tail := readAll(t, s, events.ReadOptions{From: from, Filters: accountFilter(account)})
	if len(tail) != len(all)-3 || tail[0].EventID != all[3].EventID {
		t.Fatalf("read from position %d: %d events starting %s; want %d starting %s",
			from, len(tail), tail[0].EventID, len(all)-3, all[3].EventID)
	}
	onlyA := readAll(t, s, events.ReadOptions{Filters: []string{events.StreamSubject(a)}})
	if len(onlyA) != 4 {
		t.Fatalf("read with a stream filter: %d events, want 4", len(onlyA))
	}
	for _, r := range onlyA {
		if r.Stream() != a {
			t.Fatalf("stream filter delivered an event of %s", r.Stream())
		}
	}
	future := readAll(t, s, events.ReadOptions{FromTime: time.Now().Add(time.Hour), Filters: accountFilter(account)})
	if len(future) != 0 {
		t.Fatalf("read from a time after the last event delivered %d", len(future))
	}
	empty := readAll(t, s, events.ReadOptions{Filters: accountFilter(uniqueAccount(t))})
	if len(empty) != 0 {
		t.Fatalf("read of an account without events delivered %d", len(empty))
	}
	last, err := s.LastPosition(ctx)
	if err != nil || last < all[len(all)-1].Position {
		t.Fatalf("LastPosition = %d, %v; want at least %d", last, err, all[len(all)-1].Position)
	}
}

func readAll(t *testing.T, s events.Store, opts events.ReadOptions) []events.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []events.Record
	err := s.Read(ctx, opts, func(_ context.Context, r events.Record) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Read(%+v): %v", opts, err)
	}
	return out
}

func testGlobalReadFollow(t *testing.T, s events.Store) {
	account := uniqueAccount(t)
	stream := newStream(t, account)
	if _, err := s.Append(context.Background(), stream, events.ExpectNoStream(), failure(stream, 1)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan events.Record, 10)
	done := make(chan error, 1)
	go func() {
		done <- s.Read(ctx, events.ReadOptions{Filters: accountFilter(account), Follow: true},
			func(_ context.Context, r events.Record) error {
				got <- r
				return nil
			})
	}()
	expectRecord(t, got, 1)
	if _, err := s.Append(context.Background(), stream, events.ExpectVersion(1), failures(stream, 2, 2)...); err != nil {
		t.Fatalf("Append while following: %v", err)
	}
	expectRecord(t, got, 2)
	expectRecord(t, got, 3)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("following read ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("following read did not stop after its context was cancelled")
	}
	// An error from the callback stops the read and comes back as is.
	stopErr := errors.New("stop here")
	err := s.Read(context.Background(), events.ReadOptions{Filters: accountFilter(account), Follow: true},
		func(context.Context, events.Record) error { return stopErr })
	if !errors.Is(err, stopErr) {
		t.Fatalf("Read returned %v, want the callback's error", err)
	}
}

func expectRecord(t *testing.T, got <-chan events.Record, version uint64) {
	t.Helper()
	select {
	case r := <-got:
		if r.Version != version {
			t.Fatalf("followed event has version %d, want %d", r.Version, version)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no event with version %d within 10s", version)
	}
}
