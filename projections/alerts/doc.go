// Package alerts is the alerts read model: the Alerts tab. It folds the public alert events
// (rebound.alerts.v1 on evt.alert.>) into one row per alert incarnation — keyed by (alert id,
// incarnation), since a failure long after an alert closed opens a new incarnation under the same
// id — and keeps per-group counts, so that List and Count answer in milliseconds with a million
// alerts.
//
// # Tables
//
//   - alerts: one row per (alert_id, incarnation). The columns queries filter and sort on
//     (account_id, scope_id, connection_id, record_kind, order_number, sku, alert_type,
//     error_class, status, needs_attention, first_seen_at, last_seen_at — times in Unix
//     nanoseconds, enums as their proto numbers), position (of the last event applied) and state,
//     the full rebound.alerts.v1.Alert (deterministic protobuf), which queries return; nothing
//     else, since every column costs on every write. scope_id is projections.ScopeOf(account, warehouse): a warehouse sees the
//     rows whose scope is its account.
//   - alert_counts: how many alerts each (scope_id, account_id, connection_id, alert_type,
//     error_class, status, needs_attention) group holds, kept by the same transaction; groups that
//     fall to zero are deleted, so the table is the same however the events were batched.
//
// Indexes serve each list order per access path (account, warehouse scope, all) by last seen
// and first seen, last seen per status, and order number and SKU lookups. Pagination is keyset
// on (sort time, alert_id, incarnation), so pages stay stable while alerts arrive.
package alerts
