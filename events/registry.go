package events

import (
	"fmt"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Registry maps event type names (protobuf full names) to Go types. It is safe for concurrent
// use; register every type at start, before the first decode.
type Registry struct {
	mu    sync.RWMutex
	types map[string]protoreflect.MessageType
}

// NewRegistry returns a registry holding msgs' types.
func NewRegistry(msgs ...proto.Message) *Registry {
	r := &Registry{types: make(map[string]protoreflect.MessageType)}
	r.Register(msgs...)
	return r
}

// Register adds the types of msgs (their values are not used).
func (r *Registry) Register(msgs ...proto.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		mt := m.ProtoReflect().Type()
		r.types[string(mt.Descriptor().FullName())] = mt
	}
}

// Include adds every type the other registries hold.
func (r *Registry) Include(others ...*Registry) {
	for _, o := range others {
		o.mu.RLock()
		types := make([]protoreflect.MessageType, 0, len(o.types))
		for _, mt := range o.types {
			types = append(types, mt)
		}
		o.mu.RUnlock()
		r.mu.Lock()
		for _, mt := range types {
			r.types[string(mt.Descriptor().FullName())] = mt
		}
		r.mu.Unlock()
	}
}

// Known reports whether the type name is registered.
func (r *Registry) Known(eventType string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.types[eventType]
	return ok
}

// Types returns every registered type name, sorted.
func (r *Registry) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// New returns a new empty message of the named type, or an *UnknownTypeError.
func (r *Registry) New(eventType string) (proto.Message, error) {
	r.mu.RLock()
	mt, ok := r.types[eventType]
	r.mu.RUnlock()
	if !ok {
		return nil, &UnknownTypeError{Type: eventType}
	}
	return mt.New().Interface(), nil
}

// Decode unmarshals data as the named type. An unknown type is an *UnknownTypeError; bad bytes
// are an error naming the type.
func (r *Registry) Decode(eventType string, data []byte) (proto.Message, error) {
	msg, err := r.New(eventType)
	if err != nil {
		return nil, err
	}
	if err := proto.Unmarshal(data, msg); err != nil {
		return nil, fmt.Errorf("events: decoding %s: %w", eventType, err)
	}
	return msg, nil
}

// Encode marshals an event's payload, checking that its type is registered and matches the
// envelope's event type.
func (r *Registry) Encode(ev Event) ([]byte, error) {
	if ev.Message == nil {
		return nil, invalid("event.message", "event %s has no payload", ev.EventID)
	}
	name := TypeName(ev.Message)
	if ev.EventType != "" && ev.EventType != name {
		return nil, invalid("event.event_type", "%q does not match the payload type %q", ev.EventType, name)
	}
	if !r.Known(name) {
		return nil, &UnknownTypeError{Type: name}
	}
	data, err := proto.Marshal(ev.Message)
	if err != nil {
		return nil, fmt.Errorf("events: encoding %s: %w", name, err)
	}
	return data, nil
}
