package auth

import (
	"context"
	"time"
)

// KeyStore keeps API keys, hashed. Implementations are safe for concurrent use and never see a
// plain key or a secret: they store what [IssueKey] hands them.
type KeyStore interface {
	// Lookup returns the key with that id, revoked or not, or an error wrapping ErrKeyNotFound.
	Lookup(ctx context.Context, id string) (Key, error)
	// Create stores a new key, or returns an error wrapping ErrKeyExists when the id is taken.
	Create(ctx context.Context, k Key) error
	// Revoke marks the key revoked at the given time; revoking a revoked key keeps the first
	// time. It returns an error wrapping ErrKeyNotFound when there is no such key.
	Revoke(ctx context.Context, id string, at time.Time) error
	// List returns every key, revoked ones included, sorted by id, without their hashes.
	List(ctx context.Context) ([]Key, error)
}
