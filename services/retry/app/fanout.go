package app

import (
	"context"
	"errors"
	"sync"

	"github.com/reboundhq/rebound/events"
)

// fanOut calls fn for every id list yields, on up to workers goroutines. A retryable error from
// fn stops the listing; a permanent one (invalid argument, unknown type) does not, so that one
// broken schedule does not hold up the others. It returns every error fn returned, joined, and
// the listing's error.
func fanOut(ctx context.Context, workers int, list func(yield func(id string) error) error, fn func(ctx context.Context, id string) error) error {
	if workers < 1 {
		workers = 1
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ids := make(chan string)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range workers {
		wg.Go(func() {
			for id := range ids {
				if ctx.Err() != nil {
					continue
				}
				if err := fn(ctx, id); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					if !permanent(err) {
						cancel(err)
					}
				}
			}
		})
	}
	listErr := list(func(id string) error {
		select {
		case ids <- id:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(ids)
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return listErr
}

// permanent reports whether retrying err cannot help.
func permanent(err error) bool {
	return errors.Is(err, events.ErrInvalidArgument) || errors.Is(err, events.ErrUnknownType)
}
