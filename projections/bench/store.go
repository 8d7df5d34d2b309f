package bench

import (
	"context"
	"fmt"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections/internal/synth"
)

// History says which events a benchmark uses: a synthetic history of alert events (raised,
// occurred, resolved, dismissed, needing attention, escalated) over many accounts, generated
// the same way for the same seed.
type History struct {
	// Events is how many events.
	Events int
	// Seed picks the history.
	Seed uint64
}

func (h History) generator() *synth.Generator {
	// 34 connections × 1000 records × 6 alert types: about 200 000 fingerprints, so that most
	// events of a large history touch alerts that a batch has not loaded yet.
	return synth.New(synth.Config{AlertsOnly: true, Records: 1000, Seed: h.Seed})
}

// FillStore appends the history to store in atomic batches of up to 1000 events.
func FillStore(ctx context.Context, store events.Store, h History) error {
	g := h.generator()
	var appends []events.StreamAppend
	in := map[events.StreamID]int{}
	count := 0
	flush := func() error {
		if len(appends) == 0 {
			return nil
		}
		if _, err := store.AppendMulti(ctx, appends...); err != nil {
			return fmt.Errorf("bench: appending the history: %w", err)
		}
		appends, in, count = appends[:0], map[events.StreamID]int{}, 0
		return nil
	}
	for i := range h.Events {
		e := g.Next()
		ev := synth.ToEvents([]synth.Event{e}, h.Seed)[0]
		ev.EventID = events.DeterministicEventID("bench", fmt.Sprint(h.Seed), fmt.Sprint(i))
		if j, ok := in[e.Stream]; ok {
			appends[j].Events = append(appends[j].Events, ev)
		} else {
			in[e.Stream] = len(appends)
			appends = append(appends, events.StreamAppend{Stream: e.Stream, Expect: events.ExpectAny(), Events: []events.Event{ev}})
		}
		if count++; count == events.MaxAppendEvents {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// GeneratedStore is a read-only events.Store that generates its history on every Read instead of
// holding it: a million-event rebuild without a million events in memory or on a server. Its
// positions are 1..Events. Only Read and LastPosition work: the embedded nil Store makes every
// other method panic.
type GeneratedStore struct {
	events.Store
	History History
}

var _ events.Store = GeneratedStore{}

// LastPosition implements events.Store.
func (s GeneratedStore) LastPosition(context.Context) (uint64, error) {
	return uint64(s.History.Events), nil
}

// Read implements events.Store. With Follow it waits for ctx after the last event.
func (s GeneratedStore) Read(ctx context.Context, opts events.ReadOptions, fn func(context.Context, events.Record) error) error {
	g := s.History.generator()
	for i := 1; i <= s.History.Events; i++ {
		e := g.Next()
		if uint64(i) < opts.From {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		ev := synth.ToEvents([]synth.Event{e}, s.History.Seed)[0]
		ev.AggregateType, ev.Account, ev.AggregateID = e.Stream.AggregateType, e.Stream.Account, e.Stream.ID
		ev.RecordedAt = ev.OccurredAt
		if len(opts.Filters) > 0 && !matchAny(opts.Filters, events.Subject(e.Stream, ev.EventType)) {
			continue
		}
		if err := fn(ctx, events.Record{Event: ev, Position: uint64(i)}); err != nil {
			return err
		}
	}
	if opts.Follow {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func matchAny(filters []string, subject string) bool {
	for _, f := range filters {
		if events.MatchSubject(f, subject) {
			return true
		}
	}
	return false
}
