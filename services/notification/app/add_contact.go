package app

import (
	"context"
	"errors"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/domain"
	"github.com/reboundhq/rebound/services/notification/domain/contact"
)

// AddContact adds an alert contact to an account.
type AddContact struct {
	Account  string
	Settings contact.Settings
	// Actor is who adds it: "api-key:<key id>".
	Actor string
}

// Validate reports every problem with the command's arguments.
func (c AddContact) Validate() error {
	return errors.Join(checkAccount(c.Account), c.Settings.Validate("contact."))
}

// AddContactHandler adds contacts.
type AddContactHandler struct{ d Deps }

// Handle adds the contact and returns it. An email the account already has is
// domain.ErrContactExists.
func (h AddContactHandler) Handle(ctx context.Context, cmd AddContact) (*notificationv1.Contact, error) {
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	id := h.d.NewID()
	now := h.d.Clock.Now()
	var out *notificationv1.Contact
	err := h.d.Books.Update(ctx, contact.Stream(cmd.Account), events.Metadata{}, func(b *contact.Book) error {
		c, err := b.Add(id, cmd.Settings, cmd.Actor, now)
		out = c
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func checkAccount(account string) error {
	if !events.ValidToken(account) {
		return domain.Invalid("account_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", account)
	}
	return nil
}
