// Package alert is the Alert aggregate (DESIGN.md §1, "Alerts"): one event stream per
// fingerprint — account + connection + record kind + record id + alert type — stored as
// evt.alert.<account>.<alert id>.<EventType>, the alert id being AlertID(fingerprint).
//
// # Lifecycle
//
//   - The first failure of a fingerprint raises the alert (AlertRaised). A repeat failure while it
//     is open adds an occurrence (AlertOccurred): count, last seen, last failure. A report
//     repeating the last attempt id is ignored.
//   - A success of the record resolves it (Resolve → AlertResolved); the app layer resolves every
//     open alert of the record, whatever its type. A success older than the alert's last failure
//     changes nothing; resolving a closed alert changes nothing.
//   - A person dismisses it (Dismiss → AlertDismissed); dismissing a closed alert is an
//     ErrWrongState.
//   - A failure after the alert was closed reopens it as a regression (AlertReopened) when it
//     happened within Config.RegressionWindow (default 7 days) of the closing, and otherwise
//     opens a new alert. Failures observed at or before the latest closing are ignored.
//
// # Incarnations: why the id has no epoch
//
// A "new alert" after the regression window is a new incarnation of the same aggregate: the same
// stream and alert id, with AlertRaised starting over (incarnation+1, one occurrence, nothing
// carried over). So the id stays derivable from the fingerprint alone — a client that knows the
// record and the alert type finds the alert with AlertID, GetAlert by fingerprint needs no index,
// and a success can resolve without a lookup — while every event carries the incarnation, so
// projections that list past alerts key them by (alert id, incarnation).
//
// # Attention
//
// An open alert needs a person (AlertNeedsAttention, raised once per opening):
//
//   - at once when its class is manual_action, auth or rejected, or it is a connection_down
//     alert;
//   - when retries run out (Escalate → AlertEscalated, then AlertNeedsAttention);
//   - when it stays open past Config.GracePeriod (default 1 hour) from its opening: the app sets
//     a timer at GraceDeadline and calls CheckGrace.
//
// While an alert is covered by a connection outage (CoverByOutage) it raises no attention of
// its own — the connection_down alert speaks for it — and has no grace deadline; once uncovered
// its grace period runs again from the recovery, and an escalation that happened meanwhile asks
// for attention then.
//
// # Time
//
// Commands take now (the service's clock) for the times they record; fact times come from the
// reports (failed_at, succeeded_at). Folding depends on the events alone, never on Config: the
// configuration applies when a command decides.
package alert
