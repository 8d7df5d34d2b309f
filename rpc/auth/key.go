package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/reboundhq/rebound/events"
)

// KeyPrefix starts every API key: rbk_<key id>_<secret>.
const KeyPrefix = "rbk"

// Key is a stored API key: everything but its secret.
type Key struct {
	// ID is the public key id (the middle part of the plain key).
	ID string
	// Scope is what the key covers.
	Scope Scope
	// Account is the merchant or warehouse account of a merchant or warehouse key; admin keys
	// may leave it empty.
	Account string
	// Description says who or what the key is for.
	Description string
	// Hash is the SHA-256 digest of the key's secret. [KeyStore.List] leaves it empty.
	Hash []byte
	// CreatedAt is when the key was issued.
	CreatedAt time.Time
	// RevokedAt is when the key was revoked; zero while the key is active.
	RevokedAt time.Time
}

// Revoked reports whether the key was revoked.
func (k Key) Revoked() bool { return !k.RevokedAt.IsZero() }

// Principal is the caller a request made with this key acts as.
func (k Key) Principal() Principal {
	return Principal{KeyID: k.ID, Scope: k.Scope, Account: k.Account}
}

// MaxDescriptionLen bounds a key's description.
const MaxDescriptionLen = 256

// Validate reports every problem with the key's fields.
func (k Key) Validate() error {
	var errs []error
	if !keyIDRE.MatchString(k.ID) {
		errs = append(errs, &events.InvalidArgumentError{Field: "key_id", Reason: fmt.Sprintf("%q must be 4-64 characters of a-z 0-9", k.ID)})
	}
	if err := k.Scope.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case k.Account == "" && k.Scope != ScopeAdmin:
		errs = append(errs, &events.InvalidArgumentError{Field: "account", Reason: "is required for a merchant or warehouse key"})
	case k.Account != "" && !events.ValidToken(k.Account):
		errs = append(errs, &events.InvalidArgumentError{Field: "account", Reason: fmt.Sprintf("%q must be 1-128 characters of A-Z a-z 0-9 _ -", k.Account)})
	}
	if len(k.Description) > MaxDescriptionLen {
		errs = append(errs, &events.InvalidArgumentError{Field: "description", Reason: fmt.Sprintf("is %d bytes long; at most %d", len(k.Description), MaxDescriptionLen)})
	}
	if len(k.Hash) != sha256.Size {
		errs = append(errs, &events.InvalidArgumentError{Field: "hash", Reason: "must be a SHA-256 digest"})
	}
	return errors.Join(errs...)
}

// matches reports, in constant time, whether secret is the key's secret.
func (k Key) matches(secret string) bool {
	h := hashSecret(secret)
	return len(k.Hash) == len(h) && subtle.ConstantTimeCompare(k.Hash, h) == 1
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

var (
	keyIDRE   = regexp.MustCompile(`^[a-z0-9]{4,64}$`)
	secretRE  = regexp.MustCompile(`^[a-z0-9]{32,128}$`)
	secretB32 = base32.StdEncoding.WithPadding(base32.NoPadding)
)

// ErrMalformedKey means a string is not an API key of the form rbk_<key id>_<secret>.
var ErrMalformedKey = errors.New("auth: malformed API key (want rbk_<key id>_<secret>)")

// ParseKey splits a plain API key into its public id and its secret. Its errors never contain
// the key.
func ParseKey(plain string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(plain, KeyPrefix+"_")
	if !ok {
		return "", "", ErrMalformedKey
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || !keyIDRE.MatchString(id) || !secretRE.MatchString(secret) {
		return "", "", ErrMalformedKey
	}
	return id, secret, nil
}

// newPlainKey makes a fresh key: 8 random bytes of id (hex) and 32 of secret (base32).
func newPlainKey() (plain, id, secret string, err error) {
	var idb [8]byte
	var sb [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", "", fmt.Errorf("auth: generating a key id: %w", err)
	}
	if _, err := rand.Read(sb[:]); err != nil {
		return "", "", "", fmt.Errorf("auth: generating a key secret: %w", err)
	}
	id = hex.EncodeToString(idb[:])
	secret = strings.ToLower(secretB32.EncodeToString(sb[:]))
	return KeyPrefix + "_" + id + "_" + secret, id, secret, nil
}
