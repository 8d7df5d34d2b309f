package bus

import (
	"container/list"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
)

// dedup skips events the handler already handled successfully (a redelivery after a lost ack,
// an ack that came too late): such a message is acked without calling the handler again. It
// remembers the ids of the last size events it let through, in this process only; handlers
// stay idempotent for redeliveries it cannot see (after a restart, or on another replica).
type dedup struct {
	mu    sync.Mutex
	size  int
	order *list.List
	ids   map[string]*list.Element
}

func newDedup(size int) *dedup {
	return &dedup{size: size, order: list.New(), ids: make(map[string]*list.Element, size)}
}

func (d *dedup) seen(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	el, ok := d.ids[id]
	if ok {
		d.order.MoveToFront(el)
	}
	return ok
}

func (d *dedup) add(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if el, ok := d.ids[id]; ok {
		d.order.MoveToFront(el)
		return
	}
	d.ids[id] = d.order.PushFront(id)
	for d.order.Len() > d.size {
		oldest := d.order.Back()
		d.order.Remove(oldest)
		delete(d.ids, oldest.Value.(string))
	}
}

// middleware skips records whose event id was handled and remembers the ids of records the
// handler returned nil for.
func (d *dedup) middleware(handler string, log *slog.Logger) message.HandlerMiddleware {
	return func(next message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			rec, err := recordOf(msg)
			if err != nil {
				return nil, err
			}
			id := rec.EventID
			if id != "" && d.seen(id) {
				log.Debug("duplicate event skipped", slog.String("handler_name", handler), slog.String("event_id", id),
					slog.Uint64("position", rec.Position))
				return nil, nil
			}
			out, err := next(msg)
			if err == nil && id != "" {
				d.add(id)
			}
			return out, err
		}
	}
}
