package service_test

import (
	"context"
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
// (REBOUND_RETRY_BENCH_N, _SPREAD, _CACHE and _LEAD set others;
// REBOUND_RETRY_BENCH_SNAPSHOTS=off runs without snapshots; REBOUND_RETRY_BENCH_HISTORY=n gives
// every schedule an earlier failure with n events of other aggregates after it, see
// DueBench.History) and checks each command came once, on time.
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
	var history func(context.Context) error
	if v := os.Getenv("REBOUND_RETRY_BENCH_HISTORY"); v != "" {
		others, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("REBOUND_RETRY_BENCH_HISTORY: %v", err)
		}
		history = func(ctx context.Context) error { return storeOthers(ctx, t, js, others) }
	}
	snapshots := os.Getenv("REBOUND_RETRY_BENCH_SNAPSHOTS") != "off"
	var lead time.Duration
	if v := os.Getenv("REBOUND_RETRY_BENCH_LEAD"); v != "" {
		if lead, err = time.ParseDuration(v); err != nil {
			t.Fatalf("REBOUND_RETRY_BENCH_LEAD: %v", err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := service.MeasureDuePrecision(t.Context(), service.Deps{Store: store, JS: js, Log: log},
		service.DueBench{N: n, Spread: spread, CacheSize: cache, DisableSnapshots: !snapshots, Lead: lead, History: history})
	t.Logf("%d pending retries (cache %d, snapshots %v): RetryDue p50 %s, p99 %s, max %s after the due time; reported in %s, all scheduled after %s",
		n, cache, snapshots, p.P50, p.P99, p.Max, p.Reporting, p.Scheduled)
	if err != nil {
		t.Fatal(err)
	}
	if p.Due != n || p.Early != 0 || p.Duplicates != 0 || p.Max > time.Second {
		t.Fatalf("%+v; want %d commands, none early or repeated, all within 1s", p, n)
	}
}

// storeOthers stores n small events of other aggregates in EVENTS, as a busy stream receives
// between two events of one aggregate.
func storeOthers(ctx context.Context, t *testing.T, js jetstream.JetStream, n int) error {
	start := time.Now()
	payload := make([]byte, 300)
	wait := func() error {
		select {
		case <-js.PublishAsyncComplete():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for i := range n {
		if _, err := js.PublishAsync("evt.other.bench.o"+strconv.Itoa(i%5000)+".Happened", payload); err != nil {
			return err
		}
		if i%10_000 == 9_999 {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	if err := wait(); err != nil {
		return err
	}
	t.Logf("stored %d events of other aggregates in %s", n, time.Since(start).Round(time.Millisecond))
	return nil
}
