// Package memstore is an in-memory event store for fast domain tests. It keeps the same
// contract as the JetStream store (it passes the same conformance suite) but nothing survives the
// process.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/reboundhq/rebound/events"
)

// Store is an in-memory events.Store. It is safe for concurrent use.
type Store struct {
	reg *events.Registry

	mu      sync.Mutex
	log     []events.Record // global order; log[i].Position == i+1
	streams map[events.StreamID][]int
	ids     map[string]int
	changed chan struct{} // closed and replaced on every append
}

var _ events.Store = (*Store)(nil)

// New returns an empty store that encodes and decodes with reg.
func New(reg *events.Registry) *Store {
	return &Store{
		reg:     reg,
		streams: make(map[events.StreamID][]int),
		ids:     make(map[string]int),
		changed: make(chan struct{}),
	}
}

// Append implements events.Store.
func (s *Store) Append(ctx context.Context, stream events.StreamID, expect events.Expectation, evs ...events.Event) (events.State, error) {
	p, err := events.Prepare(s.reg, stream, expect, evs)
	if err != nil {
		return events.State{}, err
	}
	states, err := s.write(ctx, []events.Prepared{p})
	if err != nil {
		return events.State{}, err
	}
	return states[0], nil
}

// AppendMulti implements events.Store.
func (s *Store) AppendMulti(ctx context.Context, appends ...events.StreamAppend) ([]events.State, error) {
	ps, err := events.PrepareMulti(s.reg, appends)
	if err != nil {
		return nil, err
	}
	return s.write(ctx, ps)
}

func (s *Store) write(ctx context.Context, ps []events.Prepared) ([]events.State, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: append to %s: %w", ps[0].Stream, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if states, ok := s.repeatLocked(ps); ok {
		return states, nil
	}
	bases := make([]events.State, len(ps))
	for i, p := range ps {
		head := s.headLocked(p.Stream)
		if st, ok := p.Expect.State(); ok && st != head {
			return nil, &events.ConflictError{Stream: p.Stream, Expected: p.Expect,
				Reason: fmt.Sprintf("stream is at version %d, position %d", head.Version, head.Token)}
		}
		if v, ok := p.Expect.Version(); ok && v != head.Version {
			return nil, &events.ConflictError{Stream: p.Stream, Expected: p.Expect,
				Reason: fmt.Sprintf("stream is at version %d", head.Version)}
		}
		for _, ev := range p.Events {
			if _, dup := s.ids[ev.EventID]; dup {
				return nil, &events.ConflictError{Stream: p.Stream, Expected: p.Expect,
					Reason: "event id " + ev.EventID + " is already stored elsewhere"}
			}
		}
		bases[i] = head
	}
	now := time.Now().UTC()
	states := make([]events.State, len(ps))
	for i := range ps {
		ps[i].Number(bases[i].Version)
		for j, ev := range ps[i].Events {
			ev.RecordedAt = now
			ev.Message = proto.Clone(ev.Message)
			pos := len(s.log) + 1
			s.log = append(s.log, events.Record{Event: ev, Position: uint64(pos), Data: ps[i].Data[j]})
			s.streams[ps[i].Stream] = append(s.streams[ps[i].Stream], pos-1)
			s.ids[ev.EventID] = pos - 1
			states[i] = events.State{Version: ev.Version, Token: uint64(pos)}
		}
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return states, nil
}

// repeatLocked recognises an append whose events are all stored already.
func (s *Store) repeatLocked(ps []events.Prepared) ([]events.State, bool) {
	states := make([]events.State, len(ps))
	for i := range ps {
		if _, ok := s.ids[ps[i].Events[0].EventID]; !ok {
			return nil, false
		}
		st, ok := ps[i].AlreadyStored(s.streamLocked(ps[i].Stream))
		if !ok {
			return nil, false
		}
		states[i] = st
	}
	return states, true
}

func (s *Store) headLocked(stream events.StreamID) events.State {
	idx := s.streams[stream]
	if len(idx) == 0 {
		return events.State{}
	}
	r := s.log[idx[len(idx)-1]]
	return events.State{Version: r.Version, Token: r.Position}
}

func (s *Store) streamLocked(stream events.StreamID) []events.Record {
	idx := s.streams[stream]
	out := make([]events.Record, len(idx))
	for i, j := range idx {
		out[i] = s.copyRecord(s.log[j])
	}
	return out
}

// copyRecord hands out a copy so callers cannot change what the store holds.
func (s *Store) copyRecord(r events.Record) events.Record {
	r.Message = proto.Clone(r.Message)
	return r
}

// Load implements events.Store.
func (s *Store) Load(ctx context.Context, stream events.StreamID, from uint64) (events.Loaded, error) {
	if err := stream.Validate(); err != nil {
		return events.Loaded{}, err
	}
	if err := ctx.Err(); err != nil {
		return events.Loaded{}, fmt.Errorf("memstore: loading %s: %w", stream, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.streamLocked(stream)
	if len(recs) == 0 {
		return events.Loaded{}, fmt.Errorf("%w: %s", events.ErrNotFound, stream)
	}
	out := events.Loaded{State: s.headLocked(stream)}
	if from > 0 {
		from--
	}
	if from < uint64(len(recs)) {
		out.Events = recs[from:]
	}
	return out, nil
}

// LoadAfter implements events.Store.
func (s *Store) LoadAfter(ctx context.Context, stream events.StreamID, after events.State) (events.Loaded, error) {
	return s.Load(ctx, stream, after.Version+1)
}

// Head implements events.Store.
func (s *Store) Head(ctx context.Context, stream events.StreamID) (events.State, error) {
	if err := stream.Validate(); err != nil {
		return events.State{}, err
	}
	if err := ctx.Err(); err != nil {
		return events.State{}, fmt.Errorf("memstore: head of %s: %w", stream, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headLocked(stream), nil
}

// Read implements events.Store.
func (s *Store) Read(ctx context.Context, opts events.ReadOptions, fn func(context.Context, events.Record) error) error {
	for _, f := range opts.Filters {
		if err := events.ValidateFilter(f); err != nil {
			return err
		}
	}
	next := int(max(opts.From, 1)) - 1
	s.mu.Lock()
	end := len(s.log)
	if opts.From == 0 && !opts.FromTime.IsZero() {
		for next < end && s.log[next].RecordedAt.Before(opts.FromTime) {
			next++
		}
	}
	s.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memstore: reading: %w", err)
		}
		s.mu.Lock()
		if next >= len(s.log) || (!opts.Follow && next >= end) {
			if !opts.Follow {
				s.mu.Unlock()
				return nil
			}
			changed := s.changed
			s.mu.Unlock()
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return fmt.Errorf("memstore: reading: %w", ctx.Err())
			}
		}
		rec := s.copyRecord(s.log[next])
		s.mu.Unlock()
		next++
		if !matches(opts.Filters, rec) {
			continue
		}
		if err := fn(ctx, rec); err != nil {
			return err
		}
	}
}

func matches(filters []string, rec events.Record) bool {
	if len(filters) == 0 {
		return true
	}
	subject := events.Subject(rec.Stream(), rec.EventType)
	for _, f := range filters {
		if events.MatchSubject(f, subject) {
			return true
		}
	}
	return false
}

// LastPosition implements events.Store.
func (s *Store) LastPosition(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.log)), nil
}
