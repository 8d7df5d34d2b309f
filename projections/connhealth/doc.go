// Package connhealth is the connection-health read model: per connection, whether outage
// detection considers it up or down (and the outage), how many alerts are open on it and how many
// distinct records are failing (have an open alert), and when it last failed. It folds the outage
// events (evt.outage.>) and the alert events (evt.alert.>) of rebound.alerts.v1.
//
// # Tables
//
//   - connection_health: one row per (connection_id, account_id): the connection's identity
//     (account kind, warehouse, scope_id, system kind and name), status (rebound.alerts.v1
//     ConnectionStatus), the current or last outage (number, down_at, its connection_down alert),
//     outages so far, covered_total (records the current outage covers), last_recovered_at,
//     open_alerts, failing_records and last_failure_at (Unix nanoseconds).
//   - connection_health_records: one row per record with open alerts (record_id, record_kind,
//     connection_id, account_id → open_alerts), deleted when its last alert closes; its row count
//     per connection is failing_records.
//
// Open-alert counts move by the alert lifecycle's own transitions — AlertRaised and
// AlertReopened open an alert, AlertResolved and AlertDismissed close an open one — so the read
// model needs no per-alert state.
package connhealth
