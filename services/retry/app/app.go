// Package app holds the retry service's use cases, one per file: the commands the bus, the
// timers and gRPC drive, and the queries. Application lists them all. Every command on a
// schedule goes through Schedules, which stores the schedule's events and keeps its durable
// timer and its index entries in line with it.
package app

// Application is every use case of the retry service.
type Application struct {
	Commands Commands
	Queries  Queries
}

// Commands change schedules.
type Commands struct {
	// RecordFailure records a RecordFailed report (bus).
	RecordFailure RecordFailureHandler
	// RecordSuccess records a RecordSucceeded report (bus).
	RecordSuccess RecordSuccessHandler
	// RecordUpdate applies a RecordUpdated report: edit, resend, cancel (bus).
	RecordUpdate RecordUpdateHandler
	// StartSyncCycle offers a SyncCycleStarted to the connection's waiting schedules (bus).
	StartSyncCycle StartSyncCycleHandler
	// PauseForOutage pauses the records a ConnectionDown or RecordCoveredByOutage covers (bus).
	PauseForOutage PauseForOutageHandler
	// ResumeAfterOutage stores the drain job of a ConnectionRecovered (bus).
	ResumeAfterOutage ResumeAfterOutageHandler
	// DrainConnection resumes a recovered connection's backlog at a bounded rate (drain jobs).
	DrainConnection DrainConnectionHandler
	// FireTimer runs a schedule whose durable timer went off (timers).
	FireTimer FireTimerHandler
	// PublishDue sends the RetryDue command of a stored RetryAttemptDue (bus).
	PublishDue PublishDueHandler
	// RetryNow makes an attempt due at once (gRPC).
	RetryNow RetryNowHandler
	// CancelRetry stops retrying a record (gRPC).
	CancelRetry CancelRetryHandler
	// Reconcile rebuilds every schedule's timer and index entries from the store (ops).
	Reconcile ReconcileHandler
}

// Queries read schedules.
type Queries struct {
	// GetRetry returns a record's schedule and its history (gRPC).
	GetRetry GetRetryHandler
	// ListRetries lists the pending or held records from the retry-queue read model (gRPC).
	ListRetries ListRetriesHandler
	// ListSkippedRecords lists the skipped records, with the reason (gRPC).
	ListSkippedRecords ListSkippedRecordsHandler
}
