// Package domain is the pure domain of the retry service: retry policies and the RetrySchedule
// aggregate (Schedule), one per record. It does no I/O and reads no clock: every command takes
// `now`, so tests walk through weeks in milliseconds.
//
// # Series, windows and attempts
//
// A record's first failure starts a retry series; RetryCompleted (any success), RetryExhausted
// (the record is skipped) or RetryCanceled end it, and a later failure starts a new one. A series
// runs in windows: the first starts at the first failure; an edit or a resend of the record (or a
// RetryNow of a held or exhausted record) starts a fresh one with a new deadline, a new failure
// budget and attempt numbers from 1. Windows are numbered on over the schedule's life, so attempt
// ids ("<schedule id>-w<window>-a<attempt>") never repeat.
//
// What a failure leads to depends on its class (see Schedule.RecordFailure): transient and
// rate-limited failures schedule the next attempt per the policy (a timer, or the connection's
// next sync cycle), never before Retry-After; auth failures back off exponentially; manual-action
// failures hold the record until a person edits or resends it (no budget, no age used); rejected
// failures skip the record at once (RetryExhausted, reason rejected).
//
// # Timers
//
// The service keeps one durable timer per schedule, armed at WakeAt after every command, and
// calls Fire when it goes off. Fire is idempotent. Times that drive timers are whole seconds,
// rounded up, so a whole-second timer never fires early. Jitter is derived from the schedule id
// and the attempt number and stored in the event; Apply copies stored times and never recomputes
// them, so a rebuild from events gives the same schedule.
//
// When an attempt becomes due the schedule raises RetryAttemptDue; once it is stored the service
// publishes the RetryDue command (DueCommand, DueCommandOf) on DueSubject, and the record's owner
// attempts the record and reports the outcome with the attempt id.
//
// # Outages
//
// While the record's connection is down (Pause, Resume) no attempt becomes due and the age window
// stands still; on Resume the deadline moves by the paused time and attempts whose time passed
// are due at once.
//
// # Errors
//
// Bad input is a *connector.FieldError naming the field (errors.Is events.ErrInvalidArgument); a
// command the schedule's state does not allow is a *StateError (errors.Is ErrWrongState). Commands
// that arrive from the bus (failures, successes, updates, cycles, outages) are tolerant: what
// does not apply changes nothing, so redeliveries are harmless.
package domain
