package events_test

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
)

func TestRegistry_decodesRegisteredTypesOnly(t *testing.T) {
	reg := events.NewRegistry(&connectorv1.RecordFailed{})
	data, _ := proto.Marshal(&connectorv1.RecordFailed{Message: "boom"})
	msg, err := reg.Decode("rebound.connector.v1.RecordFailed", data)
	if err != nil || msg.(*connectorv1.RecordFailed).GetMessage() != "boom" {
		t.Fatalf("Decode = %v, %v", msg, err)
	}
	var unknown *events.UnknownTypeError
	if _, err := reg.Decode("rebound.connector.v1.RecordSucceeded", data); !errors.As(err, &unknown) || unknown.Type != "rebound.connector.v1.RecordSucceeded" {
		t.Fatalf("Decode of an unregistered type: %v", err)
	}
	other := events.NewRegistry(&connectorv1.RecordSucceeded{})
	reg.Include(other)
	if want := []string{"rebound.connector.v1.RecordFailed", "rebound.connector.v1.RecordSucceeded"}; !slices.Equal(reg.Types(), want) {
		t.Fatalf("after Include: %v, want %v", reg.Types(), want)
	}
	if _, err := reg.Encode(events.Event{Envelope: events.Envelope{EventType: "x.Y"}, Message: &connectorv1.RecordFailed{}}); !errors.Is(err, events.ErrInvalidArgument) {
		t.Fatalf("Encode with a mismatched type name: %v", err)
	}
}
