package auth

import (
	"errors"
	"fmt"
)

var (
	// ErrUnauthenticated means the call carried no API key, or one that is malformed, unknown,
	// revoked or wrong. The transport maps it to Unauthenticated.
	ErrUnauthenticated = errors.New("auth: unauthenticated")
	// ErrPermissionDenied means the caller's key does not cover the account it asked about, or
	// the resource may not exist: the two are never told apart. The transport maps it to
	// PermissionDenied.
	ErrPermissionDenied = errors.New("auth: permission denied")
	// ErrKeyNotFound means a key store has no key with that id.
	ErrKeyNotFound = errors.New("auth: API key not found")
	// ErrKeyExists means a key store already has a key with that id.
	ErrKeyExists = errors.New("auth: API key already exists")
)

// UnauthenticatedError is the ErrUnauthenticated that [Verify] returns. It says why, for the
// server's log; it never holds the key itself.
type UnauthenticatedError struct {
	// KeyID is the id of the key the caller sent, when it could be read.
	KeyID string
	// Reason says what was wrong ("missing", "malformed", "unknown key", "revoked", ...).
	Reason string
}

func (e *UnauthenticatedError) Error() string {
	if e.KeyID == "" {
		return "auth: unauthenticated: " + e.Reason
	}
	return fmt.Sprintf("auth: unauthenticated: key %s: %s", e.KeyID, e.Reason)
}

// Is makes errors.Is(err, ErrUnauthenticated) hold.
func (e *UnauthenticatedError) Is(target error) bool { return target == ErrUnauthenticated }

func denied(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrPermissionDenied}, args...)...)
}
