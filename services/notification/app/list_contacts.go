package app

import (
	"context"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/services/notification/domain/contact"
)

// ListContacts lists an account's contacts.
type ListContacts struct{ Account string }

// ListContactsHandler lists contacts.
type ListContactsHandler struct{ d Deps }

// Handle returns the account's contacts, sorted by email.
func (h ListContactsHandler) Handle(ctx context.Context, q ListContacts) ([]*notificationv1.Contact, error) {
	if err := checkAccount(q.Account); err != nil {
		return nil, err
	}
	var out []*notificationv1.Contact
	if err := h.d.Books.View(ctx, contact.Stream(q.Account), func(b *contact.Book) { out = b.List() }); err != nil {
		return nil, err
	}
	return out, nil
}
