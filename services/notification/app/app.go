// Package app is the notification service's application layer: one command or query per file,
// each a handler that drives the domain (contact books and mailboxes) through repositories, the
// mailer, the wake timers, the fixer and the service's clock. Inbound adapters (bus handlers,
// timers, gRPC, link pages) call it; outbound adapters implement its ports.
//
// Commands caused by an event take its envelope and store their events with
// events.CausedBy(envelope), so a redelivered input is recognised per mailbox
// (aggregate.ErrAlreadyApplied) and never applied twice. Errors are classified for the caller:
// validation errors wrap events.ErrInvalidArgument, link refusals wrap link.ErrInvalid, a
// duplicate email domain.ErrContactExists, everything else is infrastructure and retryable.
package app

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/notification/domain/contact"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
	"github.com/reboundhq/rebound/services/notification/link"
)

// Repository loads and saves the aggregates of one type (events/aggregate.Repository).
type Repository[A aggregate.Root] interface {
	// Update runs fn on the aggregate and stores what it raised; see aggregate.Repository.Update. The
	// aggregate may be read only inside fn.
	Update(ctx context.Context, stream events.StreamID, meta events.Metadata, fn func(A) error) error
	// View runs fn on the aggregate as last known, without changing it.
	View(ctx context.Context, stream events.StreamID, fn func(A)) error
}

// Mailer renders and sends a notification's email (outbound/email over outbound/smtp). Send
// returns the email's Message-ID; the same notification always renders the same email. An error
// wrapping ErrPermanent (the server refused the recipient or the message for good) is not
// retried; any other is.
type Mailer interface {
	Send(ctx context.Context, n *notificationv1.NotificationIntended) (messageID string, err error)
}

// ErrPermanent marks delivery failures no retry can fix.
var ErrPermanent = errors.New("permanent delivery failure")

// Wakes arms a mailbox's wake timer (outbound/wake): when it fires, the mailbox sends what is
// due (Wake). Schedule replaces the timer the mailbox had.
type Wakes interface {
	Schedule(ctx context.Context, stream events.StreamID, at time.Time) error
}

// Fixer performs what link pages offer, through the services that own the records: the orders
// service (ship-method mappings, order edits, resends) and the alerts service (alerts, dismissals,
// resends of other records). Its implementations call their gRPC APIs (outbound/fixer), so the
// pages go through the same application commands as gRPC clients. Errors wrapping
// events.ErrNotFound, events.ErrInvalidArgument and ErrRefused are shown to the person.
type Fixer interface {
	// Alert returns an alert of account.
	Alert(ctx context.Context, account, alertID string) (*alertsv1.Alert, error)
	// Order returns an order of account.
	Order(ctx context.Context, account, orderID string) (*ordersv1.Order, error)
	// MapShipMethod maps a cart connection's ship method code to a WMS ship method, which
	// releases every order held on it.
	MapShipMethod(ctx context.Context, account, cartConnectionID, code, wmsMethod, actor string) error
	// CorrectAddress replaces an order's ship-to address (an edit, which sends it again).
	CorrectAddress(ctx context.Context, account, orderID string, address *ordersv1.Address, actor string) error
	// ResendToWMS sends an order to the WMS again.
	ResendToWMS(ctx context.Context, account, orderID, actor string) error
	// ResendRecord sends an alert's record again (records other than orders).
	ResendRecord(ctx context.Context, account, alertID, actor string) error
	// DismissAlert dismisses an alert.
	DismissAlert(ctx context.Context, account, alertID, reason, actor string) error
}

// ErrRefused means the service that owns a record refused the action (wrong state, bad input);
// the page shows the reason.
var ErrRefused = errors.New("refused")

// Clock tells the service's time.
type Clock interface{ Now() time.Time }

// Deps are what the application works with.
type Deps struct {
	Books     Repository[*contact.Book]
	Mailboxes Repository[*mailbox.Mailbox]
	Mailer    Mailer
	Wakes     Wakes
	// Links signs and verifies the links emails carry.
	Links *link.Signer
	// Fixer performs link pages' actions; nil disables them (the pages say so).
	Fixer Fixer
	Clock Clock
	// NewID makes contact ids.
	NewID func() string
	Log   *slog.Logger

	sends *stripes
}

