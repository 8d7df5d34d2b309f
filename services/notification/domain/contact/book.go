// Package contact is an account's contact book: the alert contacts of one merchant or
// warehouse account, one stream per account (evt.contacts.<account>.book.<EventType>). A
// contact has an email (unique within the book), a name, a time zone and a frequency; contacts
// without a login cannot be emailed more often than every 30 minutes.
package contact

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/notification/domain"
	"github.com/reboundhq/rebound/services/notification/domain/cadence"
)

// AggregateType is the aggregate type of contact books. A persisted identifier.
const AggregateType = "contacts"

// BookID is the id of an account's one contact book stream.
const BookID = "book"

// MaxContacts bounds the contacts of one account.
const MaxContacts = 200

// Limits on a contact's fields.
const (
	MaxEmailLen = 254
	MaxNameLen  = 200
)

// Stream returns the contact book stream of an account.
func Stream(account string) events.StreamID {
	return events.StreamID{AggregateType: AggregateType, Account: account, ID: BookID}
}

// EventTypes lists the events a contact book stores.
func EventTypes() []proto.Message {
	return []proto.Message{&notificationv1.ContactAdded{}, &notificationv1.ContactUpdated{}, &notificationv1.ContactRemoved{}}
}

// Settings are what a caller sets on a contact.
type Settings struct {
	Email     string
	Name      string
	TimeZone  string
	Frequency notificationv1.Frequency
	DailyHour uint32
	HasLogin  bool
}

// SettingsOf returns the settings of a contact.
func SettingsOf(c *notificationv1.Contact) Settings {
	return Settings{Email: c.GetEmail(), Name: c.GetName(), TimeZone: c.GetTimeZone(), Frequency: c.GetFrequency(),
		DailyHour: c.GetDailyHour(), HasLogin: c.GetHasLogin()}
}

// Fields are the settable field names, as update masks name them.
var Fields = []string{"email", "name", "time_zone", "frequency", "daily_hour", "has_login"}

// Validate reports every problem with the settings; field names are prefixed with prefix
// ("contact.").
func (s Settings) Validate(prefix string) error {
	var errs []error
	if s.Email == "" {
		errs = append(errs, domain.Invalid(prefix+"email", "is required"))
	} else if a, err := mail.ParseAddress(s.Email); err != nil || a.Address != s.Email || len(s.Email) > MaxEmailLen {
		errs = append(errs, domain.Invalid(prefix+"email", "%q is not a plain email address of at most %d characters", s.Email, MaxEmailLen))
	}
	if len(s.Name) > MaxNameLen || strings.ContainsAny(s.Name, "\r\n") {
		errs = append(errs, domain.Invalid(prefix+"name", "must be one line of at most %d characters", MaxNameLen))
	}
	if _, err := cadence.LoadLocation(s.TimeZone); err != nil {
		errs = append(errs, domain.Invalid(prefix+"time_zone", "%v; want an IANA zone such as Europe/Berlin", err))
	}
	switch s.Frequency {
	case notificationv1.Frequency_FREQUENCY_IMMEDIATE:
		if !s.HasLogin {
			errs = append(errs, domain.Invalid(prefix+"frequency", "immediate needs a contact with a login; contacts without one are emailed at most every 30 minutes"))
		}
	case notificationv1.Frequency_FREQUENCY_EVERY_30_MINUTES, notificationv1.Frequency_FREQUENCY_HOURLY,
		notificationv1.Frequency_FREQUENCY_DAILY, notificationv1.Frequency_FREQUENCY_OFF:
	default:
		errs = append(errs, domain.Invalid(prefix+"frequency", "is required: immediate, every_30_minutes, hourly, daily or off"))
	}
	if s.DailyHour > 23 {
		errs = append(errs, domain.Invalid(prefix+"daily_hour", "%d is not an hour 0-23", s.DailyHour))
	}
	return errors.Join(errs...)
}

// Book is an account's contact book. Not safe for concurrent use.
type Book struct {
	aggregate.Recorder
	stream   events.StreamID
	contacts map[string]*notificationv1.Contact
}

var _ aggregate.Root = (*Book)(nil)

// New returns an empty book for stream.
func New(stream events.StreamID) *Book {
	return &Book{stream: stream, contacts: map[string]*notificationv1.Contact{}}
}

// Account returns the book's account.
func (b *Book) Account() string { return b.stream.Account }

// Get returns a copy of the contact, and false when the book has no such contact.
func (b *Book) Get(id string) (*notificationv1.Contact, bool) {
	c, ok := b.contacts[id]
	if !ok {
		return nil, false
	}
	return proto.CloneOf(c), true
}

// List returns copies of every contact, sorted by email.
func (b *Book) List() []*notificationv1.Contact {
	out := make([]*notificationv1.Contact, 0, len(b.contacts))
	for _, c := range b.contacts {
		out = append(out, proto.CloneOf(c))
	}
	slices.SortFunc(out, func(x, y *notificationv1.Contact) int {
		return strings.Compare(x.GetEmail()+"\x00"+x.GetContactId(), y.GetEmail()+"\x00"+y.GetContactId())
	})
	return out
}

