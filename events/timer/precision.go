package timer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Precision is how late fired timers reached their handler: FiredAt - DueAt.
type Precision struct {
	P50, P99, Max time.Duration
	// Fired counts the timers handled, each once.
	Fired int
	// Early counts handler calls before the due time and Duplicates repeated calls for one
	// timer; both are 0 when the timers work.
	Early, Duplicates int
	// Scheduling is how long scheduling the n timers took.
	Scheduling time.Duration
}

// MeasurePrecision schedules n timers of a kind of its own on the timers stream of js (created
// with the default Config when missing), with due times spread evenly over spread, starting
// after a lead time long enough to schedule them all, handles them with Run and reports how late
// each fired. While the last ones are due, up to n timers are pending. It returns an error when
// not every timer fired before ctx ended or within a minute after the last due time.
func MeasurePrecision(ctx context.Context, js jetstream.JetStream, n int, spread time.Duration) (Precision, error) {
	if n <= 0 || spread < 0 {
		return Precision{}, fmt.Errorf("timer: MeasurePrecision needs n > 0 and spread >= 0, got %d and %s", n, spread)
	}
	s, err := New(ctx, js, Config{}, nil)
	if err != nil {
		return Precision{}, err
	}
	kind := "precision-" + strconv.FormatUint(rand.Uint64(), 36)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() {
		// Leave nothing behind: the consumer and any timer left pending.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer ccancel()
		_ = js.DeleteConsumer(cctx, s.cfg.Stream, consumerName(kind))
		_ = s.stream.Purge(cctx, jetstream.WithPurgeSubject(s.cfg.Prefix+".*."+kind+".>"))
	}()

	var (
		mu    sync.Mutex
		late  = make([]time.Duration, 0, n)
		seen  = make(map[string]bool, n)
		p     Precision
		done  = make(chan struct{})
		runOK = make(chan error, 1)
	)
	go func() {
		runOK <- s.Run(ctx, kind, func(_ context.Context, f Fired) error {
			mu.Lock()
			defer mu.Unlock()
			if seen[f.Key] {
				p.Duplicates++
				return nil
			}
			seen[f.Key] = true
			d := f.FiredAt.Sub(f.DueAt)
			if d < 0 {
				p.Early++
			}
			late = append(late, d)
			if len(late) == n {
				close(done)
			}
			return nil
		})
	}()

	// Schedule asynchronously, a window at a time: every key is new, so there is no earlier
	// generation to replace. The lead leaves room for about 20 000 schedules a second.
	start := time.Now()
	first := start.Add(time.Second + time.Duration(n)*50*time.Microsecond)
	const window = 1000
	futures := make([]jetstream.PubAckFuture, 0, window)
	for i := range n {
		at := first
		if n > 1 {
			at = first.Add(spread * time.Duration(i) / time.Duration(n-1))
		}
		key := "t" + strconv.Itoa(i)
		f, err := js.PublishMsgAsync(s.scheduleMsg(kind, key, at, nil), s.scheduleOpts(kind, key, at)...)
		if err != nil {
			return p, fmt.Errorf("timer: scheduling precision timer %d: %w", i, err)
		}
		futures = append(futures, f)
		if len(futures) == window || i == n-1 {
			for _, f := range futures {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					return p, fmt.Errorf("timer: scheduling a precision timer: %w", err)
				case <-ctx.Done():
					return p, ctx.Err()
				}
			}
			futures = futures[:0]
		}
	}
	p.Scheduling = time.Since(start)
	if time.Now().After(first) {
		return p, fmt.Errorf("timer: scheduling %d timers took %s, longer than the lead time; the measurement would be wrong", n, p.Scheduling)
	}

	deadline := time.NewTimer(time.Until(first.Add(spread + time.Minute)))
	defer deadline.Stop()
	var waitErr error
	select {
	case <-done:
	case err := <-runOK:
		waitErr = fmt.Errorf("timer: the precision run stopped: %w", err)
	case <-deadline.C:
		waitErr = errors.New("timer: not every precision timer fired within a minute of its due time")
	case <-ctx.Done():
		waitErr = ctx.Err()
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	p.Fired = len(late)
	if len(late) > 0 {
		sorted := slices.Clone(late)
		slices.Sort(sorted)
		p.P50 = sorted[len(sorted)*50/100]
		p.P99 = sorted[min(len(sorted)*99/100, len(sorted)-1)]
		p.Max = sorted[len(sorted)-1]
	}
	return p, waitErr
}
