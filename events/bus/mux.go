package bus

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/reboundhq/rebound/events"
)

// Mux routes records to typed functions by event type. The zero Mux is ready to use; register
// every route with On before the bus runs. It is safe for concurrent use.
type Mux struct {
	mu     sync.RWMutex
	routes map[string]HandlerFunc
}

// On routes events of type T to fn, which receives the envelope and the decoded payload. T must
// be registered in the bus's registry; an event of a routed type that arrives without a decoded
// payload is a permanent events.ErrUnknownType. On panics when T already has a route.
func On[T proto.Message](m *Mux, fn func(ctx context.Context, env events.Envelope, msg T) error) {
	var zero T
	name := events.TypeName(zero)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routes == nil {
		m.routes = make(map[string]HandlerFunc)
	}
	if _, dup := m.routes[name]; dup {
		panic(fmt.Sprintf("bus: Mux already has a route for %s", name))
	}
	m.routes[name] = func(ctx context.Context, rec events.Record) error {
		msg, ok := rec.Message.(T)
		if !ok {
			if rec.Message == nil {
				return Permanent(&events.UnknownTypeError{Type: rec.EventType})
			}
			return Permanent(fmt.Errorf("bus: event %s of type %s carries a %T payload", rec.EventID, rec.EventType, rec.Message))
		}
		return fn(ctx, rec.Envelope, msg)
	}
}

// Types returns the event types that have a route, sorted.
func (m *Mux) Types() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	types := make([]string, 0, len(m.routes))
	for t := range m.routes {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Func returns the HandlerFunc that dispatches to the routes. Events of a type without a route
// are acked and ignored.
func (m *Mux) Func() HandlerFunc {
	return func(ctx context.Context, rec events.Record) error {
		m.mu.RLock()
		route, ok := m.routes[rec.EventType]
		m.mu.RUnlock()
		if !ok {
			return nil
		}
		return route(ctx, rec)
	}
}
