package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/reboundhq/rebound/rpc/auth"
)

var (
	admin     = auth.Principal{KeyID: "k0", Scope: auth.ScopeAdmin}
	merchant  = auth.Principal{KeyID: "k1", Scope: auth.ScopeMerchant, Account: "m1"}
	warehouse = auth.Principal{KeyID: "k2", Scope: auth.ScopeWarehouse, Account: "w1"}
)

func TestAuthorize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		p                  auth.Principal
		account, warehouse string
		ok                 bool
	}{
		{"admin any merchant", admin, "m9", "w9", true},
		{"merchant own", merchant, "m1", "w1", true},
		{"merchant other", merchant, "m2", "w1", false},
		{"merchant its warehouse", merchant, "w1", "", false},
		{"warehouse own account", warehouse, "w1", "", true},
		{"warehouse its merchant", warehouse, "m1", "w1", true},
		{"warehouse other warehouse's merchant", warehouse, "m2", "w2", false},
		{"warehouse merchant without warehouse", warehouse, "m3", "", false},
		{"warehouse other warehouse", warehouse, "w2", "", false},
		{"no scope", auth.Principal{Account: "m1"}, "m1", "", false},
		{"merchant without account", auth.Principal{Scope: auth.ScopeMerchant}, "", "", false},
		{"warehouse without account", auth.Principal{Scope: auth.ScopeWarehouse}, "m1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := auth.Authorize(tt.p, tt.account, tt.warehouse)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, auth.ErrPermissionDenied)) {
				t.Fatalf("Authorize = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestAuthorizeAccount_andCheckLoaded(t *testing.T) {
	t.Parallel()
	// A resource of merchant m1 (warehouse w1) exists; nothing of m2 or m3 does, and m4
	// (warehouse w2) exists.
	tests := []struct {
		name      string
		p         auth.Principal
		account   string
		warehouse string // the loaded resource's, when found
		found     bool
		before    bool // AuthorizeAccount allows
		after     bool // CheckLoaded allows
	}{
		{"admin found", admin, "m1", "w1", true, true, true},
		{"admin missing", admin, "m2", "", false, true, true},
		{"merchant own found", merchant, "m1", "w1", true, true, true},
		{"merchant own missing", merchant, "m1", "", false, true, true},
		{"merchant other found", merchant, "m4", "w2", true, false, false},
		{"merchant other missing", merchant, "m2", "", false, false, false},
		{"warehouse its merchant found", warehouse, "m1", "w1", true, true, true},
		{"warehouse other warehouse's merchant", warehouse, "m4", "w2", true, true, false},
		{"warehouse missing merchant", warehouse, "m2", "", false, true, false},
		{"warehouse own missing", warehouse, "w1", "", false, true, true},
		{"merchant unknown account missing", merchant, "", "", false, false, false},
		{"admin unknown account missing", admin, "", "", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := auth.NewContext(context.Background(), tt.p)
			if err := auth.AuthorizeAccount(ctx, tt.account); tt.before != (err == nil) || (err != nil && !errors.Is(err, auth.ErrPermissionDenied)) {
				t.Errorf("AuthorizeAccount = %v, want ok %v", err, tt.before)
			}
			if err := auth.CheckLoaded(ctx, tt.account, tt.warehouse, tt.found); tt.after != (err == nil) || (err != nil && !errors.Is(err, auth.ErrPermissionDenied)) {
				t.Errorf("CheckLoaded = %v, want ok %v", err, tt.after)
			}
		})
	}
}

func TestCheckLoaded_hidesExistence(t *testing.T) {
	t.Parallel()
	ctx := auth.NewContext(context.Background(), warehouse)
	missing := auth.CheckLoaded(ctx, "m2", "", false)
	foreign := auth.CheckLoaded(ctx, "m4", "w2", true)
	if missing == nil || foreign == nil {
		t.Fatalf("CheckLoaded allowed: missing %v, foreign %v", missing, foreign)
	}
	if !errors.Is(missing, auth.ErrPermissionDenied) || !errors.Is(foreign, auth.ErrPermissionDenied) {
		t.Fatalf("want both ErrPermissionDenied: %v / %v", missing, foreign)
	}
}

func TestNoPrincipal_unauthenticated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	checks := map[string]error{
		"AuthorizeAccount": auth.AuthorizeAccount(ctx, "m1"),
		"CheckLoaded":      auth.CheckLoaded(ctx, "m1", "", true),
		"RequireAdmin":     auth.RequireAdmin(ctx),
	}
	_, err := auth.ListFilter(ctx, "")
	checks["ListFilter"] = err
	for name, err := range checks {
		if !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("%s without a caller = %v, want ErrUnauthenticated", name, err)
		}
	}
	if _, ok := auth.FromContext(ctx); ok {
		t.Error("FromContext found a caller in an empty context")
	}
}

func TestRequireAdmin(t *testing.T) {
	t.Parallel()
	for _, p := range []auth.Principal{admin, merchant, warehouse} {
		err := auth.RequireAdmin(auth.NewContext(context.Background(), p))
		if (p.Scope == auth.ScopeAdmin) != (err == nil) {
			t.Errorf("RequireAdmin(%s) = %v", p.Scope, err)
		}
	}
}

func TestListFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		p       auth.Principal
		account string
		want    auth.Filter
		denied  bool
	}{
		{"admin all", admin, "", auth.Filter{}, false},
		{"admin one", admin, "m9", auth.Filter{Account: "m9"}, false},
		{"merchant all", merchant, "", auth.Filter{Account: "m1"}, false},
		{"merchant own", merchant, "m1", auth.Filter{Account: "m1"}, false},
		{"merchant other", merchant, "m2", auth.Filter{}, true},
		{"warehouse all", warehouse, "", auth.Filter{Warehouse: "w1"}, false},
		{"warehouse own", warehouse, "w1", auth.Filter{Account: "w1"}, false},
		{"warehouse a merchant", warehouse, "m1", auth.Filter{Account: "m1", Warehouse: "w1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := auth.ListFilter(auth.NewContext(context.Background(), tt.p), tt.account)
			if tt.denied {
				if !errors.Is(err, auth.ErrPermissionDenied) {
					t.Fatalf("ListFilter = %+v, %v; want ErrPermissionDenied", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ListFilter = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestFilter_Allows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f                  auth.Filter
		account, warehouse string
		want               bool
	}{
		{auth.Filter{}, "m1", "w1", true},
		{auth.Filter{Account: "m1"}, "m1", "w1", true},
		{auth.Filter{Account: "m1"}, "m2", "w1", false},
		{auth.Filter{Warehouse: "w1"}, "w1", "", true},
		{auth.Filter{Warehouse: "w1"}, "m1", "w1", true},
		{auth.Filter{Warehouse: "w1"}, "m4", "w2", false},
		{auth.Filter{Account: "m4", Warehouse: "w1"}, "m4", "w2", false},
		{auth.Filter{Account: "m1", Warehouse: "w1"}, "m1", "w1", true},
	}
	for _, tt := range tests {
		if got := tt.f.Allows(tt.account, tt.warehouse); got != tt.want {
			t.Errorf("%+v.Allows(%s, %s) = %v, want %v", tt.f, tt.account, tt.warehouse, got, tt.want)
		}
	}
}
