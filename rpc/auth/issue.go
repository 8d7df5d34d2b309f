package auth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// IssueKey makes a new API key for scope and account, stores its hash in store and returns the
// plain key. This is the only time the plain key exists: hand it to its owner and do not log it.
func IssueKey(ctx context.Context, store KeyStore, scope Scope, account, description string) (plainKey string, k Key, err error) {
	plain, id, secret, err := newPlainKey()
	if err != nil {
		return "", Key{}, err
	}
	k = Key{ID: id, Scope: scope, Account: account, Description: description, Hash: hashSecret(secret), CreatedAt: time.Now().UTC()}
	if err := store.Create(ctx, k); err != nil {
		return "", Key{}, fmt.Errorf("auth: issuing a %s key for %q: %w", scope, account, err)
	}
	return plain, k, nil
}

// ImportKey stores a plain key that was made elsewhere, such as the admin key an operator sets
// in REBOUND_ADMIN_KEY, so that it authenticates as scope and account. It is idempotent: a key
// already stored with the same id, secret, scope and account is returned as it is. A key id
// already used with another secret, scope or account, or revoked, is an error wrapping
// ErrKeyExists. Its errors never contain the key.
func ImportKey(ctx context.Context, store KeyStore, plainKey string, scope Scope, account, description string) (Key, error) {
	id, secret, err := ParseKey(plainKey)
	if err != nil {
		return Key{}, err
	}
	k := Key{ID: id, Scope: scope, Account: account, Description: description, Hash: hashSecret(secret), CreatedAt: time.Now().UTC()}
	err = store.Create(ctx, k)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, ErrKeyExists) {
		return Key{}, fmt.Errorf("auth: importing key %s: %w", id, err)
	}
	old, err := store.Lookup(ctx, id)
	if err != nil {
		return Key{}, fmt.Errorf("auth: importing key %s: %w", id, err)
	}
	if !old.matches(secret) || old.Scope != scope || old.Account != account || old.Revoked() {
		return Key{}, fmt.Errorf("%w: key id %s is already stored with another secret, scope or account, or was revoked", ErrKeyExists, id)
	}
	return old, nil
}

// Verify authenticates a plain API key against store and returns the caller it stands for.
// A missing, malformed, unknown, wrong or revoked key gives an *UnauthenticatedError; a store
// that cannot answer gives its own error, which is not ErrUnauthenticated. Errors never contain
// the key.
func Verify(ctx context.Context, store KeyStore, plainKey string) (Principal, error) {
	if plainKey == "" {
		return Principal{}, &UnauthenticatedError{Reason: "missing API key"}
	}
	id, secret, err := ParseKey(plainKey)
	if err != nil {
		return Principal{}, &UnauthenticatedError{Reason: "malformed API key"}
	}
	k, err := store.Lookup(ctx, id)
	if errors.Is(err, ErrKeyNotFound) {
		return Principal{}, &UnauthenticatedError{KeyID: id, Reason: "unknown key"}
	}
	if err != nil {
		return Principal{}, fmt.Errorf("auth: looking up key %s: %w", id, err)
	}
	switch {
	case !k.matches(secret):
		return Principal{}, &UnauthenticatedError{KeyID: id, Reason: "wrong secret"}
	case k.Revoked():
		return Principal{}, &UnauthenticatedError{KeyID: id, Reason: "revoked"}
	case k.Scope.Validate() != nil, k.Scope != ScopeAdmin && k.Account == "":
		return Principal{}, &UnauthenticatedError{KeyID: id, Reason: "stored with an invalid scope or account"}
	}
	return k.Principal(), nil
}
