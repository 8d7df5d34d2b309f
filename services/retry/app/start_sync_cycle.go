package app

import (
	"context"
	"errors"
	"fmt"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// StartSyncCycle is a stored SyncCycleStarted report: the hub talks to the connection again.
type StartSyncCycle struct {
	// Env is the envelope of the stored SyncCycleStarted.
	Env events.Envelope
	// Cycle is the report.
	Cycle *connectorv1.SyncCycleStarted
}

// StartSyncCycleHandler remembers the connection's sync interval (it scales the age window of
// the connection's sync-cycle records) and offers the cycle to every schedule of the connection
// that waits for one (the index lists them): each makes its attempt due when the cycle qualifies.
type StartSyncCycleHandler struct {
	schedules *Schedules
	waiting   WaitingIndex
	index     Index
	intervals SyncIntervals
	clock     Clock
	workers   int
}

// NewStartSyncCycleHandler returns the handler; workers bounds the schedules updated at once.
func NewStartSyncCycleHandler(schedules *Schedules, waiting WaitingIndex, index Index, intervals SyncIntervals, clock Clock, workers int) (StartSyncCycleHandler, error) {
	if schedules == nil || waiting == nil || index == nil || intervals == nil || clock == nil {
		return StartSyncCycleHandler{}, errors.New("retry app: NewStartSyncCycleHandler needs schedules, the waiting index, the index, sync intervals and a clock")
	}
	return StartSyncCycleHandler{schedules: schedules, waiting: waiting, index: index, intervals: intervals, clock: clock, workers: max(workers, 1)}, nil
}

// Handle offers the cycle to the waiting schedules.
func (h StartSyncCycleHandler) Handle(ctx context.Context, cmd StartSyncCycle) error {
	c := cmd.Cycle
	if err := connector.ValidateSyncCycle(c); err != nil {
		return err
	}
	conn := Connection{Account: c.GetAccountId(), ID: c.GetConnectionId()}
	if si := c.GetSyncInterval(); si != nil {
		if err := h.intervals.SetSyncInterval(ctx, conn, si.AsDuration()); err != nil {
			return err
		}
	}
	now := h.clock.Now()
	meta := events.CausedBy(cmd.Env)
	err := fanOut(ctx, h.workers,
		func(yield func(string) error) error { return h.waiting.Waiting(ctx, conn, c.GetRecordKinds(), yield) },
		func(ctx context.Context, id string) error {
			stream := domain.Stream(conn.Account, id)
			s, err := h.schedules.Do(ctx, stream, meta, func(s *domain.Schedule) error {
				return s.SyncCycleStarted(c, now)
			})
			if err != nil {
				return fmt.Errorf("retry: offering sync cycle %s to %s: %w", c.GetCycleId(), stream, err)
			}
			if rec := s.GetRecord(); rec != nil && s.GetStatus() != retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC {
				// A stale entry (the schedule moved on without the index hearing of it).
				return h.index.SetWaiting(ctx, conn, rec.GetRecordKind(), id, false)
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("retry: sync cycle %s of connection %s/%s: %w", c.GetCycleId(), conn.Account, conn.ID, err)
	}
	return nil
}
