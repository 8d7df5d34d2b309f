package main

import (
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/reboundhq/rebound/events"

	// Linked so ops commands can decode every event type Rebound writes.
	_ "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
)

var (
	typesOnce sync.Once
	types     *events.Registry
)

// allTypes returns a registry of every rebound.* message linked into the binary, so ops
// commands decode whatever the services write.
func allTypes() *events.Registry {
	typesOnce.Do(func() {
		types = events.NewRegistry()
		protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
			if strings.HasPrefix(string(mt.Descriptor().FullName()), "rebound.") {
				types.Register(mt.New().Interface())
			}
			return true
		})
	})
	return types
}
