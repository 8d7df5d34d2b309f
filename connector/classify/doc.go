// Package classify turns a connector's failure report (connectorv1.RecordFailed) into an error
// class and an alert type with a table of rules (DESIGN.md §1, "Failures and their
// classification").
//
// # Rules
//
// A rule has an id, matchers, a class and an alert type. Every matcher is optional; a rule
// matches when all of its matchers match (AND), and a matcher with several values matches when
// any of them does (OR):
//
//   - systems: external system names ("shopify", "sandbox-wms"), case-insensitive.
//   - system_kinds: "cart" or "wms".
//   - record_kinds: "order", "tracking", "inventory" or "product".
//   - codes: the external system's code (RecordFailed.code), case-insensitive, exact.
//   - http_status: statuses ("429"), classes ("5xx") or ranges ("500-599"); 0 never matches.
//   - message: a Go regular expression (RE2) searched in the message, case-insensitive.
//
// The first rule that matches wins; when none does, the fallback applies (class transient,
// alert type unknown_failure, rule id "fallback": an unknown failure is retried, and people
// hear of it once it outlives the grace period or the retries run out).
//
// Default returns the built-in table; rules.example.yaml is that same table as a file.
//
// # The file
//
//	version: 1                 # required; the only version this build reads
//	replace_defaults: false    # false (default): extend the built-in rules; true: replace them
//	disable: [server-error]    # built-in rule ids to drop (only when extending)
//	immediate: [ship_method_unmapped, auth_failed, connection_down]  # when present, the whole list
//	fallback: {class: transient, alert_type: unknown_failure}         # when present, replaces it
//	rules:
//	  - id: acme-wms-maintenance
//	    match: {systems: [acme-wms], http_status: [503], message: "maintenance"}
//	    class: transient
//	    alert_type: wms_maintenance
//
// When extending, the file's rules come first (so they win), then the built-in rules minus those
// named in disable and minus those whose id a file rule reuses (a file rule with a built-in id
// overrides that rule, at the file's position). When replacing, only the file's rules apply.
// Unknown keys are errors. Loading checks every rule and reports every problem at once, each
// naming the rule and the field (a *ConfigError wrapping ErrInvalidConfig, joined with
// errors.Join).
//
// # Immediate alert types
//
// Result.Immediate marks alert types that are notified at once, bypassing digests. By default:
// ship_method_unmapped, auth_failed and connection_down (raised by outage detection, not by a
// rule; ask Classifier.Immediate).
package classify
