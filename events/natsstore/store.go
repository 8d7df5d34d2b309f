package natsstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/wire"
)

// Store is the JetStream event store. It is safe for concurrent use.
type Store struct {
	js         jetstream.JetStream
	pub        jetstream.JetStream // the store's own publisher: ack timeout and pending limit
	getter     *DirectGetter
	stream     jetstream.Stream
	name       string
	reg        *events.Registry
	loadBatch  int
	ackTimeout time.Duration
}

var _ events.Store = (*Store)(nil)

// Config configures a Store.
type Config struct {
	// Stream configures the EVENTS stream, which New creates or updates.
	Stream StreamConfig
	// LoadBatch is how many events one direct get returns when loading; default 256.
	LoadBatch int
	// AckTimeout bounds the wait for the server's acknowledgement of an append when the
	// caller's context has no earlier deadline; default 10s.
	AckTimeout time.Duration
}

// New returns a store on js, creating or updating its stream.
func New(ctx context.Context, js jetstream.JetStream, reg *events.Registry, cfg Config) (*Store, error) {
	if js == nil || reg == nil {
		return nil, errors.New("natsstore: New needs a JetStream context and a registry")
	}
	st, err := EnsureStream(ctx, js, cfg.Stream)
	if err != nil {
		return nil, err
	}
	return newStore(js, st, reg, cfg)
}

// ErrNoStream means Open found no events stream: nothing has set Rebound up on that server.
var ErrNoStream = errors.New("natsstore: the events stream does not exist")

// Open returns a store on an existing stream without changing its configuration, for ops tools.
func Open(ctx context.Context, js jetstream.JetStream, reg *events.Registry, cfg Config) (*Store, error) {
	if js == nil || reg == nil {
		return nil, errors.New("natsstore: Open needs a JetStream context and a registry")
	}
	cfg.Stream.setDefaults()
	st, err := js.Stream(ctx, cfg.Stream.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: no stream %s on this server (has Rebound run against it?)", ErrNoStream, cfg.Stream.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("natsstore: opening stream %s: %w", cfg.Stream.Name, err)
	}
	return newStore(js, st, reg, cfg)
}

func newStore(js jetstream.JetStream, st jetstream.Stream, reg *events.Registry, cfg Config) (*Store, error) {
	if cfg.LoadBatch <= 0 {
		cfg.LoadBatch = 256
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 10 * time.Second
	}
	// The store publishes through a JetStream context of its own, so that its ack timeout and
	// pending limit do not depend on (or change) the caller's.
	pub, err := jetstream.New(js.Conn(), jetstream.WithPublishAsyncTimeout(cfg.AckTimeout), jetstream.WithPublishAsyncMaxPending(16_384))
	if err != nil {
		return nil, fmt.Errorf("natsstore: %w", err)
	}
	getter, err := NewDirectGetter(js, st.CachedInfo().Config.Name)
	if err != nil {
		return nil, err
	}
	return &Store{js: js, pub: pub, getter: getter, stream: st, name: st.CachedInfo().Config.Name, reg: reg, loadBatch: cfg.LoadBatch, ackTimeout: cfg.AckTimeout}, nil
}

// StreamName is the name of the stream the store writes to.
func (s *Store) StreamName() string { return s.name }

const (
	hdrExpectedSubjectSeq = "Nats-Expected-Last-Subject-Sequence"
	hdrExpectedSubject    = "Nats-Expected-Last-Subject-Sequence-Subject"
	anyRetries            = 20
)

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

// write resolves each stream's expectation to a state, publishes, and on a conflict either
// recognises an idempotent repeat or, for ExpectAny appends, tries again.
func (s *Store) write(ctx context.Context, ps []events.Prepared) ([]events.State, error) {
	for attempt := 0; ; attempt++ {
		bases := make([]events.State, len(ps))
		for i := range ps {
			st, err := s.resolve(ctx, &ps[i])
			if err != nil {
				return nil, err
			}
			bases[i] = st
			ps[i].Number(st.Version)
		}
		states, err := s.publish(ctx, ps, bases)
		if err == nil {
			return states, nil
		}
		var conflict *events.ConflictError
		if !errors.As(err, &conflict) {
			return nil, err
		}
		if states, ok := s.alreadyStored(ctx, ps); ok {
			return states, nil
		}
		if !allAny(ps) || attempt >= anyRetries {
			return nil, err
		}
	}
}

func allAny(ps []events.Prepared) bool {
	for _, p := range ps {
		if !p.Expect.IsAny() {
			return false
		}
	}
	return true
}

// resolve turns the expectation into the stream state the append must find, looking the stream
// up only when the caller did not pass its state.
func (s *Store) resolve(ctx context.Context, p *events.Prepared) (events.State, error) {
	if st, ok := p.Expect.State(); ok {
		return st, nil
	}
	st, err := s.head(ctx, p.Stream)
	if err != nil {
		return events.State{}, err
	}
	if v, ok := p.Expect.Version(); ok && v != st.Version {
		return events.State{}, &events.ConflictError{Stream: p.Stream, Expected: p.Expect,
			Reason: fmt.Sprintf("stream is at version %d", st.Version)}
	}
	return st, nil
}

