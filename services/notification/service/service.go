// Package service wires the notification service for the rebound binary: its repositories, the
// application, its bus handler, NotificationService over gRPC, the link pages, the SMTP mailer
// and the wake timers.
//
//	svc, err := service.New(service.Deps{Store: store, JS: js, Fixer: fx, Log: log}, service.Config{
//		SMTPURL: os.Getenv("REBOUND_SMTP_URL"), LinkSecret: secret, BaseURL: "http://" + httpAddr})
//	for _, h := range svc.Handlers() { bus.Handle(h) } // on the process's one bus
//	svc.Register(srv)                                  // NotificationService + the link pages on srv.HTTPMux()
//	go svc.Run(ctx)                                    // wake timers (digests, retries)
package service

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/timer"
	"github.com/reboundhq/rebound/rpc/errmap"
	"github.com/reboundhq/rebound/rpc/server"
	"github.com/reboundhq/rebound/services/notification/app"
	"github.com/reboundhq/rebound/services/notification/domain"
	"github.com/reboundhq/rebound/services/notification/domain/contact"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
	"github.com/reboundhq/rebound/services/notification/inbound/consumers"
	"github.com/reboundhq/rebound/services/notification/inbound/grpcapi"
	"github.com/reboundhq/rebound/services/notification/inbound/pages"
	"github.com/reboundhq/rebound/services/notification/link"
	"github.com/reboundhq/rebound/services/notification/outbound/email"
	"github.com/reboundhq/rebound/services/notification/outbound/smtp"
	"github.com/reboundhq/rebound/services/notification/outbound/wake"
)

// Clock tells the service's time.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }

// Timers are the mailboxes' wake timers: Schedule arms one, Run hands firings to fn until ctx
// ends. The default is outbound/wake on events/timer.
type Timers interface {
	app.Wakes
	Run(ctx context.Context, fn func(ctx context.Context, stream events.StreamID, due time.Time) error) error
}

// Deps are what the process hands the service.
type Deps struct {
	// Store is the event store (its registry must know every type in Registry).
	Store events.Store
	// JS is the JetStream context the wake timers use (not needed with Timers).
	JS jetstream.JetStream
	// Fixer performs the link pages' actions (outbound/fixer: gRPC clients of the alerts and
	// orders services); nil makes those pages answer 503 (unsubscribe still works).
	Fixer app.Fixer
	// Log receives the service's log; nil discards it.
	Log *slog.Logger
	// Clock is the service's time; nil is the system clock.
	Clock Clock
	// Timers replaces the wake timers (tests drive them with a fake clock).
	Timers Timers
	// Transport replaces the SMTP sender (Config.SMTPURL is then not needed).
	Transport email.Transport
}

// Config configures the service.
type Config struct {
	// SMTPURL is the SMTP server (REBOUND_SMTP_URL; see outbound/smtp). Required unless
	// Deps.Transport is set.
	SMTPURL string
	// SMTPTLS is the TLS configuration for the SMTP server; nil verifies it against the system.
	SMTPTLS *tls.Config
	// LinkSecret signs links (REBOUND_LINK_SECRET, at least 32 bytes; link.LoadOrCreateSecret
	// keeps one in the data dir for `rebound dev`). Required.
	LinkSecret []byte
	// BaseURL is where the link pages are served, e.g. "http://127.0.0.1:8080" (the address of
	// REBOUND_HTTP_ADDR as people reach it). Required.
	BaseURL string
	// LinkTTL is how long links are valid; default 7 days.
	LinkTTL time.Duration
	// MailFrom is the From address; default the SMTP URL's from= or rebound@localhost.
	MailFrom string
	// MailFromName is the From name; default "Rebound".
	MailFromName string
	// Mailbox is the notification policy (reminders, retries, claims).
	Mailbox mailbox.Config
	// Workers is how many alert events the bus handler processes at once; default 8.
	Workers int
	// Cache is how many contact books and mailboxes stay in memory; default 10 000.
	Cache int
	// Timer configures the timers stream the wake timers live on (default TIMERS).
	Timer timer.Config
}

// Defaults.
const (
	DefaultWorkers = 8
	DefaultCache   = 10_000
)

func (c *Config) setDefaults() {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Cache == 0 {
		c.Cache = DefaultCache
	}
	if c.LinkTTL == 0 {
		c.LinkTTL = link.DefaultTTL
	}
}

// Validate reports every problem with the configuration (the SMTP URL is checked by New).
func (c Config) Validate() error {
	c.setDefaults()
	errs := []error{c.Mailbox.Validate(), c.Timer.Validate()}
	if len(c.LinkSecret) < link.MinSecretLen {
		errs = append(errs, fmt.Errorf("notification: LinkSecret (REBOUND_LINK_SECRET) needs at least %d bytes", link.MinSecretLen))
	}
	if c.BaseURL == "" {
		errs = append(errs, errors.New("notification: BaseURL (where REBOUND_HTTP_ADDR is reached) is required"))
	}
	if c.Workers < 0 || c.Cache < 0 || c.LinkTTL < 0 {
		errs = append(errs, errors.New("notification: Workers, Cache and LinkTTL must not be negative"))
	}
	return errors.Join(errs...)
}

