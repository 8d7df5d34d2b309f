// Package domain holds the notification service's aggregates, pure and free of I/O: contact (an
// account's contact book) and mailbox (one contact's notification log: the alerts queued for it,
// the notifications intended, sent and failed), and cadence (when a frequency sends). Commands
// take the current time as an argument; the app layer owns the clock, the store, the mailer and
// the timers.
//
// This package holds the errors the aggregates share.
package domain

import (
	"errors"
	"fmt"

	"github.com/reboundhq/rebound/connector"
)

// ErrContactExists means the account already has a contact with that email (gRPC:
// AlreadyExists).
var ErrContactExists = errors.New("contact exists")

// ErrWrongState means the command does not apply to the aggregate in its current state (gRPC:
// FailedPrecondition).
var ErrWrongState = errors.New("wrong state")

// Invalid returns a validation error naming its field (a *connector.FieldError, which wraps
// events.ErrInvalidArgument).
func Invalid(field, format string, args ...any) error {
	return &connector.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
