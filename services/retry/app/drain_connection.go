package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// Limiter paces the resumes of a drain (golang.org/x/time/rate.Limiter).
type Limiter interface {
	// Wait blocks until the next resume may run, or ctx ends.
	Wait(ctx context.Context) error
}

// DrainConnectionHandler runs a drain job: it resumes the connection's schedules paused before
// the job's cutoff, one per limiter tick, until none is left, then finishes the job. Schedules
// whose attempt time passed during the outage are due at once when resumed, so the limiter bounds
// the rate at which the backlog reaches the recovered system.
type DrainConnectionHandler struct {
	schedules *Schedules
	outages   Outages
	index     Index
	clock     Clock
}

// NewDrainConnectionHandler returns the handler; every dependency is required.
func NewDrainConnectionHandler(schedules *Schedules, outages Outages, index Index, clock Clock) (DrainConnectionHandler, error) {
	if schedules == nil || outages == nil || index == nil || clock == nil {
		return DrainConnectionHandler{}, errors.New("retry app: NewDrainConnectionHandler needs schedules, outages, the index and a clock")
	}
	return DrainConnectionHandler{schedules: schedules, outages: outages, index: index, clock: clock}, nil
}

// drainBatch is how many paused schedules one listing collects.
const drainBatch = 1000

// Handle drains the job's backlog; it returns early with ctx's error when ctx ends (the job stays
// stored and is taken up again).
func (h DrainConnectionHandler) Handle(ctx context.Context, job DrainJob, limit Limiter) error {
	meta := events.Metadata{CausationID: job.CausationID, CorrelationID: job.CorrelationID}
	done := make(map[string]bool) // resumed by this run: listed again only if the entry is stale
	for {
		var batch []string
		errFull := errors.New("batch full")
		err := h.outages.Paused(ctx, job.Conn, func(id string, since time.Time) error {
			if since.After(job.Cutoff) {
				return nil // paused by a later outage
			}
			batch = append(batch, id)
			if len(batch) == drainBatch {
				return errFull
			}
			return nil
		})
		if err != nil && !errors.Is(err, errFull) {
			return err
		}
		if len(batch) == 0 {
			return h.outages.FinishDrain(ctx, job)
		}
		for _, id := range batch {
			if done[id] {
				if err := h.index.SetPaused(ctx, job.Conn, id, time.Time{}); err != nil {
					return err
				}
				continue
			}
			done[id] = true
			if err := limit.Wait(ctx); err != nil {
				return err
			}
			stream := domain.Stream(job.Conn.Account, id)
			s, err := h.schedules.Do(ctx, stream, meta, func(s *domain.Schedule) error { return s.Resume(h.clock.Now()) })
			if err != nil && !permanent(err) {
				return fmt.Errorf("retry: resuming %s after outage %d: %w", stream, job.Outage, err)
			}
			if err != nil || s.GetRecord() == nil || s.GetPausedSince() == nil {
				// Not paused (any more), or broken: the entry must go, or the drain never ends.
				if err := h.index.SetPaused(ctx, job.Conn, id, time.Time{}); err != nil {
					return err
				}
			}
		}
	}
}
