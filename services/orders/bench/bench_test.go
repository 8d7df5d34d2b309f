package bench_test

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/services/orders/bench"
	"github.com/reboundhq/rebound/services/orders/service"
)

func TestMain(m *testing.M) { natstest.Main(m) }

func deps(t *testing.T) bench.Deps {
	t.Helper()
	js, err := jetstream.New(natstest.Connect(t, natstest.SharedURL(t)))
	if err != nil {
		t.Fatal(err)
	}
	store, err := natsstore.New(t.Context(), js, service.Registry(), natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return bench.Deps{Store: store, JS: js}
}

func TestDelivered_measuresDeliveries(t *testing.T) {
	t.Parallel()
	f, err := bench.Delivered(t.Context(), deps(t), 200)
	if err != nil {
		t.Fatal(err)
	}
	if f.Orders != 200 || f.PerSecond <= 0 {
		t.Fatalf("figure %+v", f)
	}
	t.Logf("delivered: %.0f orders/s (%d in %s)", f.PerSecond, f.Orders, f.Elapsed)
}

func TestFailuresHandled_measuresFailures(t *testing.T) {
	t.Parallel()
	f, err := bench.FailuresHandled(t.Context(), deps(t), 200)
	if err != nil {
		t.Fatal(err)
	}
	if f.Orders != 200 || f.PerSecond <= 0 {
		t.Fatalf("figure %+v", f)
	}
	t.Logf("failures handled with the WMS down: %.0f orders/s (%d in %s)", f.PerSecond, f.Orders, f.Elapsed)
}
