package app

import (
	"context"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/domain/contact"
)

// RemoveContact removes a contact.
type RemoveContact struct {
	Account   string
	ContactID string
	Actor     string
}

// RemoveContactHandler removes contacts.
type RemoveContactHandler struct{ d Deps }

// Handle removes the contact; it receives nothing from then on (what was intended for it is
// given up when its wake timer fires). An unknown contact is events.ErrNotFound.
func (h RemoveContactHandler) Handle(ctx context.Context, cmd RemoveContact) error {
	if err := (UpdateContact{Account: cmd.Account, ContactID: cmd.ContactID}).Validate(); err != nil {
		return err
	}
	now := h.d.Clock.Now()
	return h.d.Books.Update(ctx, contact.Stream(cmd.Account), events.Metadata{}, func(b *contact.Book) error {
		return b.Remove(cmd.ContactID, cmd.Actor, now)
	})
}