func (d Deps) validate() error {
	var errs []error
	if d.Books == nil || d.Mailboxes == nil {
		errs = append(errs, errors.New("app: the contact book and mailbox repositories are required"))
	}
	if d.Mailer == nil {
		errs = append(errs, errors.New("app: a mailer is required"))
	}
	if d.Wakes == nil {
		errs = append(errs, errors.New("app: wake timers are required"))
	}
	if d.Links == nil {
		errs = append(errs, errors.New("app: a link signer is required"))
	}
	if d.Clock == nil {
		errs = append(errs, errors.New("app: a clock is required"))
	}
	if d.NewID == nil {
		errs = append(errs, errors.New("app: an id maker is required"))
	}
	return errors.Join(errs...)
}

// Application is the notification service's commands and queries.
type Application struct {
	Commands Commands
	Queries  Queries
}

// Commands change contacts and mailboxes, or act through links.
type Commands struct {
	AddContact    AddContactHandler
	UpdateContact UpdateContactHandler
	RemoveContact RemoveContactHandler
	QueueAlert    QueueAlertHandler
	CloseAlert    CloseAlertHandler
	CoverAlert    CoverAlertHandler
	Wake          WakeHandler
	Fix           FixHandler
}

// Queries read contacts, notifications and links.
type Queries struct {
	ListContacts      ListContactsHandler
	ListNotifications ListNotificationsHandler
	OpenLink          OpenLinkHandler
}

// New returns the application over d.
func New(d Deps) (*Application, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	d.sends = &stripes{}
	return &Application{
		Commands: Commands{
			AddContact:    AddContactHandler{d},
			UpdateContact: UpdateContactHandler{d},
			RemoveContact: RemoveContactHandler{d},
			QueueAlert:    QueueAlertHandler{d},
			CloseAlert:    CloseAlertHandler{d},
			CoverAlert:    CoverAlertHandler{d},
			Wake:          WakeHandler{d},
			Fix:           FixHandler{d},
		},
		Queries: Queries{
			ListContacts:      ListContactsHandler{d},
			ListNotifications: ListNotificationsHandler{d},
			OpenLink:          OpenLinkHandler{d},
		},
	}, nil
}

// stripes are per-mailbox locks: one delivery at a time per mailbox in the process.
type stripes [256]sync.Mutex

func (s *stripes) lock(stream events.StreamID) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(stream.String()))
	return &s[h.Sum32()%uint32(len(s))]
}

// applied turns aggregate.ErrAlreadyApplied (a redelivered input) into success.
func applied(err error) (bool, error) {
	if errors.Is(err, aggregate.ErrAlreadyApplied) {
		return true, nil
	}
	return false, err
}

// contactOf returns a contact of account, or nil when the book has none such.
func (d Deps) contactOf(ctx context.Context, account, id string) (*notificationv1.Contact, error) {
	var c *notificationv1.Contact
	if err := d.Books.View(ctx, contact.Stream(account), func(b *contact.Book) { c, _ = b.Get(id) }); err != nil {
		return nil, fmt.Errorf("loading the contacts of %s: %w", account, err)
	}
	return c, nil
}

// recipients returns the contacts an alert of account (served by warehouse) goes to: the
// account's and its warehouse's.
func (d Deps) recipients(ctx context.Context, account, warehouse string) ([]*notificationv1.Contact, error) {
	var out []*notificationv1.Contact
	for _, a := range []string{account, warehouse} {
		if a == "" || (a == warehouse && warehouse == account) || !events.ValidToken(a) {
			continue
		}
		if err := d.Books.View(ctx, contact.Stream(a), func(b *contact.Book) { out = append(out, b.List()...) }); err != nil {
			return nil, fmt.Errorf("loading the contacts of %s: %w", a, err)
		}
	}
	return out, nil
}

// maxParallel bounds the mailboxes one command updates at once.
const maxParallel = 8

// parallel runs fn(0) ... fn(n-1), at most maxParallel at a time, and joins their errors.
func parallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
