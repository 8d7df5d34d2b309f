package bus

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/wire"
)

// CorrelationMetadataKey is the watermill metadata key of the correlation id (the key
// watermill's own correlation middleware uses).
const CorrelationMetadataKey = "correlation_id"

type ctxKey int

const (
	deliveryKey ctxKey = iota
	recordKey
	correlationKey
	stoppingKey
)

// CorrelationID returns the correlation id of the message a handler is processing: its
// Rebound-Correlation-Id header, or its event id when it has none.
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey).(string)
	return id
}

// DeliveryFrom returns the delivery a handler is processing, as the subscriber received it.
func DeliveryFrom(ctx context.Context) (Delivery, bool) {
	d, ok := ctx.Value(deliveryKey).(*Delivery)
	if !ok {
		return Delivery{}, false
	}
	return *d, true
}

func deliveryOf(msg *message.Message) (*Delivery, error) {
	d, ok := msg.Context().Value(deliveryKey).(*Delivery)
	if !ok {
		return nil, Permanent(fmt.Errorf("bus: message %s did not come from a bus subscriber", msg.UUID))
	}
	return d, nil
}

// stopping returns a channel closed once the bus is shutting down: retries stop waiting then.
func stopping(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(stoppingKey).(<-chan struct{})
	return ch
}

// correlation puts the message's correlation id into its context (see CorrelationID) and its
// watermill metadata (CorrelationMetadataKey).
func correlation(next message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		id := msg.Metadata.Get(wire.HeaderCorrelationID)
		if id == "" {
			id = msg.Metadata.Get(wire.HeaderEventID)
		}
		if id == "" {
			id = msg.UUID
		}
		msg.Metadata.Set(CorrelationMetadataKey, id)
		msg.SetContext(context.WithValue(msg.Context(), correlationKey, id))
		return next(msg)
	}
}

// recoverer turns a panic below it into a permanent error that carries the stack.
func recoverer(next message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) (out []*message.Message, err error) {
		defer func() {
			if r := recover(); r != nil {
				out, err = nil, Permanent(fmt.Errorf("bus: handler panicked: %v\n%s", r, debug.Stack()))
			}
		}()
		return next(msg)
	}
}

// decoding decodes the delivery into the record the handler receives; a decoding error is
// permanent.
func decoding(reg *events.Registry, decode DecodeFunc) message.HandlerMiddleware {
	return func(next message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			d, err := deliveryOf(msg)
			if err != nil {
				return nil, err
			}
			rec, err := decode(reg, *d)
			if err != nil {
				return nil, Permanent(fmt.Errorf("bus: decoding %s (stream %s sequence %d): %w", d.Subject, d.Stream, d.Sequence, err))
			}
			msg.SetContext(context.WithValue(msg.Context(), recordKey, &rec))
			return next(msg)
		}
	}
}

func recordOf(msg *message.Message) (*events.Record, error) {
	rec, ok := msg.Context().Value(recordKey).(*events.Record)
	if !ok {
		return nil, Permanent(fmt.Errorf("bus: message %s was not decoded", msg.UUID))
	}
	return rec, nil
}

// handle is the innermost watermill handler: it calls fn with the decoded record.
func handle(fn HandlerFunc) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		rec, err := recordOf(msg)
		if err != nil {
			return err
		}
		return fn(msg.Context(), *rec)
	}
}
