package service_test

import (
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events/natsstore"
	alertsservice "github.com/reboundhq/rebound/services/alerts/service"
	retryservice "github.com/reboundhq/rebound/services/retry/service"
)

// peerTypes are the event types of the alerts and retry services.
func peerTypes() []proto.Message {
	types := alertsservice.EventTypes()
	rr := retryservice.Registry()
	for _, t := range rr.Types() {
		if m, err := rr.New(t); err == nil {
			types = append(types, m)
		}
	}
	return types
}

// peers builds the alerts and the retry services, with the tests' short retry policies.
func peers(t *testing.T, store *natsstore.Store, js jetstream.JetStream, in *ingest.Ingester, log *slog.Logger) []runner {
	t.Helper()
	alerts, err := alertsservice.New(alertsservice.Deps{Store: store, JS: js, Ingester: in, Log: log}, alertsservice.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := retryservice.ParsePolicies([]byte(testPolicies))
	if err != nil {
		t.Fatal(err)
	}
	retry, err := retryservice.New(retryservice.Deps{Store: store, JS: js, Log: log}, retryservice.Config{Policies: &pc, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	return []runner{alerts, retry}
}
