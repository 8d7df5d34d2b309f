package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// RecordFailure is a stored RecordFailed report: the record's schedule decides what follows.
type RecordFailure struct {
	// Env is the envelope of the stored RecordFailed; its id recognises a redelivery.
	Env events.Envelope
	// Failure is the report.
	Failure *connectorv1.RecordFailed
}

// DownChecker tells whether a connection is down.
type DownChecker interface {
	IsDown(ctx context.Context, conn Connection) (bool, error)
}

// IntervalSource tells how often a connection syncs (0 when unknown).
type IntervalSource interface {
	SyncInterval(ctx context.Context, conn Connection) (time.Duration, error)
}

// RecordFailureHandler classifies a failure, resolves the record's policy (its kind, its
// connection and the connection's sync interval) and records the failure on the schedule, which
// schedules the next attempt, waits for a sync cycle, holds the record or gives up. A failure of
// a connection that is down pauses the schedule at once: the alerts service may have announced
// the outage before this failure reached the schedule.
type RecordFailureHandler struct {
	schedules  *Schedules
	classifier Classifier
	policies   *domain.Policies
	intervals  IntervalSource
	outages    DownChecker
	clock      Clock
}

// NewRecordFailureHandler returns the handler; every dependency is required.
func NewRecordFailureHandler(schedules *Schedules, classifier Classifier, policies *domain.Policies, intervals IntervalSource, outages DownChecker, clock Clock) (RecordFailureHandler, error) {
	if schedules == nil || classifier == nil || policies == nil || intervals == nil || outages == nil || clock == nil {
		return RecordFailureHandler{}, errors.New("retry app: NewRecordFailureHandler needs schedules, a classifier, policies, sync intervals, outages and a clock")
	}
	return RecordFailureHandler{schedules: schedules, classifier: classifier, policies: policies, intervals: intervals, outages: outages, clock: clock}, nil
}

// Handle records the failure. Invalid reports are errors wrapping events.ErrInvalidArgument.
func (h RecordFailureHandler) Handle(ctx context.Context, cmd RecordFailure) error {
	f := cmd.Failure
	if err := connector.ValidateFailed(f); err != nil {
		return err
	}
	ref := f.GetRecord()
	conn := Connection{Account: ref.GetAccountId(), ID: ref.GetConnectionId()}
	interval, err := h.intervals.SyncInterval(ctx, conn)
	if err != nil {
		return err
	}
	result := h.classifier.Classify(f)
	class := domain.Classification{Class: result.Class, AlertType: result.AlertType}
	policy := h.policies.For(conn.ID, ref.GetRecordKind(), interval)
	now := h.clock.Now()
	stream := domain.StreamOf(ref)
	s, err := h.schedules.Do(ctx, stream, events.CausedBy(cmd.Env), func(s *domain.Schedule) error {
		return s.RecordFailure(f, class, policy, now)
	})
	if err != nil {
		return fmt.Errorf("retry: recording failure %s of %s: %w", f.GetAttemptId(), stream, err)
	}
	if !running(s) || s.GetPausedSince() != nil {
		return nil
	}
	// Checked after the failure is stored: either the outage handler marked the connection down
	// before this check, and the schedule is paused here, or it marked it after, and then the
	// schedule was stored before it paused the covered records.
	down, err := h.outages.IsDown(ctx, conn)
	if err != nil || !down {
		return err
	}
	if _, err := h.schedules.Do(ctx, stream, derived(cmd.Env, "outage-pause"), func(s *domain.Schedule) error {
		return s.Pause(now)
	}); err != nil {
		return fmt.Errorf("retry: pausing %s of a connection that is down: %w", stream, err)
	}
	return nil
}
