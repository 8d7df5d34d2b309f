// Package smtp sends emails over real SMTP (net/smtp): STARTTLS (required by default), implicit
// TLS, and PLAIN authentication, configured by one URL (REBOUND_SMTP_URL):
//
//	smtp://user:password@mail.example.com:587            STARTTLS required, then AUTH PLAIN
//	smtp://mail.example.com:25?starttls=opportunistic    STARTTLS when offered
//	smtp://127.0.0.1:2525?starttls=none                  plain text (the dev catcher)
//	smtps://user:password@mail.example.com:465           implicit TLS
//
// A from=<address> query parameter sets the envelope and header sender. Credentials are only
// sent over TLS (or to localhost): net/smtp's PLAIN refuses anything else. A reply 5xx to the
// sender, a recipient or the message is permanent (wraps app.ErrPermanent); every other failure
// (connection, TLS, 4xx, timeouts) is worth retrying.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strconv"
	"time"

	"github.com/reboundhq/rebound/services/notification/app"
)

// EnvURL is the environment variable of the server's URL.
const EnvURL = "REBOUND_SMTP_URL"

// DefaultFrom is the sender when the URL names none.
const DefaultFrom = "rebound@localhost"

// Config configures a Sender.
type Config struct {
	// URL is the server (see the package documentation). Required.
	URL string
	// TLS is the TLS configuration for STARTTLS and smtps; nil verifies the server against the
	// system's roots. ServerName defaults to the URL's host.
	TLS *tls.Config
	// Timeout bounds one whole send; default 30 s.
	Timeout time.Duration
	// LocalName is the name sent in EHLO; default "localhost".
	LocalName string
}

type tlsMode int

const (
	starttlsRequired tlsMode = iota
	starttlsOpportunistic
	plainText
	implicitTLS
)

// Sender sends emails to one server. It is safe for concurrent use (one connection per send).
type Sender struct {
	cfg      Config
	addr     string
	host     string
	mode     tlsMode
	user     string
	password string
	from     string
}

// New parses cfg.URL and returns a sender; it does no I/O.
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("smtp: %s %q is not a URL like smtp://user:password@host:587", EnvURL, redact(cfg.URL))
	}
	s := &Sender{cfg: cfg, host: u.Hostname(), from: DefaultFrom}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
		switch st := u.Query().Get("starttls"); st {
		case "", "required":
			s.mode = starttlsRequired
		case "opportunistic":
			s.mode = starttlsOpportunistic
		case "none":
			s.mode = plainText
		default:
			return nil, fmt.Errorf("smtp: %s: starttls=%q must be required, opportunistic or none", EnvURL, st)
		}
	case "smtps":
		if port == "" {
			port = "465"
		}
		s.mode = implicitTLS
	default:
		return nil, fmt.Errorf("smtp: %s: scheme %q must be smtp or smtps", EnvURL, u.Scheme)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("smtp: %s: port %q is not a port", EnvURL, port)
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
	}
	if f := u.Query().Get("from"); f != "" {
		a, err := mail.ParseAddress(f)
		if err != nil {
			return nil, fmt.Errorf("smtp: %s: from=%q is not an email address", EnvURL, f)
		}
		s.from = a.Address
	}
	if s.cfg.Timeout == 0 {
		s.cfg.Timeout = 30 * time.Second
	}
	if s.cfg.LocalName == "" {
		s.cfg.LocalName = "localhost"
	}
	return s, nil
}

// From returns the sender address.
func (s *Sender) From() string { return s.from }

// Addr returns the server's host:port.
func (s *Sender) Addr() string { return s.addr }

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

func (s *Sender) tlsConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.cfg.TLS != nil {
		c = s.cfg.TLS.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = s.host
	}
	return c
}

// Send delivers one message (data: the whole RFC 5322 message) from the sender to to.
func (s *Sender) Send(ctx context.Context, to string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("smtp: connecting to %s: %w", s.addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if s.mode == implicitTLS {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("smtp: TLS with %s: %w", s.addr, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return s.fail("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.LocalName); err != nil {
		return s.fail("EHLO", err)
	}
	if s.mode == starttlsRequired || s.mode == starttlsOpportunistic {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return s.fail("STARTTLS", err)
			}
		} else if s.mode == starttlsRequired {
			return fmt.Errorf("smtp: %s does not offer STARTTLS, which %s requires (add ?starttls=opportunistic or none to allow plain text)", s.addr, EnvURL)
		}
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.password, s.host)); err != nil {
			return s.fail("AUTH", err)
		}
	}
	if err := c.Mail(s.from); err != nil {
		return s.permanent("MAIL FROM", err)
	}
	if err := c.Rcpt(to); err != nil {
		return s.permanent("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return s.permanent("DATA", err)
	}
	if _, err := w.Write(data); err != nil {
		return s.fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return s.permanent("end of DATA", err)
	}
	_ = c.Quit()
	return nil
}

func (s *Sender) fail(step string, err error) error {
	return fmt.Errorf("smtp: %s at %s: %w", step, s.addr, err)
}

// permanent marks 5xx replies as permanent failures.
func (s *Sender) permanent(step string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		return fmt.Errorf("smtp: %s at %s: %w: %w", step, s.addr, app.ErrPermanent, err)
	}
	return s.fail(step, err)
}
