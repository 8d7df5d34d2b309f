package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/reboundhq/rebound/cmd/rebound/bench"
)

func init() {
	register(command{
		name: "bench", args: "[--out bench-results.json] [--duration 5s] [--json]",
		summary: "measure Rebound against raw JetStream on one embedded server; print a table, write JSON",
		run:     runBench,
	})
}

func runBench(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "bench", "[--out bench-results.json] [--duration 5s] [--json]")
	out := fs.String("out", "bench-results.json", "write the results to this file (empty: do not write)")
	dur := fs.Duration("duration", 5*time.Second, "how long each throughput figure runs")
	timers := fs.Int("timers", 100_000, "how many durable timers the timer figure keeps pending")
	retryPending := fs.Int("retry-pending", 100_000, "how many retries the retry-timer figure keeps pending")
	failures := fs.Int("failures", 20_000, "how many failures the end-to-end figure publishes in its burst")
	orders := fs.Int("orders", 3000, "how many orders each orders figure submits")
	projEvents := fs.Int("projection-events", 1_000_000, "how many events the projection figures rebuild, and alerts ListAlerts reads")
	var postgresURL string
	fs.envString(&postgresURL, "postgres-url", "REBOUND_POSTGRES_URL", "", "also rebuild into this PostgreSQL")
	asJSON := fs.Bool("json", false, "print the results as JSON instead of a table")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	results, err := bench.Run(ctx, bench.Config{Duration: *dur, Timers: *timers, RetryPending: *retryPending, Failures: *failures, Orders: *orders,
		ProjectionEvents: *projEvents, PostgresURL: postgresURL, Progress: env.stderr})
	if err != nil {
		return err
	}
	if *out != "" {
		if err := bench.WriteJSON(*out, results); err != nil {
			return fmt.Errorf("writing %s: %w", *out, err)
		}
		fmt.Fprintf(env.stderr, "wrote %s\n", *out)
	}
	if *asJSON {
		return bench.WriteJSON("/dev/stdout", results)
	}
	fmt.Fprintln(env.stdout)
	bench.WriteTable(env.stdout, results)
	return nil
}
