package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/streams"
)

// Stream is the stream that keeps what connectors publish to the ingest subjects until it is
// stored as events. It is a persisted identifier.
const Stream = "INGEST"

// Ingest subjects: a connector publishes the bare protobuf message to the subject of its type.
// They are public; the README lists them.
const (
	SubjectFailed    = "ingest.record.failed"
	SubjectSucceeded = "ingest.record.succeeded"
	SubjectUpdated   = "ingest.record.updated"
	SubjectSync      = "ingest.sync.started"
)

// HandlerName is the bus handler (and durable consumer) that stores ingest messages; what it
// cannot store goes to poison.ingest with the reason.
const HandlerName = "ingest"

var subjectTypes = map[string]string{
	SubjectFailed:    events.TypeName(&connectorv1.RecordFailed{}),
	SubjectSucceeded: events.TypeName(&connectorv1.RecordSucceeded{}),
	SubjectUpdated:   events.TypeName(&connectorv1.RecordUpdated{}),
	SubjectSync:      events.TypeName(&connectorv1.SyncCycleStarted{}),
}

// EnsureStream creates or updates the INGEST stream (file storage; messages are removed once
// the ingest handler acked them).
func EnsureStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	return streams.Ensure(ctx, js, jetstream.StreamConfig{
		Name:        Stream,
		Description: "Rebound ingest: connector reports waiting to be stored as events",
		Subjects:    []string{"ingest.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  2 * time.Minute,
	})
}

// Handler returns the bus handler that validates and stores what arrives on the ingest
// subjects, through the same Ingester as the gRPC IngestService.
func Handler(in *Ingester, workers int) bus.Handler {
	return bus.Handler{
		Name:     HandlerName,
		Stream:   Stream,
		Subjects: []string{"ingest.>"},
		Workers:  workers,
		// Every report arrives on one of four subjects: spread them over the workers. The order
		// of two reports of one record does not matter; the alert and retry aggregates order
		// them by the times they carry.
		Partition: bus.SpreadEvenly,
		Decode: bus.BareDecoder(func(d bus.Delivery) (string, error) {
			t, ok := subjectTypes[d.Subject]
			if !ok {
				return "", fmt.Errorf("%w: %s is not an ingest subject (want one of %s, %s, %s, %s)", events.ErrInvalidArgument,
					d.Subject, SubjectFailed, SubjectSucceeded, SubjectUpdated, SubjectSync)
			}
			return t, nil
		}),
		Func: func(ctx context.Context, rec events.Record) error {
			_, err := in.Report(ctx, rec.Message, events.Metadata{CorrelationID: rec.CorrelationID, CausationID: rec.EventID})
			return err
		},
	}
}

// Report stores any connector report by its type.
func (in *Ingester) Report(ctx context.Context, msg proto.Message, meta events.Metadata) (Stored, error) {
	switch m := msg.(type) {
	case *connectorv1.RecordFailed:
		return in.Failure(ctx, m, meta)
	case *connectorv1.RecordSucceeded:
		return in.Success(ctx, m, meta)
	case *connectorv1.RecordUpdated:
		return in.Updated(ctx, m, meta)
	case *connectorv1.SyncCycleStarted:
		return in.SyncCycle(ctx, m, meta)
	}
	return Stored{}, fmt.Errorf("%w: %T is not a connector report", events.ErrInvalidArgument, msg)
}
