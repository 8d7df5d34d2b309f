// Package retryqueue is the retry-queue read model: every record's retry schedule (folded from
// rebound.retry.v1 events on evt.retry.>, the same way the RetrySchedule aggregate folds them),
// listed as three queues:
//
//   - pending: attempts the retry service will make by itself (scheduled on a timer, waiting for
//     the connection's next sync cycle, or paused by an outage), by due time — sync-cycle and
//     paused records without a timer come after every timed one;
//   - held: records waiting for a person (manual action), oldest hold first;
//   - skipped: records whose retries ran out or that were rejected (the "Show Skipped Orders"
//     list), most recently skipped first, with the reason (RetrySchedule.exhausted_reason and
//     last_failure).
//
// # Table
//
// retry_queue: one row per schedule, keyed by (schedule_id, account_id). Columns for filters and
// order (scope_id, connection_id, record_kind, order_number, sku, status, queue — 1 pending,
// 2 held, 3 skipped, 0 none — and sort_at, the queue's sort time in Unix nanoseconds), the fold's
// private state (phase, paused, next_attempt_raw) and state, the rebound.retry.v1.RetrySchedule
// the queries return.
package retryqueue
