// Package domain holds the alerts service's aggregates, pure and free of I/O: alert (one alert
// per fingerprint, its lifecycle, grace period and escalation) and outage (connection-outage
// detection, one detector per connection). Commands take the current time as an argument; the
// app layer owns the clock, the event store and the classifier.
//
// This package holds what both aggregates share: the error a command returns when the aggregate
// is in the wrong state for it.
package domain

import (
	"errors"
	"fmt"
)

// ErrWrongState means the command does not apply to the aggregate in its current state (dismiss
// a resolved alert, escalate an alert that was never raised, ...). It is permanent: the gRPC
// layer maps it to FailedPrecondition, a bus handler acknowledges the input without retrying.
var ErrWrongState = errors.New("wrong state")

// StateError is the ErrWrongState a command returns, with what was tried on what.
type StateError struct {
	// Aggregate is the aggregate type, e.g. "alert".
	Aggregate string
	// ID is the aggregate's id.
	ID string
	// Command is the command that was refused, e.g. "dismiss".
	Command string
	// State is the state the aggregate is in, e.g. "resolved" or "not raised".
	State string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("%s %s is %s: cannot %s it", e.Aggregate, e.ID, e.State, e.Command)
}

// Unwrap makes errors.Is(err, ErrWrongState) hold.
func (e *StateError) Unwrap() error { return ErrWrongState }
