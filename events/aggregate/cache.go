package aggregate

import (
	"container/list"
	"fmt"
	"sync"

	"github.com/reboundhq/rebound/events"
)

// entry is a loaded aggregate: its state, its stream's state and the causation ids of its
// recent events.
type entry[A Root] struct {
	stream events.StreamID
	root   A
	state  events.State
	causes *causes
}

// apply folds stored records into the entry.
func (e *entry[A]) apply(recs []events.Record) error {
	for _, rec := range recs {
		if err := e.root.Apply(rec); err != nil {
			return fmt.Errorf("aggregate: applying %s version %d to %s: %w", rec.EventType, rec.Version, e.stream, err)
		}
		e.causes.add(rec.CausationID)
		e.state = events.State{Version: rec.Version, Token: rec.Position}
	}
	return nil
}

// cache is a size-bounded LRU of loaded aggregates. take removes the entry while a command uses
// it; put returns it. evict is called (outside the lock) for entries pushed out.
type cache[A Root] struct {
	size, maxCauses int
	evict           func(*entry[A])

	mu    sync.Mutex
	order *list.List
	items map[events.StreamID]*list.Element
}

func newCache[A Root](size, maxCauses int, evict func(*entry[A])) *cache[A] {
	return &cache[A]{size: size, maxCauses: maxCauses, evict: evict, order: list.New(), items: make(map[events.StreamID]*list.Element)}
}

func (c *cache[A]) newEntry(stream events.StreamID, root A, st events.State) *entry[A] {
	return &entry[A]{stream: stream, root: root, state: st, causes: newCauses(c.maxCauses)}
}

func (c *cache[A]) take(stream events.StreamID) (*entry[A], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[stream]
	if !ok {
		return nil, false
	}
	c.order.Remove(el)
	delete(c.items, stream)
	return el.Value.(*entry[A]), true
}

func (c *cache[A]) put(e *entry[A]) {
	if c.size == 0 {
		c.evict(e)
		return
	}
	var out []*entry[A]
	c.mu.Lock()
	if el, ok := c.items[e.stream]; ok {
		c.order.Remove(el)
	}
	c.items[e.stream] = c.order.PushFront(e)
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		old := oldest.Value.(*entry[A])
		delete(c.items, old.stream)
		out = append(out, old)
	}
	c.mu.Unlock()
	for _, old := range out {
		c.evict(old)
	}
}

func (c *cache[A]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// causes is a bounded set of causation ids that remembers the most recent ones.
type causes struct {
	max  int
	set  map[string]struct{}
	ring []string
	next int
}

func newCauses(max int) *causes {
	return &causes{max: max, set: make(map[string]struct{})}
}

func (c *causes) has(id string) bool {
	_, ok := c.set[id]
	return ok
}

func (c *causes) add(id string) {
	if id == "" || c.has(id) {
		return
	}
	if len(c.ring) < c.max {
		c.ring = append(c.ring, id)
	} else {
		delete(c.set, c.ring[c.next])
		c.ring[c.next] = id
		c.next = (c.next + 1) % c.max
	}
	c.set[id] = struct{}{}
}

// list returns the ids, oldest first.
func (c *causes) list() []string {
	if len(c.ring) < c.max {
		return append([]string(nil), c.ring...)
	}
	return append(append([]string(nil), c.ring[c.next:]...), c.ring[:c.next]...)
}
