package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// ReconcileHandler rebuilds every schedule's timer and index entries from the store: it reads the
// retry events from the first one and brings each schedule it meets in line with its stored
// state. It is the repair for an index or a timers stream that was lost or went stale; it changes
// no schedule.
type ReconcileHandler struct {
	store     events.Store
	schedules *Schedules
}

// NewReconcileHandler returns the handler; every dependency is required.
func NewReconcileHandler(store events.Store, schedules *Schedules) (ReconcileHandler, error) {
	if store == nil || schedules == nil {
		return ReconcileHandler{}, errors.New("retry app: NewReconcileHandler needs a store and schedules")
	}
	return ReconcileHandler{store: store, schedules: schedules}, nil
}

// reconcileMemory bounds the schedules remembered as done; past it a schedule may be settled
// twice, which is harmless.
const reconcileMemory = 100_000

// Handle reconciles every schedule and returns how many it settled.
func (h ReconcileHandler) Handle(ctx context.Context) (int, error) {
	done := make(map[events.StreamID]struct{})
	n := 0
	err := h.store.Read(ctx, events.ReadOptions{Filters: []string{events.AggregateSubject(domain.AggregateType, "")}},
		func(ctx context.Context, rec events.Record) error {
			stream := rec.Stream()
			if _, ok := done[stream]; ok {
				return nil
			}
			if len(done) >= reconcileMemory {
				clear(done)
			}
			done[stream] = struct{}{}
			if err := h.schedules.Settle(ctx, stream); err != nil {
				return fmt.Errorf("retry: reconciling %s: %w", stream, err)
			}
			n++
			return nil
		})
	return n, err
}
