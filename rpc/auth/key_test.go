package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/rpc/auth"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, id string
		ok            bool
	}{
		{"valid", "rbk_0123abcd_" + strings.Repeat("a", 52), "0123abcd", true},
		{"no prefix", "xyz_0123abcd_" + strings.Repeat("a", 52), "", false},
		{"no secret", "rbk_0123abcd", "", false},
		{"short secret", "rbk_0123abcd_abc", "", false},
		{"upper case", "rbk_0123ABCD_" + strings.Repeat("a", 52), "", false},
		{"extra part", "rbk_0123abcd_" + strings.Repeat("a", 52) + "_x", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, _, err := auth.ParseKey(tt.key)
			if tt.ok != (err == nil) || id != tt.id {
				t.Fatalf("ParseKey = %q, %v; want id %q ok %v", id, err, tt.id, tt.ok)
			}
			if err != nil && !errors.Is(err, auth.ErrMalformedKey) {
				t.Fatalf("error %v is not ErrMalformedKey", err)
			}
			if err != nil && tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Fatalf("error %q contains the key", err)
			}
		})
	}
}

func TestIssueKey_formatAndHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := auth.NewMemStore()
	plain, k, err := auth.IssueKey(ctx, store, auth.ScopeMerchant, "m1", "tests")
	if err != nil {
		t.Fatal(err)
	}
	id, secret, err := auth.ParseKey(plain)
	if err != nil {
		t.Fatalf("issued key does not parse: %v", err)
	}
	if id != k.ID || len(secret) != 52 {
		t.Fatalf("id %q / key id %q, secret length %d; want equal ids and 52", id, k.ID, len(secret))
	}
	if len(k.Hash) != 32 || strings.Contains(string(k.Hash), secret) {
		t.Fatalf("hash %x is not a SHA-256 digest of the secret", k.Hash)
	}
	plain2, _, err := auth.IssueKey(ctx, store, auth.ScopeMerchant, "m1", "tests")
	if err != nil || plain2 == plain {
		t.Fatalf("second key %v, same as the first: %v", err, plain2 == plain)
	}
}

func TestIssueKey_validates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		scope   auth.Scope
		account string
	}{
		{"unknown scope", auth.Scope("root"), "m1"},
		{"merchant without account", auth.ScopeMerchant, ""},
		{"warehouse without account", auth.ScopeWarehouse, ""},
		{"bad account", auth.ScopeMerchant, "m 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := auth.IssueKey(ctx, auth.NewMemStore(), tt.scope, tt.account, ""); err == nil {
				t.Fatal("IssueKey accepted it")
			}
		})
	}
	if _, _, err := auth.IssueKey(ctx, auth.NewMemStore(), auth.ScopeAdmin, "", "ops"); err != nil {
		t.Fatalf("admin key without account: %v", err)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := auth.NewMemStore()
	plain, k, err := auth.IssueKey(ctx, store, auth.ScopeWarehouse, "w1", "")
	if err != nil {
		t.Fatal(err)
	}
	revoked, rk, err := auth.IssueKey(ctx, store, auth.ScopeMerchant, "m1", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Revoke(ctx, rk.ID, k.CreatedAt); err != nil {
		t.Fatal(err)
	}
	id, secret, _ := auth.ParseKey(plain)
	other := "rbk_" + id + "_" + strings.Repeat("b", len(secret))

	p, err := auth.Verify(ctx, store, plain)
	if err != nil || p != (auth.Principal{KeyID: k.ID, Scope: auth.ScopeWarehouse, Account: "w1"}) {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	tests := []struct {
		name, key, reason string
	}{
		{"missing", "", "missing"},
		{"malformed", "Bearer nonsense", "malformed"},
		{"unknown id", "rbk_ffffffffffffffff_" + secret, "unknown"},
		{"wrong secret", other, "wrong secret"},
		{"revoked", revoked, "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := auth.Verify(ctx, store, tt.key)
			var ue *auth.UnauthenticatedError
			if !errors.Is(err, auth.ErrUnauthenticated) || !errors.As(err, &ue) || !strings.Contains(ue.Reason, tt.reason) {
				t.Fatalf("Verify = %v, want unauthenticated: %s", err, tt.reason)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Fatalf("error %q contains the key", err)
			}
		})
	}
}

func TestImportKey_idempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := auth.NewMemStore()
	plain := "rbk_adminkey_" + strings.Repeat("k", 40)
	k1, err := auth.ImportKey(ctx, store, plain, auth.ScopeAdmin, "", "REBOUND_ADMIN_KEY")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := auth.ImportKey(ctx, store, plain, auth.ScopeAdmin, "", "REBOUND_ADMIN_KEY")
	if err != nil || !k2.CreatedAt.Equal(k1.CreatedAt) {
		t.Fatalf("second import = %+v, %v; want the first key", k2, err)
	}
	if p, err := auth.Verify(ctx, store, plain); err != nil || p.Scope != auth.ScopeAdmin {
		t.Fatalf("Verify imported key = %+v, %v", p, err)
	}
	otherSecret := "rbk_adminkey_" + strings.Repeat("z", 40)
	if _, err := auth.ImportKey(ctx, store, otherSecret, auth.ScopeAdmin, "", ""); !errors.Is(err, auth.ErrKeyExists) || strings.Contains(err.Error(), otherSecret) {
		t.Fatalf("import with another secret = %v, want ErrKeyExists without the key", err)
	}
	if _, err := auth.ImportKey(ctx, store, plain, auth.ScopeMerchant, "m1", ""); !errors.Is(err, auth.ErrKeyExists) {
		t.Fatalf("import with another scope = %v, want ErrKeyExists", err)
	}
	if _, err := auth.ImportKey(ctx, store, "not-a-key", auth.ScopeAdmin, "", ""); !errors.Is(err, auth.ErrMalformedKey) {
		t.Fatalf("import of a malformed key = %v, want ErrMalformedKey", err)
	}
}
