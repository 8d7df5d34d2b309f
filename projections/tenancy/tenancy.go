// Package tenancy turns the caller of an API call into what it may see in the read models, the
// same way for every service's list calls.
package tenancy

import (
	"context"
	"fmt"

	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/rpc/auth"
)

// Access returns what the caller may see in the read models, once the account the request names
// ("" for every account the caller may see) is authorized: a merchant key its own account, a
// warehouse key its scope (its own account and its merchants'), an admin key every account.
//
// A merchant key naming another account is refused (auth.ErrPermissionDenied) before anything
// is read, whether or not the account exists. A warehouse key naming an account keeps its scope:
// the rows say whose merchant they are, so another warehouse's merchant lists as empty, exactly
// like an account that does not exist.
func Access(ctx context.Context, account string) (projections.Access, error) {
	if account != "" {
		if err := auth.AuthorizeAccount(ctx, account); err != nil {
			return projections.Access{}, err
		}
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return projections.Access{}, &auth.UnauthenticatedError{Reason: "no authenticated caller in the context"}
	}
	switch {
	case p.Scope == auth.ScopeAdmin:
		return projections.AllAccounts(), nil
	case p.Scope == auth.ScopeMerchant && p.Account != "":
		return projections.Access{Account: p.Account}, nil
	case p.Scope == auth.ScopeWarehouse && p.Account != "":
		return projections.Access{Warehouse: p.Account}, nil
	}
	return projections.Access{}, fmt.Errorf("%w: key %s (%s) covers no account", auth.ErrPermissionDenied, p.KeyID, p.Scope)
}
