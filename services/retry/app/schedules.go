package app

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// lockStripes is the number of mutexes schedules are spread over (by stream); it bounds the
// memory of the locks whatever the number of schedules.
const lockStripes = 512

// Schedules runs commands on retry schedules and keeps what hangs off a schedule in line with
// it: its durable timer (armed at WakeAt) and its entries in the index (waiting for a sync
// cycle, paused by an outage). Every command on a schedule goes through Do, one at a time per
// schedule in this process, so the timer and the index follow the schedule's changes in order.
//
// Crash safety: the stored events are the truth; the timer and the index follow them. Commands
// caused by a bus message pass events.CausedBy(envelope): when the message is redelivered after
// a crash between storing the events and updating the timer or the index, the repository
// reports aggregate.ErrAlreadyApplied and Do brings the timer and the index in line with the
// schedule as it stands (force). Readers of the index heal the rest: a fired timer re-arms at the
// schedule's WakeAt, a sync cycle drops schedules that no longer wait, a drain drops schedules
// that are no longer paused. Reconcile rebuilds everything from the store.
//
// It is safe for concurrent use.
type Schedules struct {
	repo   *aggregate.Repository[*domain.Schedule]
	timers Timers
	index  Index
	seed   maphash.Seed
	locks  [lockStripes]sync.Mutex
}

// NewSchedules returns the schedules of repo, with their timers and index.
func NewSchedules(repo *aggregate.Repository[*domain.Schedule], timers Timers, index Index) (*Schedules, error) {
	if repo == nil || timers == nil || index == nil {
		return nil, errors.New("retry app: NewSchedules needs a repository, timers and an index")
	}
	return &Schedules{repo: repo, timers: timers, index: index, seed: maphash.MakeSeed()}, nil
}

func (x *Schedules) lock(stream events.StreamID) *sync.Mutex {
	h := maphash.String(x.seed, stream.Account+"/"+stream.ID)
	return &x.locks[h%lockStripes]
}

// settleMode says how Do brings the timer and the index in line after a command.
type settleMode uint8

const (
	// settleChanges updates what the command changed.
	settleChanges settleMode = iota
	// settleFired is settleChanges after the schedule's timer went off at a due time: the timer
	// is gone, so it is armed again whenever the schedule still needs one at another time.
	settleFired
)

// Do runs cmd on the schedule of stream and stores the events it raised (see
// aggregate.Repository.Update, which retries on conflicts), then updates the schedule's timer
// and index entries. It returns the schedule as it stands after the command, as the query
// message (a copy: the schedule itself stays in the repository). A command already applied
// (meta.CausationID) is not run again: Do then brings the timer and the index in line with the
// schedule and returns it with a nil error.
func (x *Schedules) Do(ctx context.Context, stream events.StreamID, meta events.Metadata, cmd func(*domain.Schedule) error) (*retryv1.RetrySchedule, error) {
	return x.do(ctx, stream, meta, cmd, settleChanges, time.Time{})
}

