package inbound

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/reboundhq/rebound/services/retry/app"
)

// DrainJobs delivers the drain jobs of recovered connections.
type DrainJobs interface {
	// WatchDrains calls fn with every stored job, then with every change (deleted true when a
	// job was removed), until ctx ends.
	WatchDrains(ctx context.Context, fn func(job app.DrainJob, deleted bool)) error
}

// Drainer runs the drain jobs of recovered connections: one goroutine per job, each resuming at
// most Rate schedules a second (with bursts of Burst), so the backlog of each connection
// reaches its recovered system at a bounded rate. A job that fails is taken up again after a
// backoff; a job removed (the connection went down again) stops.
type Drainer struct {
	jobs  DrainJobs
	drain app.DrainConnectionHandler
	rate  rate.Limit
	burst int
	log   *slog.Logger
}

// NewDrainer returns a drainer; rate is resumes per second per connection (> 0), burst at least 1.
func NewDrainer(jobs DrainJobs, drain app.DrainConnectionHandler, perSecond float64, burst int, log *slog.Logger) (*Drainer, error) {
	if jobs == nil {
		return nil, errors.New("retry drainer: drain jobs are required")
	}
	if perSecond <= 0 {
		return nil, errors.New("retry drainer: the drain rate must be positive")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Drainer{jobs: jobs, drain: drain, rate: rate.Limit(perSecond), burst: max(burst, 1), log: log}, nil
}

type drainRun struct {
	revision uint64
	cancel   context.CancelFunc
}

// Run runs drain jobs until ctx ends; it returns nil then, or the error that stopped watching.
func (d *Drainer) Run(ctx context.Context) error {
	ctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	var (
		mu      sync.Mutex
		running = make(map[app.Connection]*drainRun)
		wg      sync.WaitGroup
	)
	err := d.jobs.WatchDrains(ctx, func(job app.DrainJob, deleted bool) {
		mu.Lock()
		defer mu.Unlock()
		if r := running[job.Conn]; r != nil {
			if !deleted && r.revision >= job.Revision {
				return
			}
			r.cancel()
			delete(running, job.Conn)
		}
		if deleted {
			return
		}
		rctx, cancel := context.WithCancel(ctx)
		r := &drainRun{revision: job.Revision, cancel: cancel}
		running[job.Conn] = r
		wg.Go(func() {
			defer cancel()
			d.run(rctx, job)
			mu.Lock()
			if running[job.Conn] == r {
				delete(running, job.Conn)
			}
			mu.Unlock()
		})
	})
	cancelAll()
	wg.Wait()
	return err
}

// run drains one job until it is done or ctx ends, retrying after failures.
func (d *Drainer) run(ctx context.Context, job app.DrainJob) {
	limit := rate.NewLimiter(d.rate, d.burst)
	backoff := time.Second
	start := time.Now()
	for {
		err := d.drain.Handle(ctx, job, limit)
		if err == nil {
			d.log.Info("connection backlog drained", slog.String("account", job.Conn.Account),
				slog.String("connection", job.Conn.ID), slog.Uint64("outage", uint64(job.Outage)),
				slog.Duration("took", time.Since(start)))
			return
		}
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("draining a connection's backlog failed; trying again", slog.String("account", job.Conn.Account),
			slog.String("connection", job.Conn.ID), slog.Duration("retry_in", backoff), slog.Any("error", err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}
