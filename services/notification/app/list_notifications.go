package app

import (
	"context"
	"slices"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/domain"
	"github.com/reboundhq/rebound/services/notification/domain/contact"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
)

// ListNotifications lists the notifications of an account's contacts.
type ListNotifications struct {
	Account string
	// ContactID, when set, keeps only that contact's.
	ContactID string
	// Limit is the most to return; default 50, at most 500.
	Limit int
}

// ListNotificationsHandler lists notifications.
type ListNotificationsHandler struct{ d Deps }

// Handle returns the notifications, newest first, from the mailboxes of the account's contacts.
func (h ListNotificationsHandler) Handle(ctx context.Context, q ListNotifications) ([]*notificationv1.Notification, error) {
	if err := checkAccount(q.Account); err != nil {
		return nil, err
	}
	if q.ContactID != "" && !events.ValidToken(q.ContactID) {
		return nil, domain.Invalid("contact_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", q.ContactID)
	}
	if q.Limit < 0 || q.Limit > 500 {
		return nil, domain.Invalid("page_size", "%d is not 0-500", q.Limit)
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	var ids []string
	if q.ContactID != "" {
		ids = []string{q.ContactID}
	} else if err := h.d.Books.View(ctx, contact.Stream(q.Account), func(b *contact.Book) {
		for _, c := range b.List() {
			ids = append(ids, c.GetContactId())
		}
	}); err != nil {
		return nil, err
	}
	var out []*notificationv1.Notification
	for _, id := range ids {
		if err := h.d.Mailboxes.View(ctx, mailbox.Stream(q.Account, id), func(m *mailbox.Mailbox) {
			out = append(out, m.Notifications()...)
		}); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(out, func(a, b *notificationv1.Notification) int {
		return b.GetIntendedAt().AsTime().Compare(a.GetIntendedAt().AsTime())
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}