func (x *Schedules) do(ctx context.Context, stream events.StreamID, meta events.Metadata, cmd func(*domain.Schedule) error, mode settleMode, dueAt time.Time) (*retryv1.RetrySchedule, error) {
	mu := x.lock(stream)
	mu.Lock()
	defer mu.Unlock()
	var (
		before, after view
		out           *retryv1.RetrySchedule
	)
	err := x.repo.Update(ctx, stream, meta, func(s *domain.Schedule) error {
		before = viewOf(s)
		if err := cmd(s); err != nil {
			return err
		}
		after, out = viewOf(s), s.Snapshot()
		return nil
	})
	force := false
	switch {
	case errors.Is(err, aggregate.ErrAlreadyApplied):
		force = true
		if err := x.repo.View(ctx, stream, func(s *domain.Schedule) { after, out = viewOf(s), s.Snapshot() }); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	return out, x.settle(ctx, stream, before, after, force, mode, dueAt)
}

// Fire runs the timer command on the schedule whose timer went off at dueAt.
func (x *Schedules) Fire(ctx context.Context, stream events.StreamID, dueAt, now time.Time) error {
	_, err := x.do(ctx, stream, events.Metadata{}, func(s *domain.Schedule) error { return s.Fire(now) }, settleFired, dueAt)
	return err
}

// Settle brings the timer and the index of the schedule in line with it as it is stored (read
// from its events, whatever the repository holds), without running a command (Reconcile).
func (x *Schedules) Settle(ctx context.Context, stream events.StreamID) error {
	mu := x.lock(stream)
	mu.Lock()
	defer mu.Unlock()
	s, _, err := x.repo.Read(ctx, stream)
	if err != nil {
		return err
	}
	return x.settle(ctx, stream, view{}, viewOf(s), true, settleChanges, time.Time{})
}

// Read loads the schedule and its events from the store (a copy of its own, not the
// repository's); events.ErrNotFound when it has none.
func (x *Schedules) Read(ctx context.Context, stream events.StreamID) (*domain.Schedule, events.Loaded, error) {
	return x.repo.Read(ctx, stream)
}

// view is what the timer and the index depend on.
type view struct {
	conn        Connection
	kind        connectorv1.RecordKind
	wake        time.Time // zero: no timer
	waiting     bool
	pausedSince time.Time // zero: not paused
}

func viewOf(s *domain.Schedule) view {
	rec := s.Record()
	if rec == nil {
		return view{}
	}
	v := view{conn: Connection{Account: rec.GetAccountId(), ID: rec.GetConnectionId()}, kind: rec.GetRecordKind()}
	if t, ok := s.WakeAt(); ok {
		v.wake = t
	}
	switch s.Status() {
	case retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC:
		v.waiting = true
	case retryv1.RetryStatus_RETRY_STATUS_PAUSED, retryv1.RetryStatus_RETRY_STATUS_HELD:
		// A held schedule can be paused too; its status then says held.
		if ps := s.Snapshot().GetPausedSince(); ps != nil {
			v.pausedSince = ps.AsTime()
		}
	}
	return v
}

func (x *Schedules) settle(ctx context.Context, stream events.StreamID, before, after view, force bool, mode settleMode, dueAt time.Time) error {
	if after.conn == (Connection{}) {
		return nil // no record: nothing hangs off the schedule
	}
	switch {
	case mode == settleFired:
		// The timer that went off is gone; any other pending timer of the schedule is stale or
		// equal. Arm again when the schedule still needs a timer at another time.
		if !after.wake.IsZero() && !after.wake.Equal(dueAt) {
			if err := x.timers.Arm(ctx, stream, after.wake); err != nil {
				return err
			}
		}
	case force || !before.wake.Equal(after.wake):
		if !after.wake.IsZero() {
			if err := x.timers.Arm(ctx, stream, after.wake); err != nil {
				return err
			}
		} else if force || !before.wake.IsZero() {
			if err := x.timers.Disarm(ctx, stream); err != nil {
				return err
			}
		}
	}
	if force || before.waiting != after.waiting {
		if err := x.index.SetWaiting(ctx, after.conn, after.kind, stream.ID, after.waiting); err != nil {
			return err
		}
	}
	if force || !before.pausedSince.Equal(after.pausedSince) {
		if err := x.index.SetPaused(ctx, after.conn, stream.ID, after.pausedSince); err != nil {
			return err
		}
	}
	return nil
}

// running reports whether a schedule's series runs (scheduled, waiting, held or paused).
func running(s *retryv1.RetrySchedule) bool {
	switch s.GetStatus() {
	case retryv1.RetryStatus_RETRY_STATUS_SCHEDULED, retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC,
		retryv1.RetryStatus_RETRY_STATUS_HELD, retryv1.RetryStatus_RETRY_STATUS_PAUSED:
		return true
	}
	return false
}

// derived returns the metadata of a second command caused by the same input: its own causation
// id, derived from the input's, so that it is recognised when repeated.
func derived(env events.Envelope, what string) events.Metadata {
	meta := events.CausedBy(env)
	meta.CausationID = events.DeterministicEventID(env.EventID, what)
	return meta
}

// notFound is the events.ErrNotFound of a record without a retry schedule.
func notFound(stream events.StreamID) error {
	return fmt.Errorf("retry: no retry schedule for record %s of account %s: %w", stream.ID, stream.Account, events.ErrNotFound)
}
