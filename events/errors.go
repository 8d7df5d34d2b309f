package events

import (
	"errors"
	"fmt"
)

var (
	// ErrConcurrencyConflict means the stream moved on since the caller loaded it: the append's
	// expectation did not hold and nothing was written. Reload and retry.
	ErrConcurrencyConflict = errors.New("events: concurrency conflict")
	// ErrNotFound means the stream has no events.
	ErrNotFound = errors.New("events: stream not found")
	// ErrInvalidArgument means the call itself is wrong (bad id, empty append, ...); retrying it
	// cannot succeed.
	ErrInvalidArgument = errors.New("events: invalid argument")
	// ErrUnknownType means an event type is not in the registry.
	ErrUnknownType = errors.New("events: unknown event type")
)

// ConflictError is the ErrConcurrencyConflict an append returns, with what it expected.
type ConflictError struct {
	Stream   StreamID
	Expected Expectation
	// Reason is what the store reported, for logs.
	Reason string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("events: concurrency conflict on %s (expected %s): %s", e.Stream, e.Expected, e.Reason)
}

// Is makes errors.Is(err, ErrConcurrencyConflict) hold.
func (e *ConflictError) Is(target error) bool { return target == ErrConcurrencyConflict }

// UnknownTypeError is the ErrUnknownType the registry returns, naming the type.
type UnknownTypeError struct {
	Type string
}

func (e *UnknownTypeError) Error() string {
	return fmt.Sprintf("events: unknown event type %q (not in the registry)", e.Type)
}

// Is makes errors.Is(err, ErrUnknownType) hold.
func (e *UnknownTypeError) Is(target error) bool { return target == ErrUnknownType }

// InvalidArgumentError is the ErrInvalidArgument a store returns, naming the argument.
type InvalidArgumentError struct {
	Field  string
	Reason string
}

func (e *InvalidArgumentError) Error() string {
	return fmt.Sprintf("events: invalid %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidArgument) hold.
func (e *InvalidArgumentError) Is(target error) bool { return target == ErrInvalidArgument }

func invalid(field, format string, args ...any) error {
	return &InvalidArgumentError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