// head returns the state of a stream from its last event (zero when it has none).
func (s *Store) head(ctx context.Context, stream events.StreamID) (events.State, error) {
	st, _, err := s.headMsg(ctx, stream)
	return st, err
}

// headMsg returns the state of a stream and its last event as stored (nil when it has none).
// The server answers it from its subject index, without walking the stream.
func (s *Store) headMsg(ctx context.Context, stream events.StreamID) (events.State, *jetstream.RawStreamMsg, error) {
	msg, err := s.stream.GetLastMsgForSubject(ctx, events.StreamSubject(stream))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return events.State{}, nil, nil
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return events.State{}, nil, fmt.Errorf("natsstore: reading the head of %s: %w", stream, err)
	}
	v, err := strconv.ParseUint(msg.Header.Get(wire.HeaderVersion), 10, 64)
	if err != nil {
		return events.State{}, nil, fmt.Errorf("natsstore: the last event of %s (sequence %d) has no valid version header", stream, msg.Sequence)
	}
	return events.State{Version: v, Token: msg.Sequence}, msg, nil
}

// publish writes the prepared events: one event as a plain conditional publish, more as one
// atomic batch whose first message per stream carries that stream's expectation.
func (s *Store) publish(ctx context.Context, ps []events.Prepared, bases []events.State) ([]events.State, error) {
	var msgs []*nats.Msg
	for i, p := range ps {
		for j, ev := range p.Events {
			m := wire.MessageWithExtra(ev, p.Data[j], 2)
			if j == 0 {
				expect := [2]string{strconv.FormatUint(bases[i].Token, 10), events.StreamSubject(p.Stream)}
				m.Header[hdrExpectedSubjectSeq] = expect[0:1:1]
				m.Header[hdrExpectedSubject] = expect[1:2:2]
			}
			msgs = append(msgs, m)
		}
	}
	var last uint64
	if len(msgs) == 1 {
		ack, err := s.publishOne(ctx, msgs[0])
		if err != nil {
			return nil, s.publishError(ctx, ps, err)
		}
		if ack.Duplicate {
			if states, ok := s.alreadyStored(ctx, ps); ok {
				return states, nil
			}
			return nil, &events.ConflictError{Stream: ps[0].Stream, Expected: ps[0].Expect,
				Reason: "event id " + ps[0].Events[0].EventID + " is already stored elsewhere"}
		}
		last = ack.Sequence
	} else {
		ack, err := jetstreamext.PublishMsgBatch(ctx, s.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
		if err != nil {
			return nil, s.publishError(ctx, ps, err)
		}
		last = ack.Sequence
	}
	// An atomic batch is stored contiguously, so the sequence of every message follows from the
	// last one's.
	states := make([]events.State, len(ps))
	seq := last - uint64(len(msgs)) + 1
	for i, p := range ps {
		seq += uint64(len(p.Events))
		states[i] = events.State{Version: bases[i].Version + uint64(len(p.Events)), Token: seq - 1}
	}
	return states, nil
}

// publishOne publishes one message and waits for its ack. It goes through the asynchronous
// publisher, which shares one reply subscription among all appends and costs less per message
// than a request with a reply inbox each.
func (s *Store) publishOne(ctx context.Context, msg *nats.Msg) (*jetstream.PubAck, error) {
	f, err := s.pub.PublishMsgAsync(msg)
	if err != nil {
		return nil, err
	}
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
			return nil, fmt.Errorf("no acknowledgement within %s: %w", s.ackTimeout, context.DeadlineExceeded)
		}
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// publishError classifies a failed publish.
func (s *Store) publishError(ctx context.Context, ps []events.Prepared, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("natsstore: append to %s: %w", ps[0].Stream, ctxErr)
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant,
			jetstreamext.JSErrCodeBatchPublishDuplicateMsgID:
			return &events.ConflictError{Stream: ps[0].Stream, Expected: ps[0].Expect, Reason: apiErr.Description}
		}
	}
	streams := ps[0].Stream.String()
	if len(ps) > 1 {
		streams = fmt.Sprintf("%s and %d more streams", streams, len(ps)-1)
	}
	return fmt.Errorf("natsstore: append to %s: %w", streams, err)
}

// alreadyStored reports whether every prepared append is already stored (an idempotent repeat)
// and returns the streams' states after those events.
func (s *Store) alreadyStored(ctx context.Context, ps []events.Prepared) ([]events.State, bool) {
	states := make([]events.State, len(ps))
	for i := range ps {
		loaded, err := s.Load(ctx, ps[i].Stream, 0)
		if err != nil {
			return nil, false
		}
		st, ok := ps[i].AlreadyStored(loaded.Events)
		if !ok {
			return nil, false
		}
		states[i] = st
	}
	return states, true
}
