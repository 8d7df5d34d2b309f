package bus

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
)

const listBatch = 256

// ListPoison returns the messages kept on the handler's poison subject, oldest first. It
// returns none when the POISON stream does not exist yet.
func ListPoison(ctx context.Context, js jetstream.JetStream, handler string) ([]PoisonMessage, error) {
	raws, err := poisoned(ctx, js, handler)
	if err != nil {
		return nil, err
	}
	out := make([]PoisonMessage, len(raws))
	for i, raw := range raws {
		out[i] = parsePoison(raw)
	}
	return out, nil
}

// Redrive sends the handler's poisoned messages with the given POISON sequences (all of them
// when seqs is empty) back to the handler: each is published to redrive.<handler> with its
// headers, then removed from the poison subject. The handler's consumer treats a re-driven
// message as if it arrived on its original subject; if it fails permanently again it is
// poisoned again. Redrive returns how many messages it re-drove; a sequence that is not a
// poisoned message of handler is an error wrapping events.ErrInvalidArgument.
func Redrive(ctx context.Context, js jetstream.JetStream, handler string, seqs ...uint64) (int, error) {
	var raws []*jetstream.RawStreamMsg
	if len(seqs) == 0 {
		var err error
		if raws, err = poisoned(ctx, js, handler); err != nil {
			return 0, err
		}
	} else {
		if err := validateHandlerName(handler); err != nil {
			return 0, err
		}
		stream, err := js.Stream(ctx, PoisonStream)
		if err != nil {
			return 0, fmt.Errorf("bus: opening stream %s: %w", PoisonStream, err)
		}
		for _, seq := range seqs {
			raw, err := stream.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return 0, fmt.Errorf("%w: no poisoned message at sequence %d", events.ErrInvalidArgument, seq)
			}
			if err != nil {
				return 0, fmt.Errorf("bus: reading poisoned message %d: %w", seq, err)
			}
			if raw.Subject != PoisonSubject(handler) {
				return 0, fmt.Errorf("%w: message %d of %s is on %s, not %s",
					events.ErrInvalidArgument, seq, PoisonStream, raw.Subject, PoisonSubject(handler))
			}
			raws = append(raws, raw)
		}
	}
	if len(raws) == 0 {
		return 0, nil
	}
	stream, err := js.Stream(ctx, PoisonStream)
	if err != nil {
		return 0, fmt.Errorf("bus: opening stream %s: %w", PoisonStream, err)
	}
	for i, raw := range raws {
		h := make(nats.Header, len(raw.Header))
		for k, v := range raw.Header {
			if !isServerHeader(k) {
				h[k] = v
			}
		}
		// Repeating a re-drive of the same poisoned message is a no-op.
		h.Set(headerMsgID, fmt.Sprintf("redrive.%s.%d", handler, raw.Sequence))
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: RedriveSubject(handler), Header: h, Data: raw.Data}); err != nil {
			return i, fmt.Errorf("bus: re-driving poisoned message %d of %s: %w", raw.Sequence, handler, err)
		}
		if err := stream.DeleteMsg(ctx, raw.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return i + 1, fmt.Errorf("bus: removing re-driven message %d from %s: %w", raw.Sequence, PoisonSubject(handler), err)
		}
	}
	return len(raws), nil
}

// poisoned reads every message on the handler's poison subject with batched direct gets.
func poisoned(ctx context.Context, js jetstream.JetStream, handler string) ([]*jetstream.RawStreamMsg, error) {
	if err := validateHandlerName(handler); err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, PoisonStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bus: opening stream %s: %w", PoisonStream, err)
	}
	if stream.CachedInfo().State.Msgs == 0 {
		return nil, nil
	}
	var out []*jetstream.RawStreamMsg
	for seq := uint64(1); ; {
		page, err := jetstreamext.GetBatch(ctx, js, PoisonStream, listBatch,
			jetstreamext.GetBatchSubject(PoisonSubject(handler)), jetstreamext.GetBatchSeq(seq))
		if err != nil {
			return nil, fmt.Errorf("bus: reading %s: %w", PoisonSubject(handler), err)
		}
		n := 0
		for raw, err := range page {
			if errors.Is(err, jetstreamext.ErrNoMessages) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("bus: reading %s: %w", PoisonSubject(handler), err)
			}
			out = append(out, raw)
			seq = raw.Sequence + 1
			n++
		}
		if n < listBatch {
			return out, nil
		}
	}
}

// redriveDelivery is the delivery a re-drive message stands for: the original message, on its
// original subject, with its original headers.
func redriveDelivery(msg jetstream.Msg, md *jetstream.MsgMetadata) Delivery {
	h := msg.Headers()
	seq, _ := strconv.ParseUint(h.Get(HeaderPoisonSequence), 10, 64)
	recorded, _ := time.Parse(time.RFC3339Nano, h.Get(HeaderPoisonRecordedAt))
	return Delivery{
		Subject:      h.Get(HeaderPoisonSubject),
		Header:       originalHeaders(h),
		Data:         msg.Data(),
		Stream:       h.Get(HeaderPoisonStream),
		Sequence:     seq,
		Timestamp:    recorded,
		NumDelivered: md.NumDelivered,
		Redriven:     true,
		redriveSeq:   md.Sequence.Stream,
	}
}

func validateHandlerName(name string) error {
	if !handlerNameRE.MatchString(name) {
		return fmt.Errorf("%w: handler name %q must match %s", events.ErrInvalidArgument, name, handlerNameRE)
	}
	return nil
}
