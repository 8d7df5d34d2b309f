// Package grpcapi serves rebound.notification.v1.NotificationService over the application.
// Every call is checked against the caller's API key before anything is loaded: a merchant or
// warehouse key manages its own account's contacts, an admin key every account's. Errors are
// plain Go errors; the server's errmap turns them into statuses (domain.ErrContactExists is
// registered as AlreadyExists by the service).
package grpcapi

import (
	"context"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/services/notification/app"
	"github.com/reboundhq/rebound/services/notification/domain/contact"
)

// Notification implements NotificationService.
type Notification struct {
	notificationv1.UnimplementedNotificationServiceServer
	app *app.Application
}

// NewNotification returns the service over a.
func NewNotification(a *app.Application) *Notification { return &Notification{app: a} }

// authorize checks that the caller may manage account's contacts and returns its actor name.
func authorize(ctx context.Context, account string) (string, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return "", auth.ErrUnauthenticated
	}
	if err := auth.Authorize(p, account, ""); err != nil {
		return "", err
	}
	return "api-key:" + p.KeyID, nil
}

func settings(s *notificationv1.ContactSettings) contact.Settings {
	return contact.Settings{Email: s.GetEmail(), Name: s.GetName(), TimeZone: s.GetTimeZone(), Frequency: s.GetFrequency(),
		DailyHour: s.GetDailyHour(), HasLogin: s.GetHasLogin()}
}

// AddContact implements NotificationService.
func (s *Notification) AddContact(ctx context.Context, req *notificationv1.AddContactRequest) (*notificationv1.AddContactResponse, error) {
	actor, err := authorize(ctx, req.GetAccountId())
	if err != nil {
		return nil, err
	}
	c, err := s.app.Commands.AddContact.Handle(ctx, app.AddContact{Account: req.GetAccountId(), Settings: settings(req.GetContact()), Actor: actor})
	if err != nil {
		return nil, err
	}
	return &notificationv1.AddContactResponse{Contact: c}, nil
}

// UpdateContact implements NotificationService.
func (s *Notification) UpdateContact(ctx context.Context, req *notificationv1.UpdateContactRequest) (*notificationv1.UpdateContactResponse, error) {
	actor, err := authorize(ctx, req.GetAccountId())
	if err != nil {
		return nil, err
	}
	c, err := s.app.Commands.UpdateContact.Handle(ctx, app.UpdateContact{Account: req.GetAccountId(), ContactID: req.GetContactId(),
		Settings: settings(req.GetContact()), Mask: req.GetUpdateMask(), Actor: actor})
	if err != nil {
		return nil, err
	}
	return &notificationv1.UpdateContactResponse{Contact: c}, nil
}

// RemoveContact implements NotificationService.
func (s *Notification) RemoveContact(ctx context.Context, req *notificationv1.RemoveContactRequest) (*notificationv1.RemoveContactResponse, error) {
	actor, err := authorize(ctx, req.GetAccountId())
	if err != nil {
		return nil, err
	}
	if err := s.app.Commands.RemoveContact.Handle(ctx, app.RemoveContact{Account: req.GetAccountId(), ContactID: req.GetContactId(), Actor: actor}); err != nil {
		return nil, err
	}
	return &notificationv1.RemoveContactResponse{}, nil
}

// ListContacts implements NotificationService.
func (s *Notification) ListContacts(ctx context.Context, req *notificationv1.ListContactsRequest) (*notificationv1.ListContactsResponse, error) {
	if _, err := authorize(ctx, req.GetAccountId()); err != nil {
		return nil, err
	}
	cs, err := s.app.Queries.ListContacts.Handle(ctx, app.ListContacts{Account: req.GetAccountId()})
	if err != nil {
		return nil, err
	}
	return &notificationv1.ListContactsResponse{Contacts: cs}, nil
}

// ListNotifications implements NotificationService.
func (s *Notification) ListNotifications(ctx context.Context, req *notificationv1.ListNotificationsRequest) (*notificationv1.ListNotificationsResponse, error) {
	if _, err := authorize(ctx, req.GetAccountId()); err != nil {
		return nil, err
	}
	ns, err := s.app.Queries.ListNotifications.Handle(ctx, app.ListNotifications{Account: req.GetAccountId(),
		ContactID: req.GetContactId(), Limit: int(req.GetPageSize())})
	if err != nil {
		return nil, err
	}
	return &notificationv1.ListNotificationsResponse{Notifications: ns}, nil
}
