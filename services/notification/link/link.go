// Package link signs and verifies the links notification emails carry. A link is scoped to one
// account, one target (an alert, or for unsubscribe a contact) and one action, and expires:
//
//	<base URL>/links/<account>/<action>?t=<token>
//	token = "v1." + base64url(payload) + "." + base64url(HMAC-SHA256(key, "rebound-link-v1|" + payload))
//	payload = action "|" account "|" target "|" contact "|" expiry (Unix seconds)
//
// Every part of the payload is a token of [A-Za-z0-9_-], so the separator cannot be smuggled in.
// Verify checks, in this order: the token's form, the signature (constant-time), that the
// account and action of the URL's path are the token's (a link reused for another account or
// replayed to another action is refused), and the expiry. The key comes from
// REBOUND_LINK_SECRET (at least 32 bytes); changing it invalidates every link sent.
package link

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/reboundhq/rebound/events"
)

// Action is what a link does. Actions are persisted in links already sent: never rename one.
type Action string

// The actions.
const (
	// MapShipMethod maps the ship method an order alert is about, releasing every order held on it.
	MapShipMethod Action = "map-ship-method"
	// CorrectAddress corrects the ship-to address of an order alert's order.
	CorrectAddress Action = "correct-address"
	// Resend sends an alert's record again.
	Resend Action = "resend"
	// Dismiss dismisses an alert.
	Dismiss Action = "dismiss"
	// Unsubscribe sets a contact's frequency to off.
	Unsubscribe Action = "unsubscribe"
)

// Actions lists every action.
var Actions = []Action{MapShipMethod, CorrectAddress, Resend, Dismiss, Unsubscribe}

// Valid reports whether a is a known action.
func (a Action) Valid() bool {
	for _, x := range Actions {
		if a == x {
			return true
		}
	}
	return false
}

// Errors Verify returns; each wraps ErrInvalid.
var (
	// ErrInvalid is what every refusal wraps.
	ErrInvalid = errors.New("invalid link")
	// ErrMalformed means the token is not a link token at all.
	ErrMalformed = fmt.Errorf("%w: malformed", ErrInvalid)
	// ErrSignature means the token was not signed with this key (tampered, or signed elsewhere).
	ErrSignature = fmt.Errorf("%w: bad signature", ErrInvalid)
	// ErrWrongAccount means the link is used for another account than it was made for.
	ErrWrongAccount = fmt.Errorf("%w: made for another account", ErrInvalid)
	// ErrWrongAction means the link is used for another action than it was made for.
	ErrWrongAction = fmt.Errorf("%w: made for another action", ErrInvalid)
	// ErrExpired means the link's time is up.
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalid)
)

// MinSecretLen is the shortest secret accepted.
const MinSecretLen = 32

// DefaultTTL is how long a link is valid.
const DefaultTTL = 7 * 24 * time.Hour

// Link is what a verified token says.
type Link struct {
	Action  Action
	Account string
	// Target is the alert id, or the contact id for Unsubscribe.
	Target string
	// Contact is the contact the email went to (the actor of what the link does).
	Contact string
	Expires time.Time
}

// Signer makes and checks links. It is safe for concurrent use.
type Signer struct {
	key  []byte
	base string
}

// NewSigner returns a signer with secret, for links under baseURL (e.g. "http://127.0.0.1:8080").
func NewSigner(secret []byte, baseURL string) (*Signer, error) {
	var errs []error
	if len(secret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("link: the secret (REBOUND_LINK_SECRET) has %d bytes; want at least %d", len(secret), MinSecretLen))
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("link: base URL %q must be an absolute http(s) URL", baseURL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Signer{key: append([]byte(nil), secret...), base: strings.TrimRight(baseURL, "/")}, nil
}

const prefix = "v1."

// Token signs l.
func (s *Signer) Token(l Link) (string, error) {
	if !l.Action.Valid() {
		return "", fmt.Errorf("link: unknown action %q", l.Action)
	}
	for name, v := range map[string]string{"account": l.Account, "target": l.Target, "contact": l.Contact} {
		if !events.ValidToken(v) {
			return "", fmt.Errorf("link: %s %q must be 1-128 characters of A-Z a-z 0-9 _ -", name, v)
		}
	}
	payload := strings.Join([]string{string(l.Action), l.Account, l.Target, l.Contact, strconv.FormatInt(l.Expires.Unix(), 10)}, "|")
	enc := base64.RawURLEncoding
	return prefix + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(s.mac(payload)), nil
}

// URL returns the link's URL.
func (s *Signer) URL(l Link) (string, error) {
	tok, err := s.Token(l)
	if err != nil {
		return "", err
	}
	return s.base + Path(l.Account, l.Action) + "?t=" + url.QueryEscape(tok), nil
}

// Path returns the path of the page of an action for an account.
func Path(account string, a Action) string { return "/links/" + account + "/" + string(a) }

func (s *Signer) mac(payload string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte("rebound-link-v1|"))
	h.Write([]byte(payload))
	return h.Sum(nil)
}

// Verify checks a token used on the page of action for account at now.
func (s *Signer) Verify(token, account string, action Action, now time.Time) (Link, error) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok || len(token) > 1024 {
		return Link{}, ErrMalformed
	}
	p64, m64, ok := strings.Cut(rest, ".")
	if !ok {
		return Link{}, ErrMalformed
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p64)
	mac, err2 := enc.DecodeString(m64)
	if err1 != nil || err2 != nil || len(mac) != sha256.Size {
		return Link{}, ErrMalformed
	}
	if !hmac.Equal(mac, s.mac(string(payload))) {
		return Link{}, ErrSignature
	}
	parts := strings.Split(string(payload), "|")
	if len(parts) != 5 {
		return Link{}, ErrMalformed
	}
	exp, err := strconv.ParseInt(parts[4], 10, 64)
	if err != nil {
		return Link{}, ErrMalformed
	}
	l := Link{Action: Action(parts[0]), Account: parts[1], Target: parts[2], Contact: parts[3], Expires: time.Unix(exp, 0).UTC()}
	if !l.Action.Valid() {
		return Link{}, ErrMalformed
	}
	if l.Account != account {
		return Link{}, ErrWrongAccount
	}
	if l.Action != action {
		return Link{}, ErrWrongAction
	}
	if !now.Before(l.Expires) {
		return Link{}, ErrExpired
	}
	return l, nil
}

// LoadOrCreateSecret returns the secret kept in dir/link-secret (hex), creating it with 32
// random bytes (mode 0600) the first time: how `rebound dev` gets a REBOUND_LINK_SECRET that
// survives restarts.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, "link-secret")
	b, err := os.ReadFile(path)
	if err == nil {
		secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(secret) < MinSecretLen {
			return nil, fmt.Errorf("link: %s does not hold a hex secret of at least %d bytes", path, MinSecretLen)
		}
		return secret, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("link: reading %s: %w", path, err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(secret)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("link: writing %s: %w", path, err)
	}
	return secret, nil
}

// ParseSecret turns REBOUND_LINK_SECRET into key bytes: hex when it is hex, else its bytes.
func ParseSecret(s string) []byte {
	if b, err := hex.DecodeString(s); err == nil && len(b) >= MinSecretLen {
		return b
	}
	return []byte(s)
}
