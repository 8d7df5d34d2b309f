package events

import (
	"time"
)

// Prepared is an append checked and filled in by Prepare, ready for a store to write.
type Prepared struct {
	Stream StreamID
	Expect Expectation
	Events []Event
	// Data holds each event's encoded payload.
	Data [][]byte
}

// Prepare checks one stream's append and fills in what the store owns: the stream on every
// envelope, missing ids, occurred times and schema versions. Versions are left for Number,
// since only the store knows where the stream stands.
func Prepare(reg *Registry, stream StreamID, expect Expectation, evs []Event) (Prepared, error) {
	if err := stream.Validate(); err != nil {
		return Prepared{}, err
	}
	if len(evs) == 0 {
		return Prepared{}, invalid("events", "an append needs at least one event")
	}
	if len(evs) > MaxAppendEvents {
		return Prepared{}, invalid("events", "%d events in one append; at most %d", len(evs), MaxAppendEvents)
	}
	p := Prepared{Stream: stream, Expect: expect, Events: make([]Event, len(evs)), Data: make([][]byte, len(evs))}
	var seen map[string]struct{}
	if len(evs) > 1 {
		seen = make(map[string]struct{}, len(evs))
	}
	var now time.Time
	for i, ev := range evs {
		if ev.EventID == "" {
			ev.EventID = NewEventID()
		}
		if seen != nil {
			if _, dup := seen[ev.EventID]; dup {
				return Prepared{}, invalid("events", "event id %s appears twice in one append", ev.EventID)
			}
			seen[ev.EventID] = struct{}{}
		}
		data, err := reg.Encode(ev)
		if err != nil {
			return Prepared{}, err
		}
		ev.EventType = TypeName(ev.Message)
		ev.AggregateType, ev.Account, ev.AggregateID = stream.AggregateType, stream.Account, stream.ID
		if ev.OccurredAt.IsZero() {
			if now.IsZero() {
				now = time.Now().UTC()
			}
			ev.OccurredAt = now
		}
		if ev.SchemaVersion == 0 {
			ev.SchemaVersion = CurrentSchemaVersion
		}
		p.Events[i], p.Data[i] = ev, data
	}
	return p, nil
}

// Number gives the prepared events versions base+1, base+2, ...
func (p *Prepared) Number(base uint64) {
	for i := range p.Events {
		p.Events[i].Version = base + uint64(i) + 1
	}
}

// PrepareMulti prepares every part of an AppendMulti and checks that no stream appears twice.
func PrepareMulti(reg *Registry, appends []StreamAppend) ([]Prepared, error) {
	if len(appends) == 0 {
		return nil, invalid("appends", "an atomic append needs at least one stream")
	}
	out := make([]Prepared, len(appends))
	streams := make(map[StreamID]struct{}, len(appends))
	total := 0
	ids := make(map[string]struct{})
	for i, a := range appends {
		if _, dup := streams[a.Stream]; dup {
			return nil, invalid("appends", "stream %s appears twice in one atomic append", a.Stream)
		}
		streams[a.Stream] = struct{}{}
		p, err := Prepare(reg, a.Stream, a.Expect, a.Events)
		if err != nil {
			return nil, err
		}
		for _, ev := range p.Events {
			if _, dup := ids[ev.EventID]; dup {
				return nil, invalid("appends", "event id %s appears twice in one atomic append", ev.EventID)
			}
			ids[ev.EventID] = struct{}{}
		}
		total += len(p.Events)
		out[i] = p
	}
	if total > MaxAppendEvents {
		return nil, invalid("appends", "%d events in one atomic append; at most %d", total, MaxAppendEvents)
	}
	return out, nil
}

// AlreadyStored reports whether the prepared events are already stored, consecutively and in
// the same order (and right after the expected version, when the append expected one), which
// makes a repeated append a no-op. It returns the stream state after the last of them.
func (p *Prepared) AlreadyStored(loaded []Record) (State, bool) {
	if len(p.Events) == 0 {
		return State{}, false
	}
	byID := make(map[string]int, len(loaded))
	for i, r := range loaded {
		byID[r.EventID] = i
	}
	first, ok := byID[p.Events[0].EventID]
	if !ok {
		return State{}, false
	}
	base := loaded[first].Version - 1
	if v, has := p.Expect.Version(); has && v != base {
		return State{}, false
	}
	var st State
	for i, ev := range p.Events {
		j, ok := byID[ev.EventID]
		if !ok || loaded[j].Version != base+uint64(i)+1 {
			return State{}, false
		}
		st = State{Version: loaded[j].Version, Token: loaded[j].Position}
	}
	return st, true
}
