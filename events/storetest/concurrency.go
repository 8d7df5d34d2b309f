package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/reboundhq/rebound/events"
)

const writers = 20

// testConcurrentWriters runs rounds in which 20 writers load the same state and then race to
// append: exactly one must win each round.
func testConcurrentWriters(t *testing.T, s events.Store) {
	ctx := context.Background()
	stream := newStream(t, uniqueAccount(t))
	const rounds = 5
	st := events.State{}
	for round := 1; round <= rounds; round++ {
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			mu      sync.Mutex
			winners []events.State
			others  []error
		)
		for w := range writers {
			wg.Go(func() {
				<-start
				got, err := s.Append(ctx, stream, events.ExpectState(st), failure(stream, round*100+w))
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					winners = append(winners, got)
				} else if !errors.Is(err, events.ErrConcurrencyConflict) {
					others = append(others, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(others) > 0 {
			t.Fatalf("round %d: errors other than conflicts: %v", round, others)
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d writers won version %d, want exactly 1", round, len(winners), round)
		}
		if winners[0].Version != uint64(round) {
			t.Fatalf("round %d: the winner wrote version %d", round, winners[0].Version)
		}
		st = winners[0]
	}
	checkDense(t, s, stream, rounds)
}

// testConcurrentRetryingWriters has 20 writers each append one event, reloading and retrying on
// conflict as a repository does: every event lands once, versions 1..20 with no gap.
func testConcurrentRetryingWriters(t *testing.T, s events.Store) {
	ctx := context.Background()
	stream := newStream(t, uniqueAccount(t))
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			ev := failure(stream, w+1)
			for {
				st := events.State{}
				loaded, err := s.Load(ctx, stream, 0)
				if err == nil {
					st = loaded.State
				} else if !errors.Is(err, events.ErrNotFound) {
					errs <- err
					return
				}
				_, err = s.Append(ctx, stream, events.ExpectState(st), ev)
				if err == nil {
					return
				}
				if !errors.Is(err, events.ErrConcurrencyConflict) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer failed: %v", err)
	}
	loaded := checkDense(t, s, stream, writers)
	seen := make(map[int]bool)
	for _, r := range loaded {
		n := attemptOf(t, r)
		if seen[n] {
			t.Fatalf("writer %d's event is stored twice", n)
		}
		seen[n] = true
	}
}

// checkDense loads the stream and checks it holds versions 1..n exactly once each.
func checkDense(t *testing.T, s events.Store, stream events.StreamID, n int) []events.Record {
	t.Helper()
	loaded, err := s.Load(context.Background(), stream, 0)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(loaded.Events) != n {
		t.Fatalf("stream holds %d events, want %d", len(loaded.Events), n)
	}
	ids := make(map[string]bool)
	for i, r := range loaded.Events {
		if r.Version != uint64(i+1) {
			t.Fatalf("event %d has version %d: gap or duplicate", i, r.Version)
		}
		if ids[r.EventID] {
			t.Fatalf("event id %s stored twice", r.EventID)
		}
		ids[r.EventID] = true
	}
	return loaded.Events
}
