package app

import (
	"context"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
)

// Clock tells the time. Commands read it once and hand the time to the domain.
type Clock interface {
	Now() time.Time
}

// Connection names a connection: the account that owns it and its id. Records on a connection
// belong to its account, so a schedule's stream account is its connection's account.
type Connection struct {
	Account string
	ID      string
}

// Timers keeps the one durable timer of each schedule. Implementations are safe for concurrent
// use.
type Timers interface {
	// Arm sets the schedule's timer to go off at at, replacing any pending one.
	Arm(ctx context.Context, schedule events.StreamID, at time.Time) error
	// Disarm removes the schedule's pending timer, if it has one.
	Disarm(ctx context.Context, schedule events.StreamID) error
}

// Index holds what the service looks schedules up by, besides their id: the schedules waiting
// for a sync cycle and the schedules paused by an outage, per connection. Schedules keeps it in
// line with every schedule it changes. Implementations are safe for concurrent use.
type Index interface {
	// SetWaiting adds the schedule to (or removes it from) the connection's schedules waiting
	// for a sync cycle.
	SetWaiting(ctx context.Context, conn Connection, kind connectorv1.RecordKind, scheduleID string, waiting bool) error
	// SetPaused adds the schedule, paused since since, to the connection's paused schedules; a
	// zero since removes it.
	SetPaused(ctx context.Context, conn Connection, scheduleID string, since time.Time) error
}

// WaitingIndex lists the schedules of a connection that wait for its next sync cycle.
type WaitingIndex interface {
	// Waiting calls fn with the id of every schedule of conn waiting for a sync cycle whose
	// record kind is one of kinds (every kind when kinds is empty). An error from fn stops the
	// listing and is returned.
	Waiting(ctx context.Context, conn Connection, kinds []connectorv1.RecordKind, fn func(scheduleID string) error) error
}

// SyncIntervals remembers how often each connection syncs, from its sync cycles.
type SyncIntervals interface {
	// SyncInterval returns the connection's last reported sync interval; 0 when unknown.
	SyncInterval(ctx context.Context, conn Connection) (time.Duration, error)
	// SetSyncInterval records the connection's sync interval.
	SetSyncInterval(ctx context.Context, conn Connection, d time.Duration) error
}

// Outages remembers which connections are down and what backlog to drain after a recovery.
type Outages interface {
	// SetDown marks the connection down (outage > 0, since when) or up (outage 0).
	SetDown(ctx context.Context, conn Connection, outage uint32, since time.Time) error
	// IsDown reports whether the connection is marked down.
	IsDown(ctx context.Context, conn Connection) (bool, error)
	// PutDrain stores the drain job of a recovered connection, replacing any earlier one.
	PutDrain(ctx context.Context, job DrainJob) error
	// CancelDrain removes the connection's drain job, if any (the connection went down again).
	CancelDrain(ctx context.Context, conn Connection) error
	// FinishDrain removes the drain job once its backlog is resumed, unless a newer job
	// replaced it.
	FinishDrain(ctx context.Context, job DrainJob) error
	// Paused calls fn with every paused schedule of conn and the time its pause started, as
	// the index holds them. An error from fn stops the listing and is returned.
	Paused(ctx context.Context, conn Connection, fn func(scheduleID string, since time.Time) error) error
}

// DrainJob is the durable order to resume the schedules an outage paused, at a bounded rate.
type DrainJob struct {
	// Conn is the connection that recovered.
	Conn Connection
	// Outage is the number of the outage that ended.
	Outage uint32
	// Cutoff is when the recovery was handled: schedules paused later belong to a newer outage.
	Cutoff time.Time
	// CausationID and CorrelationID are those of the ConnectionRecovered event: the resumes it
	// causes are recognised when repeated.
	CausationID   string
	CorrelationID string
	// Revision is the job's revision in the index (set when read), so that finishing a job
	// never removes a newer one.
	Revision uint64
}

// DuePublisher publishes RetryDue commands to the records' owners.
type DuePublisher interface {
	// Publish publishes due on its subject (domain.DueSubject) with the attempt id as message id,
	// so that a repeated publish is dropped. It returns once the stream stored it.
	Publish(ctx context.Context, due *retryv1.RetryDue, meta events.Metadata) error
}

// Classifier classifies failures (connector/classify).
type Classifier interface {
	Classify(f *connectorv1.RecordFailed) classify.Result
}

var (
	_ Classifier = (*classify.Classifier)(nil)
)
