// Package devmail is the mail catcher of `rebound dev` and of the tests: a real SMTP server
// (github.com/emersion/go-smtp) in the process that keeps what it receives in memory, and an
// inbox page on the process's HTTP server (/dev/mail) where a person reads it.
//
//	c, err := devmail.Start(devmail.Config{})       // 127.0.0.1 on a free port
//	smtpURL := c.URL()                               // smtp://127.0.0.1:<port>?starttls=none
//	c.Register(srv.HTTPMux())                        // GET /dev/mail, /dev/mail/{id}, .../html, .../raw
//	defer c.Close()
//
// With Config.TLS it offers STARTTLS, and with Config.Username it requires AUTH PLAIN (offered
// only over TLS), so tests exercise what a real relay asks for. Fail makes it refuse messages
// for a while (an SMTP server that is down or full).
package devmail

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Config configures a catcher.
type Config struct {
	// Addr is where it listens; default 127.0.0.1:0 (a free port).
	Addr string
	// TLS, when set, makes it offer STARTTLS.
	TLS *tls.Config
	// Username and Password, when set, make AUTH PLAIN required (over TLS only).
	Username, Password string
	// Keep is how many messages it keeps, newest first; default 500.
	Keep int
	// Log receives the catcher's log; nil discards it.
	Log *slog.Logger
}

// Message is a message the catcher received.
type Message struct {
	// ID numbers messages from 1 in the order they arrived.
	ID       int
	From     string
	To       []string
	Received time.Time
	// TLS and User say how it arrived: over TLS, and authenticated as whom.
	TLS  bool
	User string
	Raw  []byte
	*Parsed
}

// Parsed is a message's headers and the text and HTML of its parts.
type Parsed struct {
	Header  mail.Header
	Subject string
	Text    string
	HTML    string
}

// Catcher is a running catcher. It is safe for concurrent use.
type Catcher struct {
	cfg Config
	srv *smtp.Server
	ln  net.Listener
	log *slog.Logger

	mu      sync.Mutex
	msgs    []*Message
	next    int
	fail    *smtp.SMTPError
	changed chan struct{}
	done    chan struct{}
}

// Start starts a catcher.
func Start(cfg Config) (*Catcher, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Keep == 0 {
		cfg.Keep = 500
	}
	if cfg.Username != "" && cfg.TLS == nil {
		return nil, errors.New("devmail: AUTH needs TLS")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("devmail: listening on %s: %w", cfg.Addr, err)
	}
	c := &Catcher{cfg: cfg, ln: ln, log: log, next: 1, changed: make(chan struct{}), done: make(chan struct{})}
	s := smtp.NewServer(smtp.BackendFunc(func(conn *smtp.Conn) (smtp.Session, error) {
		return &session{c: c, conn: conn}, nil
	}))
	s.Domain = "rebound-devmail.localhost"
	s.TLSConfig = cfg.TLS
	s.ReadTimeout, s.WriteTimeout = time.Minute, time.Minute
	s.MaxMessageBytes = 10 << 20
	s.MaxRecipients = 100
	c.srv = s
	go func() {
		defer close(c.done)
		if err := s.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Error("devmail server stopped", slog.Any("error", err))
		}
	}()
	return c, nil
}

// Addr returns the host:port it listens on.
func (c *Catcher) Addr() string { return c.ln.Addr().String() }

// URL returns the REBOUND_SMTP_URL that sends to it.
func (c *Catcher) URL() string {
	switch {
	case c.cfg.Username != "":
		return fmt.Sprintf("smtp://%s:%s@%s", c.cfg.Username, c.cfg.Password, c.Addr())
	case c.cfg.TLS != nil:
		return "smtp://" + c.Addr()
	}
	return "smtp://" + c.Addr() + "?starttls=none"
}

// Close stops the server.
func (c *Catcher) Close() error {
	err := c.srv.Close()
	<-c.done
	return err
}

// Fail makes the catcher refuse every message with code (4xx: try later, 5xx: never) until
// Fail(0, "").
func (c *Catcher) Fail(code int, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if code == 0 {
		c.fail = nil
		return
	}
	c.fail = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: message}
}

func (c *Catcher) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail == nil {
		return nil
	}
	return c.fail
}

// Messages returns the messages kept, oldest first.
func (c *Catcher) Messages() []*Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Message(nil), c.msgs...)
}

// Message returns the message with id, or nil.
func (c *Catcher) Message(id int) *Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// Changed returns a channel closed at the next message.
func (c *Catcher) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

func (c *Catcher) add(m *Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.ID = c.next
	c.next++
	c.msgs = append(c.msgs, m)
	if len(c.msgs) > c.cfg.Keep {
		c.msgs = c.msgs[len(c.msgs)-c.cfg.Keep:]
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

type session struct {
	c    *Catcher
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string {
	if s.c.cfg.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || s.c.cfg.Username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.c.cfg.Username || password != s.c.cfg.Password {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.c.cfg.Username != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.c.failure(); err != nil {
		return err
	}
	p, perr := Parse(raw)
	if perr != nil {
		p = &Parsed{Text: string(raw)}
	}
	_, tlsOn := s.conn.TLSConnectionState()
	s.c.add(&Message{From: s.from, To: s.to, Received: time.Now(), TLS: tlsOn, User: s.user, Raw: raw, Parsed: p})
	s.c.log.Info("dev mail received", slog.String("from", s.from), slog.Any("to", s.to), slog.String("subject", p.Subject))
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// Parse reads a MIME message: its headers (Subject decoded) and its text/plain and text/html
// parts, decoded.
func Parse(raw []byte) (*Parsed, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	p := &Parsed{Header: msg.Header}
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		p.Subject = msg.Header.Get("Subject")
	}
	if err := p.part(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Parsed) part(contentType, encoding string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := p.part(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part); err != nil {
				return err
			}
		}
	}
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch mt {
	case "text/html":
		p.HTML = text
	case "text/plain":
		p.Text = text
	}
	return nil
}
