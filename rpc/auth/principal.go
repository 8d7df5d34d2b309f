package auth

import (
	"context"
	"fmt"

	"github.com/reboundhq/rebound/events"
)

// Scope is what an API key covers.
type Scope string

// The scopes a key can have. They are stored with each key: never rename one.
const (
	// ScopeMerchant covers one merchant account.
	ScopeMerchant Scope = "merchant"
	// ScopeWarehouse covers one warehouse account and every merchant whose warehouse it is.
	ScopeWarehouse Scope = "warehouse"
	// ScopeAdmin covers every account.
	ScopeAdmin Scope = "admin"
)

// Validate reports whether s is a known scope.
func (s Scope) Validate() error {
	switch s {
	case ScopeMerchant, ScopeWarehouse, ScopeAdmin:
		return nil
	}
	return &events.InvalidArgumentError{Field: "scope", Reason: fmt.Sprintf("%q is not one of merchant, warehouse, admin", string(s))}
}

// Principal is the authenticated caller of one RPC.
type Principal struct {
	// KeyID is the public id of the API key the caller used.
	KeyID string
	// Scope is what the key covers.
	Scope Scope
	// Account is the merchant or warehouse account the key belongs to; empty for most admin keys.
	Account string
}

type principalKey struct{}

// NewContext returns ctx carrying p. The server calls it once a call is authenticated; tests of
// RPC handlers call it to act as a caller.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller that the server authenticated, and false when there is none
// (an unauthenticated method such as health, or a context that did not come from the server).
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
