package tenancy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/tenancy"
	"github.com/reboundhq/rebound/rpc/auth"
)

func TestAccess(t *testing.T) {
	as := func(s auth.Scope, account string) context.Context {
		return auth.NewContext(context.Background(), auth.Principal{KeyID: "k", Scope: s, Account: account})
	}
	cases := []struct {
		name    string
		ctx     context.Context
		account string
		want    projections.Access
		denied  bool
	}{
		{"merchant, all it may see", as(auth.ScopeMerchant, "m1"), "", projections.Access{Account: "m1"}, false},
		{"merchant, itself", as(auth.ScopeMerchant, "m1"), "m1", projections.Access{Account: "m1"}, false},
		{"merchant, another", as(auth.ScopeMerchant, "m1"), "m2", projections.Access{}, true},
		{"warehouse keeps its scope", as(auth.ScopeWarehouse, "w1"), "m1", projections.Access{Warehouse: "w1"}, false},
		{"admin", as(auth.ScopeAdmin, ""), "m9", projections.AllAccounts(), false},
	}
	for _, tc := range cases {
		got, err := tenancy.Access(tc.ctx, tc.account)
		if tc.denied {
			if !errors.Is(err, auth.ErrPermissionDenied) {
				t.Errorf("%s: err = %v, want PermissionDenied", tc.name, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if _, err := tenancy.Access(context.Background(), ""); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("no caller: err = %v, want Unauthenticated", err)
	}
}