// Service is the notification service.
type Service struct {
	app     *app.Application
	timers  Timers
	pages   *pages.Pages
	workers int
	log     *slog.Logger
}

// New builds the service; it does no I/O (the timers stream is set up on first use).
func New(deps Deps, cfg Config) (*Service, error) {
	var errs []error
	if deps.Store == nil {
		errs = append(errs, errors.New("notification: Deps.Store is required"))
	}
	if deps.JS == nil && deps.Timers == nil {
		errs = append(errs, errors.New("notification: Deps.JS (or Deps.Timers) is required"))
	}
	if deps.Transport == nil && cfg.SMTPURL == "" {
		errs = append(errs, errors.New("notification: Config.SMTPURL (REBOUND_SMTP_URL) is required"))
	}
	errs = append(errs, cfg.Validate())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Clock == nil {
		deps.Clock = systemClock{}
	}
	log := deps.Log.With(slog.String("service", "notification"))

	signer, err := link.NewSigner(cfg.LinkSecret, cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	transport := deps.Transport
	from := cfg.MailFrom
	if cfg.SMTPURL != "" {
		s, err := smtp.New(smtp.Config{URL: cfg.SMTPURL, TLS: cfg.SMTPTLS})
		if err != nil {
			return nil, err
		}
		if transport == nil {
			transport = s
		}
		if from == "" {
			from = s.From()
		}
	}
	mailer, err := email.New(transport, signer, email.Config{From: from, FromName: cfg.MailFromName, LinkTTL: cfg.LinkTTL})
	if err != nil {
		return nil, err
	}
	factory, err := mailbox.NewFactory(cfg.Mailbox)
	if err != nil {
		return nil, err
	}
	books, err := aggregate.NewRepository(deps.Store, contact.New, aggregate.Config{CacheSize: cfg.Cache})
	if err != nil {
		return nil, err
	}
	boxes, err := aggregate.NewRepository(deps.Store, factory, aggregate.Config{CacheSize: cfg.Cache})
	if err != nil {
		return nil, err
	}
	timers := deps.Timers
	if timers == nil {
		t, err := wake.New(deps.JS, cfg.Timer, log.With(slog.String("component", "wake_timers")))
		if err != nil {
			return nil, err
		}
		timers = t
	}
	a, err := app.New(app.Deps{Books: books, Mailboxes: boxes, Mailer: mailer, Wakes: timers, Links: signer,
		Fixer: deps.Fixer, Clock: deps.Clock, NewID: newID, Log: log})
	if err != nil {
		return nil, err
	}
	return &Service{app: a, timers: timers, pages: pages.New(a, log.With(slog.String("component", "pages"))),
		workers: cfg.Workers, log: log}, nil
}

// newID makes a contact id: 16 random bytes, hex.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "c" + hex.EncodeToString(b)
}

// App returns the service's application (for tests and tools).
func (s *Service) App() *app.Application { return s.app }

// Handlers returns the bus handler to register on the process's bus: notification-alerts (see
// package consumers).
func (s *Service) Handlers() []bus.Handler { return consumers.Handlers(s.app, s.workers) }

// Register adds NotificationService to srv and marks it serving, and mounts the link pages on
// srv.HTTPMux(). It registers the domain's errors with errmap.Default (a server with its own
// Mapper registers them itself): ErrContactExists as AlreadyExists, ErrWrongState as
// FailedPrecondition.
func (s *Service) Register(srv *server.Server) {
	registerErrors.Do(func() {
		errmap.Register(codes.AlreadyExists, domain.ErrContactExists)
		errmap.RegisterPrecondition(domain.ErrWrongState)
	})
	notificationv1.RegisterNotificationServiceServer(srv.GRPC(), grpcapi.NewNotification(s.app))
	srv.SetServing(notificationv1.NotificationService_ServiceDesc.ServiceName)
	s.Pages(srv.HTTPMux())
}

var registerErrors sync.Once

// Pages mounts the link pages (/links/{account}/{action}) on mux. Register does it on the
// server's mux; call Pages only to serve them elsewhere.
func (s *Service) Pages(mux *http.ServeMux) { s.pages.Register(mux) }

// Run runs the wake timers until ctx ends, then returns nil once the firings in progress are
// handled.
func (s *Service) Run(ctx context.Context) error {
	if err := s.timers.Run(ctx, consumers.Wake(s.app)); err != nil {
		return fmt.Errorf("notification: wake timers: %w", err)
	}
	return nil
}

// EventTypes lists every event type the service reads or writes.
func EventTypes() []proto.Message {
	types := append(contact.EventTypes(), mailbox.EventTypes()...)
	return append(types, &alertsv1.AlertNeedsAttention{}, &alertsv1.AlertResolved{}, &alertsv1.AlertDismissed{},
		&alertsv1.AlertCoveredByOutage{}, &alertsv1.AlertUncovered{})
}

// Registry returns a registry of every event type the service reads or writes.
func Registry() *events.Registry { return events.NewRegistry(EventTypes()...) }
