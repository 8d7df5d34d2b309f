package service_test

import (
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/services/retry/service"
)

// TestMeasureDuePrecision runs the benchmark helper with a few hundred pending retries
// (REBOUND_RETRY_BENCH_N, _SPREAD and _CACHE set others) and checks each command came
// once, on time.
func TestMeasureDuePrecision(t *testing.T) {
	t.Parallel()
	n := 300
	if v := os.Getenv("REBOUND_RETRY_BENCH_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("REBOUND_RETRY_BENCH_N: %v", err)
		}
	}
	srv := natstest.Start(t, "")
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	store, err := natsstore.New(t.Context(), js, service.Registry(), natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	spread := 3 * time.Second
	if v := os.Getenv("REBOUND_RETRY_BENCH_SPREAD"); v != "" {
		var err error
		if spread, err = time.ParseDuration(v); err != nil {
			t.Fatalf("REBOUND_RETRY_BENCH_SPREAD: %v", err)
		}
	}
	cache := 0
	if v := os.Getenv("REBOUND_RETRY_BENCH_CACHE"); v != "" {
		if cache, err = strconv.Atoi(v); err != nil {
			t.Fatalf("REBOUND_RETRY_BENCH_CACHE: %v", err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := service.MeasureDuePrecision(t.Context(), service.Deps{Store: store, JS: js, Log: log},
		service.DueBench{N: n, Spread: spread, CacheSize: cache})
	t.Logf("%d pending retries: RetryDue p50 %s, p99 %s, max %s after the due time; reported in %s, all scheduled after %s",
		n, p.P50, p.P99, p.Max, p.Reporting, p.Scheduled)
	if err != nil {
		t.Fatal(err)
	}
	if p.Due != n || p.Early != 0 || p.Duplicates != 0 || p.Max > time.Second {
		t.Fatalf("%+v; want %d commands, none early or repeated, all within 1s", p, n)
	}
}
