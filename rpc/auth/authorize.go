package auth

import "context"

// Authorize reports whether p may act on a resource of account, whose merchant record names
// warehouseOfAccount as its warehouse ("" when it has none): nil, or an error wrapping
// ErrPermissionDenied. Admin keys may act on every account; a merchant key only on its own
// account; a warehouse key on its own account and on every merchant whose warehouse it is.
func Authorize(p Principal, account, warehouseOfAccount string) error {
	switch p.Scope {
	case ScopeAdmin:
		return nil
	case ScopeMerchant:
		if p.Account != "" && account == p.Account {
			return nil
		}
	case ScopeWarehouse:
		if p.Account != "" && (account == p.Account || warehouseOfAccount == p.Account) {
			return nil
		}
	}
	return denied("key %s (%s %s) may not act on account %q", p.KeyID, p.Scope, p.Account, account)
}

func principal(ctx context.Context) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return Principal{}, &UnauthenticatedError{Reason: "no authenticated caller in the context"}
	}
	return p, nil
}

// AuthorizeAccount is the check an RPC makes before it loads anything of account, so that a
// caller who may not see account is refused the same way whether or not the resource exists.
// It returns an error wrapping ErrPermissionDenied for a merchant key and another account. For a
// warehouse key and another account it returns nil: only the loaded resource tells whether that
// account is one of the warehouse's merchants, so the RPC must call [CheckLoaded] after loading.
func AuthorizeAccount(ctx context.Context, account string) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	switch p.Scope {
	case ScopeAdmin, ScopeWarehouse:
		return nil
	case ScopeMerchant:
		if p.Account != "" && account == p.Account {
			return nil
		}
	}
	return denied("key %s (%s %s) may not act on account %q", p.KeyID, p.Scope, p.Account, account)
}

// CheckLoaded is the complete check an RPC makes after loading a resource: account and
// warehouse are the loaded resource's account and its warehouse, or, when found is false, the
// account the request named (or "" when the request named none) and "".
//
// It returns nil when the caller may learn the outcome: the resource was found and the caller
// may see it (see [Authorize]), or it was not found and the caller may see all of account (an
// admin key, or a key of that very account), in which case the RPC reports NotFound. Otherwise
// it returns an error wrapping ErrPermissionDenied, the same whether the resource is missing or
// belongs to someone else: a warehouse key asking about a merchant that does not exist and one
// asking about another warehouse's merchant get the same answer.
//
//	alert, err := repo.Load(ctx, id)
//	if err != nil && !errors.Is(err, events.ErrNotFound) {
//		return err
//	}
//	found := err == nil
//	account, warehouse := req.GetAccountId(), ""
//	if found {
//		account, warehouse = alert.Account(), alert.Warehouse()
//	}
//	if err := auth.CheckLoaded(ctx, account, warehouse, found); err != nil {
//		return err
//	}
//	if !found {
//		return fmt.Errorf("alert %s: %w", id, events.ErrNotFound)
//	}
func CheckLoaded(ctx context.Context, account, warehouse string, found bool) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	if found {
		return Authorize(p, account, warehouse)
	}
	if p.Scope == ScopeAdmin || (p.Account != "" && account == p.Account && p.Scope.Validate() == nil) {
		return nil
	}
	return denied("key %s (%s %s) may not act on account %q", p.KeyID, p.Scope, p.Account, account)
}

// RequireAdmin returns nil for an admin key and an error wrapping ErrPermissionDenied otherwise,
// for RPCs that only operators may call.
func RequireAdmin(ctx context.Context) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	if p.Scope != ScopeAdmin {
		return denied("key %s (%s %s) is not an admin key", p.KeyID, p.Scope, p.Account)
	}
	return nil
}

// Filter restricts a list query to what the caller may see. Both fields apply when both are set.
type Filter struct {
	// Account, when set, keeps only resources of this account.
	Account string
	// Warehouse, when set, keeps only resources of this warehouse account or of merchants whose
	// warehouse it is (account = Warehouse OR warehouse_id = Warehouse).
	Warehouse string
}

// Allows reports whether a resource of account, with warehouse as its warehouse, passes f.
func (f Filter) Allows(account, warehouse string) bool {
	return (f.Account == "" || account == f.Account) &&
		(f.Warehouse == "" || account == f.Warehouse || warehouse == f.Warehouse)
}

// ListFilter returns the filter a list query applies for the caller, given the account the
// request asks for ("" for every account the caller may see). A merchant key asking for
// another account gets an error wrapping ErrPermissionDenied. A warehouse key asking for another
// account gets a filter that also requires that account's warehouse to be its own, so a merchant
// of another warehouse lists as empty, like a merchant with nothing to list.
func ListFilter(ctx context.Context, account string) (Filter, error) {
	p, err := principal(ctx)
	if err != nil {
		return Filter{}, err
	}
	switch p.Scope {
	case ScopeAdmin:
		return Filter{Account: account}, nil
	case ScopeMerchant:
		if p.Account != "" && (account == "" || account == p.Account) {
			return Filter{Account: p.Account}, nil
		}
	case ScopeWarehouse:
		switch {
		case p.Account == "":
		case account == "":
			return Filter{Warehouse: p.Account}, nil
		case account == p.Account:
			return Filter{Account: p.Account}, nil
		default:
			return Filter{Account: account, Warehouse: p.Account}, nil
		}
	}
	return Filter{}, denied("key %s (%s %s) may not list account %q", p.KeyID, p.Scope, p.Account, account)
}
