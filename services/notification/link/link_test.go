package link_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/services/notification/link"
)

func TestSigner_roundTripAndRefusals(t *testing.T) {
	t.Parallel()
	s, err := link.NewSigner([]byte("0123456789abcdef0123456789abcdef"), "https://rebound.example")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0).UTC()
	l := link.Link{Action: link.Dismiss, Account: "acme", Target: "alt-1", Contact: "c1", Expires: now.Add(time.Hour)}
	u, err := s.URL(l)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "https://rebound.example/links/acme/dismiss?t=v1.") {
		t.Fatalf("URL %s", u)
	}
	p, _ := url.Parse(u)
	tok := p.Query().Get("t")
	got, err := s.Verify(tok, "acme", link.Dismiss, now)
	if err != nil || got != l {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, l)
	}
	other, _ := link.NewSigner([]byte("another secret, 32 bytes or more!!"), "https://rebound.example")
	for name, tc := range map[string]struct {
		tok, account string
		action       link.Action
		at           time.Time
		want         error
	}{
		"expired":        {tok, "acme", link.Dismiss, now.Add(time.Hour), link.ErrExpired},
		"other account":  {tok, "evil", link.Dismiss, now, link.ErrWrongAccount},
		"other action":   {tok, "acme", link.Resend, now, link.ErrWrongAction},
		"bit flipped":    {tok[:10] + flip(tok[10]) + tok[11:], "acme", link.Dismiss, now, link.ErrInvalid},
		"empty":          {"", "acme", link.Dismiss, now, link.ErrMalformed},
		"no signature":   {strings.Split(tok, ".")[0] + "." + strings.Split(tok, ".")[1], "acme", link.Dismiss, now, link.ErrMalformed},
		"other key":      {mustToken(t, other, l), "acme", link.Dismiss, now, link.ErrSignature},
		"separator sent": {tok + "|x", "acme", link.Dismiss, now, link.ErrMalformed},
	} {
		if _, err := s.Verify(tc.tok, tc.account, tc.action, tc.at); !errors.Is(err, tc.want) || !errors.Is(err, link.ErrInvalid) {
			t.Errorf("%s: Verify = %v; want %v", name, err, tc.want)
		}
	}
	if _, err := s.Token(link.Link{Action: link.Dismiss, Account: "a|b", Target: "x", Contact: "c", Expires: now}); err == nil {
		t.Error("a token with a separator in the account was signed")
	}
	if _, err := link.NewSigner([]byte("short"), "https://x"); err == nil {
		t.Error("a short secret was accepted")
	}
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

func mustToken(t *testing.T, s *link.Signer, l link.Link) string {
	t.Helper()
	tok, err := s.Token(l)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestLoadOrCreateSecret_keptInTheDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := link.LoadOrCreateSecret(dir)
	if err != nil || len(a) < link.MinSecretLen {
		t.Fatalf("LoadOrCreateSecret = %d bytes, %v", len(a), err)
	}
	b, err := link.LoadOrCreateSecret(dir)
	if err != nil || string(a) != string(b) {
		t.Fatalf("the secret changed across loads: %v", err)
	}
}
