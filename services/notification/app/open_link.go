package app

import (
	"context"
	"errors"
	"fmt"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/link"
)

// OpenLink is a signed link opened on the page of Action for Account (the URL's path).
type OpenLink struct {
	Token   string
	Account string
	Action  link.Action
}

// LinkPage is what a link's page shows.
type LinkPage struct {
	Link link.Link
	// Alert is the link's alert (every action but unsubscribe).
	Alert *alertsv1.Alert
	// Order is the alert's order, for order records.
	Order *ordersv1.Order
	// Contact is the contact an unsubscribe link is for.
	Contact *notificationv1.Contact
}

// ErrNoFixer means the process runs no fixer: link pages that act on records are unavailable.
var ErrNoFixer = errors.New("this Rebound process cannot act on records (no fixer configured)")

// OpenLinkHandler verifies links and loads what their pages show.
type OpenLinkHandler struct{ d Deps }

// Handle verifies the link (errors wrap link.ErrInvalid) and loads its target (events.ErrNotFound
// when it is gone).
func (h OpenLinkHandler) Handle(ctx context.Context, q OpenLink) (*LinkPage, error) {
	l, err := h.d.Links.Verify(q.Token, q.Account, q.Action, h.d.Clock.Now())
	if err != nil {
		return nil, err
	}
	return h.d.linkPage(ctx, l)
}

func (d Deps) linkPage(ctx context.Context, l link.Link) (*LinkPage, error) {
	p := &LinkPage{Link: l}
	if l.Action == link.Unsubscribe {
		c, err := d.contactOf(ctx, l.Account, l.Target)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, fmt.Errorf("contact %s of account %s: %w", l.Target, l.Account, events.ErrNotFound)
		}
		p.Contact = c
		return p, nil
	}
	if d.Fixer == nil {
		return nil, ErrNoFixer
	}
	a, err := d.Fixer.Alert(ctx, l.Account, l.Target)
	if err != nil {
		return nil, err
	}
	if a.GetRecord().GetAccountId() != l.Account {
		// The owner answered with another account's alert: never act on it.
		return nil, fmt.Errorf("alert %s of account %s: %w", l.Target, l.Account, events.ErrNotFound)
	}
	p.Alert = a
	if a.GetRecord().GetRecordKind() == connectorv1.RecordKind_RECORD_KIND_ORDER && a.GetRecord().GetRecordId() != "" {
		o, err := d.Fixer.Order(ctx, l.Account, a.GetRecord().GetRecordId())
		if err != nil && (l.Action == link.MapShipMethod || l.Action == link.CorrectAddress) {
			return nil, err
		}
		if err == nil && o.GetAccountId() == l.Account {
			p.Order = o
		}
	}
	if (l.Action == link.MapShipMethod || l.Action == link.CorrectAddress) && p.Order == nil {
		return nil, fmt.Errorf("%w: alert %s is not about an order", ErrRefused, l.Target)
	}
	return p, nil
}
