package natsstore_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natsserver"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/events/storetest"
)

func TestMain(m *testing.M) { natstest.Main(m) }

func TestStore(t *testing.T) {
	storetest.TestStore(t, storetest.Features{Restartable: restartable}, func(t *testing.T, reg *events.Registry) events.Store {
		return newStore(t, natstest.SharedURL(t), reg)
	})
}

func newStore(t testing.TB, url string, reg *events.Registry) *natsstore.Store {
	t.Helper()
	nc := natstest.Connect(t, url)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := natsstore.New(context.Background(), js, reg, natsstore.Config{})
	if err != nil {
		t.Fatalf("natsstore.New: %v", err)
	}
	return s
}

// restartable runs a server of its own, so the restart does not disturb the parallel tests.
func restartable(t *testing.T, reg *events.Registry) (events.Store, func() events.Store) {
	srv := natstest.Start(t, "")
	s := newStore(t, srv.ClientURL(), reg)
	return s, func() events.Store {
		srv.Shutdown()
		restarted, err := natsserver.Start(natsserver.Config{DataDir: srv.Dir, Port: -1})
		if err != nil {
			t.Fatalf("restarting the server on %s: %v", srv.Dir, err)
		}
		t.Cleanup(restarted.Shutdown)
		return newStore(t, restarted.ClientURL(), reg)
	}
}
