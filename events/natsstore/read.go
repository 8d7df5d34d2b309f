package natsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/wire"
)

// Read implements events.Store with an ordered consumer. Without Follow it first finds the last
// matching event (a direct get per filter) and stops once that one was delivered.
func (s *Store) Read(ctx context.Context, opts events.ReadOptions, fn func(context.Context, events.Record) error) error {
	for _, f := range opts.Filters {
		if err := events.ValidateFilter(f); err != nil {
			return err
		}
	}
	from := max(opts.From, 1)
	var end uint64
	if !opts.Follow {
		var (
			endTime time.Time
			err     error
		)
		if end, endTime, err = s.lastMatching(ctx, opts.Filters); err != nil {
			return err
		}
		// Nothing to deliver: the last matching event is before the start (a consumer asked to
		// start past the end would wait for ever).
		if end < from || (opts.From == 0 && !opts.FromTime.IsZero() && endTime.Before(opts.FromTime)) {
			return nil
		}
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: opts.Filters, DeliverPolicy: jetstream.DeliverAllPolicy}
	switch {
	case opts.From > 1:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, opts.From
	case !opts.FromTime.IsZero():
		t := opts.FromTime
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := s.js.OrderedConsumer(ctx, s.name, cfg)
	if err != nil {
		return s.readError(ctx, err)
	}
	msgs, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return s.readError(ctx, err)
	}
	defer msgs.Stop()
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	for {
		msg, err := msgs.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && ctx.Err() != nil {
				return fmt.Errorf("natsstore: reading %s: %w", s.name, ctx.Err())
			}
			return s.readError(ctx, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("natsstore: reading %s: %w", s.name, err)
		}
		rec, err := s.decodeMsg(msg, meta)
		if err != nil {
			return err
		}
		if err := fn(ctx, rec); err != nil {
			return err
		}
		if !opts.Follow && (meta.Sequence.Stream >= end || meta.NumPending == 0) {
			return nil
		}
	}
}

func (s *Store) decodeMsg(msg jetstream.Msg, meta *jetstream.MsgMetadata) (events.Record, error) {
	return wire.Decode(s.reg, msg.Subject(), msg.Headers(), msg.Data(), meta.Timestamp, meta.Sequence.Stream)
}

// lastMatching returns the sequence and time of the newest event that matches any of the
// filters (every event when there are none).
func (s *Store) lastMatching(ctx context.Context, filters []string) (uint64, time.Time, error) {
	if len(filters) == 0 {
		filters = []string{events.SubjectPrefix + ".>"}
	}
	var (
		end     uint64
		endTime time.Time
	)
	for _, f := range filters {
		msg, err := s.stream.GetLastMsgForSubject(ctx, f)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return 0, time.Time{}, s.readError(ctx, err)
		}
		if msg.Sequence > end {
			end, endTime = msg.Sequence, msg.Time
		}
	}
	return end, endTime, nil
}

// LastPosition implements events.Store.
func (s *Store) LastPosition(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, s.readError(ctx, err)
	}
	return info.State.LastSeq, nil
}

func (s *Store) readError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = ctxErr
	}
	return fmt.Errorf("natsstore: reading %s: %w", s.name, err)
}