func (b *Book) byEmail(email, except string) bool {
	for id, c := range b.contacts {
		if id != except && strings.EqualFold(c.GetEmail(), email) {
			return true
		}
	}
	return false
}

// Add adds a contact with id (made by the caller) and returns it.
func (b *Book) Add(id string, s Settings, actor string, now time.Time) (*notificationv1.Contact, error) {
	if err := s.Validate("contact."); err != nil {
		return nil, err
	}
	if !events.ValidToken(id) {
		return nil, domain.Invalid("contact_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", id)
	}
	if b.byEmail(s.Email, "") {
		return nil, fmt.Errorf("account %s already has a contact %s: %w", b.stream.Account, s.Email, domain.ErrContactExists)
	}
	if _, ok := b.contacts[id]; ok {
		return nil, fmt.Errorf("account %s already has a contact %s: %w", b.stream.Account, id, domain.ErrContactExists)
	}
	if len(b.contacts) >= MaxContacts {
		return nil, fmt.Errorf("account %s has %d contacts, the most it may have: %w", b.stream.Account, MaxContacts, domain.ErrWrongState)
	}
	c := &notificationv1.Contact{ContactId: id, AccountId: b.stream.Account, CreatedAt: timestamppb.New(now), UpdatedAt: timestamppb.New(now)}
	set(c, s, Fields)
	b.raise(&notificationv1.ContactAdded{Contact: c, Actor: actor})
	return proto.CloneOf(c), nil
}

// Update applies the fields mask names (every field when empty) from s and returns the contact
// after the change; a change that changes nothing raises nothing.
func (b *Book) Update(id string, s Settings, mask []string, actor string, now time.Time) (*notificationv1.Contact, error) {
	if len(mask) == 0 {
		mask = Fields
	}
	for i, f := range mask {
		if !slices.Contains(Fields, f) {
			return nil, domain.Invalid(fmt.Sprintf("update_mask[%d]", i), "%q is not one of %s", f, strings.Join(Fields, ", "))
		}
	}
	cur, ok := b.contacts[id]
	if !ok {
		return nil, fmt.Errorf("contact %s of account %s: %w", id, b.stream.Account, events.ErrNotFound)
	}
	next := proto.CloneOf(cur)
	set(next, s, mask)
	if err := SettingsOf(next).Validate("contact."); err != nil {
		return nil, err
	}
	if b.byEmail(next.GetEmail(), id) {
		return nil, fmt.Errorf("account %s already has a contact %s: %w", b.stream.Account, next.GetEmail(), domain.ErrContactExists)
	}
	var changed []string
	before, after := SettingsOf(cur), SettingsOf(next)
	for _, f := range Fields {
		if field(before, f) != field(after, f) {
			changed = append(changed, f)
		}
	}
	if len(changed) == 0 {
		return proto.CloneOf(cur), nil
	}
	next.UpdatedAt = timestamppb.New(now)
	b.raise(&notificationv1.ContactUpdated{Contact: next, ChangedFields: changed, Actor: actor})
	return proto.CloneOf(next), nil
}

// Remove removes the contact.
func (b *Book) Remove(id, actor string, now time.Time) error {
	c, ok := b.contacts[id]
	if !ok {
		return fmt.Errorf("contact %s of account %s: %w", id, b.stream.Account, events.ErrNotFound)
	}
	b.raise(&notificationv1.ContactRemoved{ContactId: id, AccountId: b.stream.Account, Email: c.GetEmail(),
		Actor: actor, RemovedAt: timestamppb.New(now)})
	return nil
}

func (b *Book) raise(m proto.Message) {
	_ = b.apply(m)
	b.Raise(m)
}

// Apply folds one stored event.
func (b *Book) Apply(r events.Record) error {
	if err := r.Decoded(); err != nil {
		return err
	}
	return b.apply(r.Message)
}

func (b *Book) apply(m proto.Message) error {
	switch e := m.(type) {
	case *notificationv1.ContactAdded:
		b.contacts[e.GetContact().GetContactId()] = proto.CloneOf(e.GetContact())
	case *notificationv1.ContactUpdated:
		b.contacts[e.GetContact().GetContactId()] = proto.CloneOf(e.GetContact())
	case *notificationv1.ContactRemoved:
		delete(b.contacts, e.GetContactId())
	default:
		return fmt.Errorf("contact book: unexpected event %T", m)
	}
	return nil
}

func set(c *notificationv1.Contact, s Settings, mask []string) {
	for _, f := range mask {
		switch f {
		case "email":
			c.Email = s.Email
		case "name":
			c.Name = s.Name
		case "time_zone":
			c.TimeZone = s.TimeZone
			if c.TimeZone == "" {
				c.TimeZone = "UTC"
			}
		case "frequency":
			c.Frequency = s.Frequency
		case "daily_hour":
			c.DailyHour = s.DailyHour
		case "has_login":
			c.HasLogin = s.HasLogin
		}
	}
}

func field(s Settings, f string) any {
	switch f {
	case "email":
		return s.Email
	case "name":
		return s.Name
	case "time_zone":
		return s.TimeZone
	case "frequency":
		return s.Frequency
	case "daily_hour":
		return s.DailyHour
	default:
		return s.HasLogin
	}
}
