package natsstore

import (
	"context"
	"fmt"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/wire"
)

// Load implements events.Store: the stream's head first (the server answers it from its subject
// index), then exactly that many events with batched direct gets over the stream's wildcard
// subject, so the server never searches past the last one.
func (s *Store) Load(ctx context.Context, stream events.StreamID, from uint64) (events.Loaded, error) {
	if err := stream.Validate(); err != nil {
		return events.Loaded{}, err
	}
	head, _, err := s.headMsg(ctx, stream)
	if err != nil {
		return events.Loaded{}, err
	}
	if head.Version == 0 {
		return events.Loaded{}, fmt.Errorf("%w: %s", events.ErrNotFound, stream)
	}
	recs, err := s.readRange(ctx, stream, 1, head.Version)
	if err != nil {
		return events.Loaded{}, err
	}
	return s.loaded(stream, recs, head, from)
}

// LoadAfter implements events.Store. The head answers the common cases alone: nothing new, or
// one new event (the head itself). Otherwise it reads the missing events from after.Token+1:
// reading from the start of a long stream makes the server walk every block between the
// stream's events, which is what a snapshot spares.
func (s *Store) LoadAfter(ctx context.Context, stream events.StreamID, after events.State) (events.Loaded, error) {
	if err := stream.Validate(); err != nil {
		return events.Loaded{}, err
	}
	head, last, err := s.headMsg(ctx, stream)
	if err != nil {
		return events.Loaded{}, err
	}
	switch {
	case head.Version == 0:
		return events.Loaded{}, fmt.Errorf("%w: %s", events.ErrNotFound, stream)
	case head == after:
		return events.Loaded{State: head}, nil
	case head.Version <= after.Version || head.Token <= after.Token:
		// after is not a state this stream went through: read it all.
		return s.Load(ctx, stream, after.Version+1)
	case head.Version == after.Version+1:
		rec, err := wire.Decode(s.reg, last.Subject, last.Header, last.Data, last.Time, last.Sequence)
		if err != nil {
			return events.Loaded{}, err
		}
		return s.loaded(stream, []events.Record{rec}, head, after.Version+1)
	}
	recs, err := s.readRange(ctx, stream, after.Token+1, head.Version-after.Version)
	if err != nil {
		return events.Loaded{}, err
	}
	if len(recs) == 0 || recs[0].Version != after.Version+1 {
		return s.Load(ctx, stream, after.Version+1)
	}
	return s.loaded(stream, recs, head, after.Version+1)
}

// Head implements events.Store.
func (s *Store) Head(ctx context.Context, stream events.StreamID) (events.State, error) {
	if err := stream.Validate(); err != nil {
		return events.State{}, err
	}
	return s.head(ctx, stream)
}

// loaded returns the records from version `from` on, checked to be decodable, with the head
// state (which the records must reach).
func (s *Store) loaded(stream events.StreamID, recs []events.Record, head events.State, from uint64) (events.Loaded, error) {
	if n := len(recs); n == 0 || recs[n-1].Version != head.Version || recs[n-1].Position != head.Token {
		return events.Loaded{}, fmt.Errorf("natsstore: loading %s: read up to version %d, the head is at %d", stream, lastVersion(recs), head.Version)
	}
	out := events.Loaded{State: head}
	for i, r := range recs {
		if r.Version >= from {
			out.Events = recs[i:]
			break
		}
	}
	for _, r := range out.Events {
		if err := r.Decoded(); err != nil {
			return events.Loaded{}, fmt.Errorf("natsstore: loading %s version %d: %w", stream, r.Version, err)
		}
	}
	return out, nil
}

func lastVersion(recs []events.Record) uint64 {
	if len(recs) == 0 {
		return 0
	}
	return recs[len(recs)-1].Version
}

// readRange reads count events of the stream from stream sequence seq on, in order, in pages.
func (s *Store) readRange(ctx context.Context, stream events.StreamID, seq, count uint64) ([]events.Record, error) {
	subject := events.StreamSubject(stream)
	recs := make([]events.Record, 0, count)
	for uint64(len(recs)) < count {
		page := int(min(count-uint64(len(recs)), uint64(s.loadBatch)))
		n, err := s.getter.Get(ctx, subject, seq, page, func(raw RawMsg) error {
			rec, err := wire.Decode(s.reg, raw.Subject, raw.Header, raw.Data, raw.Time, raw.Sequence)
			if err != nil {
				return err
			}
			recs = append(recs, rec)
			seq = raw.Sequence + 1
			return nil
		})
		if err != nil {
			return nil, s.loadError(ctx, stream, err)
		}
		if n < page {
			break
		}
	}
	return recs, nil
}

func (s *Store) loadError(ctx context.Context, stream events.StreamID, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = ctxErr
	}
	return fmt.Errorf("natsstore: loading %s: %w", stream, err)
}
