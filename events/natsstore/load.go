package natsstore

import (
	"context"
	"fmt"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/wire"
)

// Load implements events.Store with batched direct gets over the stream's wildcard subject.
func (s *Store) Load(ctx context.Context, stream events.StreamID, from uint64) (events.Loaded, error) {
	if err := stream.Validate(); err != nil {
		return events.Loaded{}, err
	}
	recs, err := s.loadRecords(ctx, stream, from)
	if err != nil {
		return events.Loaded{}, err
	}
	if len(recs) == 0 {
		return events.Loaded{}, fmt.Errorf("%w: %s", events.ErrNotFound, stream)
	}
	last := recs[len(recs)-1]
	out := events.Loaded{State: events.State{Version: last.Version, Token: last.Position}}
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

// loadRecords reads every event of the stream, in order, page by page.
func (s *Store) loadRecords(ctx context.Context, stream events.StreamID, _ uint64) ([]events.Record, error) {
	subject := events.StreamSubject(stream)
	var recs []events.Record
	seq := uint64(1)
	for {
		n, err := s.getter.Get(ctx, subject, seq, s.loadBatch, func(raw RawMsg) error {
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
		if n < s.loadBatch {
			return recs, nil
		}
	}
}

func (s *Store) loadError(ctx context.Context, stream events.StreamID, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = ctxErr
	}
	return fmt.Errorf("natsstore: loading %s: %w", stream, err)
}
