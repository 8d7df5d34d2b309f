package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/reboundhq/rebound/events/natsserver"
	"github.com/reboundhq/rebound/events/natsstore"
)

// Config sets how long each figure is measured.
type Config struct {
	// Duration is how long each throughput figure runs; default 5s.
	Duration time.Duration
	// Publishers is the parallelism of the synchronous publish and append figures; default 64.
	Publishers int
	// AsyncCount is how many messages the asynchronous publish figure sends; default 200 000.
	AsyncCount int
	// Failures is how many failures the end-to-end figure publishes in its burst; default 20 000.
	Failures int
	// Orders is how many orders each orders figure submits; default 3 000.
	Orders int
	// ProjectionEvents is how many events the projection figures rebuild and alerts ListAlerts
	// reads; default 1 000 000.
	ProjectionEvents int
	// PostgresURL, when set, adds a rebuild into PostgreSQL.
	PostgresURL string
	// Timers is how many durable timers the timer figure keeps pending; default 100 000.
	Timers int
	// RetryPending is how many retries the retry-timer figure keeps pending; default 100 000.
	RetryPending int
	// TimerSpread is how far apart the timers' due times are spread; default 20s.
	TimerSpread time.Duration
	// Progress receives a line as each figure starts and ends.
	Progress io.Writer
}

func (c *Config) setDefaults() {
	if c.Duration <= 0 {
		c.Duration = 5 * time.Second
	}
	if c.Publishers <= 0 {
		c.Publishers = 64
	}
	if c.AsyncCount <= 0 {
		c.AsyncCount = 200_000
	}
	if c.Failures <= 0 {
		c.Failures = 20_000
	}
	if c.Orders <= 0 {
		c.Orders = 3000
	}
	if c.ProjectionEvents <= 0 {
		c.ProjectionEvents = 1_000_000
	}
	if c.Timers <= 0 {
		c.Timers = 100_000
	}
	if c.RetryPending <= 0 {
		c.RetryPending = 100_000
	}
	if c.TimerSpread <= 0 {
		c.TimerSpread = 20 * time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// Run starts an embedded server in a temporary folder and measures every figure on it.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	cfg.setDefaults()
	dir, err := os.MkdirTemp("", "rebound-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	srv, err := natsserver.Start(natsserver.Config{DataDir: dir, Port: -1})
	if err != nil {
		return nil, err
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	if _, err := rawStream(ctx, js); err != nil {
		return nil, err
	}
	store, err := natsstore.New(ctx, js, benchRegistry(), natsstore.Config{})
	if err != nil {
		return nil, err
	}
	payload, err := proto.Marshal(sampleFailure("bench", "1001"))
	if err != nil {
		return nil, err
	}

	m := measurer{progress: cfg.Progress}
	syncPub := m.run("raw synchronous publish", func() (Result, error) { return rawSyncPublish(ctx, js, cfg.Publishers, cfg.Duration, payload) })
	condPub := m.run("raw conditional publish", func() (Result, error) {
		return rawConditionalPublish(ctx, js, cfg.Publishers, cfg.Duration, payload)
	})
	asyncPub := m.run("raw asynchronous publish", func() (Result, error) { return rawAsyncPublish(ctx, js, cfg.AsyncCount, payload) })
	if err := fillDirectGetSubject(ctx, js, 100, payload); err != nil {
		return nil, err
	}
	directGet := m.run("raw batched direct get", func() (Result, error) { return rawDirectGet(ctx, js, 100, cfg.Duration) })
	directGetShared := m.run("raw batched direct get (store's client)", func() (Result, error) {
		return rawDirectGetShared(ctx, js, 100, cfg.Duration)
	})
	ordered := m.run("raw ordered consumer", func() (Result, error) { return rawOrderedConsumer(ctx, js, "BENCH_RAW") })
	appendRes := m.run("store conditional append", func() (Result, error) { return storeAppend(ctx, store, cfg.Publishers, cfg.Duration) })
	loadRes := m.run("store aggregate load", func() (Result, error) { return storeLoad(ctx, store, 100, cfg.Duration) })
	readRes := m.run("store global read", func() (Result, error) { return storeRead(ctx, store) })
	var projs []Result
	m.run(fmt.Sprintf("projections (%d events)", cfg.ProjectionEvents), func() (Result, error) {
		var err error
		if projs, err = projectionFigures(ctx, js, store, cfg.ProjectionEvents, cfg.PostgresURL, cfg.Progress); err != nil {
			return Result{}, err
		}
		return projs[2], nil
	})
	var pipe []Result
	m.run(fmt.Sprintf("end to end pipeline (%d failures)", cfg.Failures), func() (Result, error) {
		var err error
		pipe, err = pipelineFigures(ctx, nc, js, store, cfg.Failures, asyncPub)
		if err != nil {
			return Result{}, err
		}
		return pipe[0], nil
	})
	var orders []Result
	m.run(fmt.Sprintf("orders through the sandbox WMS (%d orders)", cfg.Orders), func() (Result, error) {
		var err error
		if orders, err = ordersFigures(ctx, js, store, cfg.Orders, asyncPub); err != nil {
			return Result{}, err
		}
		return orders[0], nil
	})
	var timers []Result
	m.run(fmt.Sprintf("durable timers (%d pending)", cfg.Timers), func() (Result, error) {
		var err error
		timers, err = timerPrecision(ctx, js, cfg.Timers, cfg.TimerSpread)
		if err != nil {
			return Result{}, err
		}
		return timers[1], nil
	})
	var retries []Result
	m.run(fmt.Sprintf("retry timers (%d retries pending)", cfg.RetryPending), func() (Result, error) {
		var err error
		if retries, err = retryDuePrecision(ctx, js, store, cfg.RetryPending, retrySpread(cfg.RetryPending, cfg.TimerSpread)); err != nil {
			return Result{}, err
		}
		return retries[1], nil
	})
	if m.err != nil {
		return nil, m.err
	}
	results := []Result{
		syncPub, condPub, asyncPub, directGet, directGetShared, ordered,
		appendRes.withBaseline(syncPub, target(0.70)),
		condPub.withBaseline(syncPub, nil),
		appendRes.withBaseline(condPub, nil),
		loadRes.withBaseline(directGet, target(0.50)),
		loadRes.withBaseline(directGetShared, nil),
		readRes.withBaseline(ordered, nil),
	}
	results = append(results, pipe...)
	results = append(results, orders...)
	results = append(results, projs...)
	results = append(results, timers...)
	return append(results, retries...), nil
}

// measurer runs figures one after another, reporting progress, and stops at the first error.
type measurer struct {
	progress io.Writer
	err      error
}

func (m *measurer) run(name string, f func() (Result, error)) Result {
	if m.err != nil {
		return Result{}
	}
	fmt.Fprintf(m.progress, "measuring %s ... ", name)
	start := time.Now()
	r, err := f()
	if err != nil {
		m.err = fmt.Errorf("%s: %w", name, err)
		fmt.Fprintln(m.progress, "failed")
		return Result{}
	}
	fmt.Fprintf(m.progress, "%.0f %s (%.1fs)\n", r.Value, r.Unit, time.Since(start).Seconds())
	return r
}

// retrySpread spreads the retry-timer figure's due times so that about a thousand attempts come
// due each second (an hourly retry cadence with 3.6 M records pending): the figure measures how
// late due attempts are with that many pending, not how many the service can fire at once.
func retrySpread(n int, min time.Duration) time.Duration {
	return max(min, time.Duration(n/1000)*time.Second)
}
