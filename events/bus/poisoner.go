package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/wire"
)

const poisonPublishTimeout = 10 * time.Second

// poisoning sends a message whose handling failed permanently to poison.<handler> and, once
// JetStream stored it there, reports success so that the subscriber acks the original. When
// the publish fails, it returns a retryable error: the original is delivered again later.
// It logs one line per poisoned message.
func poisoning(js jetstream.JetStream, handler string, log *slog.Logger) message.HandlerMiddleware {
	return func(next message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := next(msg)
			if err == nil || !IsPermanent(err) {
				return out, err
			}
			d, derr := deliveryOf(msg)
			if derr != nil {
				return nil, derr
			}
			pm := poisonMessage(handler, *d, err.Error(), time.Now())
			ctx, cancel := context.WithTimeout(msg.Context(), poisonPublishTimeout)
			defer cancel()
			ack, perr := js.PublishMsg(ctx, pm)
			if perr != nil {
				// Not wrapped with %w: the failure to publish is retryable, whatever err was.
				return nil, fmt.Errorf("bus: %s: sending %s (stream %s sequence %d) to %s after a permanent error (%v): %w",
					handler, d.Subject, d.Stream, d.Sequence, pm.Subject, err, perr)
			}
			log.Error("message poisoned",
				slog.String("handler_name", handler),
				slog.String("subject", d.Subject),
				slog.String("stream", d.Stream),
				slog.Uint64("sequence", d.Sequence),
				slog.String("event_id", d.Header.Get(wire.HeaderEventID)),
				slog.Bool("redriven", d.Redriven),
				slog.String("poison_subject", pm.Subject),
				slog.Uint64("poison_sequence", ack.Sequence),
				slog.Any("error", err))
			return nil, nil
		}
	}
}
