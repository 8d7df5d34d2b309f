// Package domain holds the orders service's aggregates, pure and free of I/O: order (an order
// received from a cart and delivered to a WMS) and shipmap (a cart connection's ship method
// mappings). Commands take the current time as an argument; the app layer owns the clock, the
// event store, the classifier and the connectors.
//
// This package holds what both aggregates share: the error a command returns when the aggregate
// is in the wrong state for it, and ShipMethod, what a cart ship code resolves to.
package domain

import (
	"errors"
	"fmt"
)

// ErrWrongState means the command does not apply to the aggregate in its current state (edit an
// order the WMS accepted, cancel a shipped order, ...). It is permanent: the gRPC layer maps it to
// FailedPrecondition, a bus handler acknowledges the input without retrying.
var ErrWrongState = errors.New("wrong state")

// StateError is the ErrWrongState a command returns, with what was tried on what.
type StateError struct {
	// Aggregate is the aggregate type, e.g. "order".
	Aggregate string
	// ID is the aggregate's id.
	ID string
	// Command is the command that was refused, e.g. "edit".
	Command string
	// State is the state the aggregate is in, e.g. "at_wms" or "not received".
	State string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("%s %s is %s: cannot %s it", e.Aggregate, e.ID, e.State, e.Command)
}

// Unwrap makes errors.Is(err, ErrWrongState) hold.
func (e *StateError) Unwrap() error { return ErrWrongState }

// ShipMethod is what an order's cart ship method code resolves to when the order is sent (see
// shipmap.Mappings.Resolve).
type ShipMethod struct {
	// Code is the cart's ship method code it was resolved for.
	Code string
	// WMSMethod is the WMS ship method to send; empty when the code is not mapped (and not
	// passed through).
	WMSMethod string
	// PassThrough is true when WMSMethod is the cart code itself, sent unmapped because the
	// cart connection passes unmapped codes through.
	PassThrough bool
}

// Mapped reports whether the code resolved to a WMS ship method (mapped or passed through).
func (s ShipMethod) Mapped() bool { return s.WMSMethod != "" }
