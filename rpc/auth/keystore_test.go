package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reboundhq/rebound/rpc/auth"
)

// testKeyStore checks the KeyStore contract on an empty store.
func testKeyStore(t *testing.T, store auth.KeyStore) {
	t.Helper()
	ctx := context.Background()
	if got, err := store.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("List on an empty store = %v, %v", got, err)
	}
	if _, err := store.Lookup(ctx, "0000000000000000"); !errors.Is(err, auth.ErrKeyNotFound) {
		t.Fatalf("Lookup of a missing key = %v, want ErrKeyNotFound", err)
	}
	if _, err := store.Lookup(ctx, "not a key id!"); !errors.Is(err, auth.ErrKeyNotFound) {
		t.Fatalf("Lookup of an invalid id = %v, want ErrKeyNotFound", err)
	}
	plainM, km, err := auth.IssueKey(ctx, store, auth.ScopeMerchant, "m1", "merchant one")
	if err != nil {
		t.Fatal(err)
	}
	_, kw, err := auth.IssueKey(ctx, store, auth.ScopeWarehouse, "w1", "warehouse one")
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Lookup(ctx, km.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != km.ID || got.Scope != km.Scope || got.Account != km.Account || got.Description != km.Description ||
		string(got.Hash) != string(km.Hash) || !got.CreatedAt.Equal(km.CreatedAt) || got.Revoked() {
		t.Fatalf("Lookup = %+v, want %+v", got, km)
	}
	if err := store.Create(ctx, km); !errors.Is(err, auth.ErrKeyExists) {
		t.Fatalf("Create of an existing id = %v, want ErrKeyExists", err)
	}
	if err := store.Create(ctx, auth.Key{ID: "abcd1234", Scope: auth.ScopeMerchant, Account: "m1"}); err == nil {
		t.Fatal("Create accepted a key without a hash")
	}

	list, err := store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("List = %d keys, want 2", len(list))
	}
	for i, k := range list {
		if k.Hash != nil {
			t.Errorf("List returned key %s with its hash", k.ID)
		}
		if i > 0 && list[i-1].ID >= k.ID {
			t.Errorf("List is not sorted by id")
		}
		if k.ID != km.ID && k.ID != kw.ID {
			t.Errorf("List returned unknown key %s", k.ID)
		}
	}

	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := store.Revoke(ctx, km.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := store.Revoke(ctx, km.ID, at.Add(time.Hour)); err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	if got, err := store.Lookup(ctx, km.ID); err != nil || !got.RevokedAt.Equal(at) {
		t.Fatalf("after Revoke, Lookup = %+v, %v; want revoked at %s", got, err, at)
	}
	if _, err := auth.Verify(ctx, store, plainM); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("Verify of a revoked key = %v, want ErrUnauthenticated", err)
	}
	if err := store.Revoke(ctx, "0000000000000000", at); !errors.Is(err, auth.ErrKeyNotFound) {
		t.Fatalf("Revoke of a missing key = %v, want ErrKeyNotFound", err)
	}
}

func TestMemStore_contract(t *testing.T) {
	t.Parallel()
	testKeyStore(t, auth.NewMemStore())
}
