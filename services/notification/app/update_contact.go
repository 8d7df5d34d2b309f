package app

import (
	"context"
	"errors"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/domain"
	"github.com/reboundhq/rebound/services/notification/domain/contact"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
)

// UpdateContact changes a contact.
type UpdateContact struct {
	Account   string
	ContactID string
	Settings  contact.Settings
	// Mask names the fields of Settings to apply (contact.Fields); empty means all.
	Mask []string
	// Actor is who changes it: "api-key:<key id>", or "link:<contact id>" for an unsubscribe link.
	Actor string
}

// Validate reports every problem with the command's arguments (the settings are validated once
// merged with the contact).
func (c UpdateContact) Validate() error {
	errs := []error{checkAccount(c.Account)}
	if !events.ValidToken(c.ContactID) {
		errs = append(errs, domain.Invalid("contact_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", c.ContactID))
	}
	return errors.Join(errs...)
}

// UpdateContactHandler changes contacts.
type UpdateContactHandler struct{ d Deps }

// Handle changes the contact, re-arms its mailbox's wake timer for its (maybe new) cadence and
// returns the contact. An unknown contact is events.ErrNotFound.
func (h UpdateContactHandler) Handle(ctx context.Context, cmd UpdateContact) (*notificationv1.Contact, error) {
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	now := h.d.Clock.Now()
	var out *notificationv1.Contact
	err := h.d.Books.Update(ctx, contact.Stream(cmd.Account), events.Metadata{}, func(b *contact.Book) error {
		c, err := b.Update(cmd.ContactID, cmd.Settings, cmd.Mask, cmd.Actor, now)
		out = c
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := h.d.rearm(ctx, mailbox.Stream(cmd.Account, cmd.ContactID), out); err != nil {
		return nil, err
	}
	return out, nil
}
