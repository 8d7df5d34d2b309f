package aggregate

import (
	"container/list"

	"github.com/reboundhq/rebound/events"
)

// lru is a size-bounded cache of loaded aggregates. take removes the entry, so that two
// concurrent commands on one aggregate never share a value: the second one loads from the store.
type lru[A Root] struct {
	size  int
	order *list.List
	items map[events.StreamID]*list.Element
}

type lruEntry[A Root] struct {
	stream events.StreamID
	loaded Loaded[A]
}

func newLRU[A Root](size int) *lru[A] {
	return &lru[A]{size: size, order: list.New(), items: make(map[events.StreamID]*list.Element)}
}

func (c *lru[A]) take(stream events.StreamID) (Loaded[A], bool) {
	el, ok := c.items[stream]
	if !ok {
		return Loaded[A]{}, false
	}
	c.order.Remove(el)
	delete(c.items, stream)
	return el.Value.(*lruEntry[A]).loaded, true
}

func (c *lru[A]) put(stream events.StreamID, l Loaded[A]) {
	if el, ok := c.items[stream]; ok {
		c.order.Remove(el)
	}
	c.items[stream] = c.order.PushFront(&lruEntry[A]{stream: stream, loaded: l})
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*lruEntry[A]).stream)
	}
}

func (c *lru[A]) remove(stream events.StreamID) {
	if el, ok := c.items[stream]; ok {
		c.order.Remove(el)
		delete(c.items, stream)
	}
}
