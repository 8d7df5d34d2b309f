package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/services/notification/domain"
	"github.com/reboundhq/rebound/services/notification/domain/contact"
	"github.com/reboundhq/rebound/services/notification/link"
)

// Fix is the action a link page performs: the link (token, and the account and action of the
// page's path) and what the person entered.
type Fix struct {
	OpenLink
	// WMSShipMethod is the WMS ship method to map to (MapShipMethod).
	WMSShipMethod string
	// Address is the corrected ship-to address (CorrectAddress).
	Address *ordersv1.Address
	// Reason is why the alert is dismissed (Dismiss).
	Reason string
}

// Validate reports every problem with what the person entered.
func (c Fix) Validate() error {
	var errs []error
	switch c.Action {
	case link.MapShipMethod:
		if s := strings.TrimSpace(c.WMSShipMethod); s == "" || len(s) > 128 || strings.ContainsAny(s, "\r\n") {
			errs = append(errs, domain.Invalid("wms_ship_method", "is required: one line of at most 128 characters"))
		}
	case link.CorrectAddress:
		a := c.Address
		for field, v := range map[string]string{"name": a.GetName(), "address1": a.GetAddress1(), "city": a.GetCity(),
			"postal_code": a.GetPostalCode(), "country_code": a.GetCountryCode()} {
			if strings.TrimSpace(v) == "" {
				errs = append(errs, domain.Invalid(field, "is required"))
			}
		}
		if cc := a.GetCountryCode(); cc != "" && len(cc) != 2 {
			errs = append(errs, domain.Invalid("country_code", "%q is not a two-letter country code", cc))
		}
	case link.Dismiss:
		if len(c.Reason) > 1000 {
			errs = append(errs, domain.Invalid("reason", "is longer than 1000 characters"))
		}
	}
	return errors.Join(errs...)
}

// FixResult says what a fix did, for the page.
type FixResult struct {
	Page *LinkPage
	// Done says what happened, in a sentence.
	Done string
}

// FixHandler performs link pages' actions. Every action goes through the same application
// commands as gRPC: the owning services' (through the Fixer) or this service's UpdateContact.
type FixHandler struct{ d Deps }

// Handle verifies the link, loads its target and performs the action. Nothing changes when the
// link is refused (errors wrap link.ErrInvalid) or the input is invalid.
func (h FixHandler) Handle(ctx context.Context, cmd Fix) (*FixResult, error) {
	l, err := h.d.Links.Verify(cmd.Token, cmd.Account, cmd.Action, h.d.Clock.Now())
	if err != nil {
		return nil, err
	}
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	p, err := h.d.linkPage(ctx, l)
	if err != nil {
		return nil, err
	}
	actor := "link:" + l.Contact
	res := &FixResult{Page: p}
	switch l.Action {
	case link.Unsubscribe:
		_, err = UpdateContactHandler(h).Handle(ctx, UpdateContact{
			Account: l.Account, ContactID: l.Target, Actor: actor, Mask: []string{"frequency"},
			Settings: contact.Settings{Frequency: notificationv1.Frequency_FREQUENCY_OFF},
		})
		res.Done = fmt.Sprintf("%s receives no more alert emails.", p.Contact.GetEmail())
	case link.MapShipMethod:
		o := p.Order
		err = h.d.Fixer.MapShipMethod(ctx, l.Account, o.GetCart().GetConnectionId(), o.GetShipMethodCode(), strings.TrimSpace(cmd.WMSShipMethod), actor)
		res.Done = fmt.Sprintf("Ship method %q of %s now maps to %q; every order held on it is sent to the WMS again.",
			o.GetShipMethodCode(), o.GetCart().GetConnectionId(), strings.TrimSpace(cmd.WMSShipMethod))
	case link.CorrectAddress:
		err = h.d.Fixer.CorrectAddress(ctx, l.Account, p.Order.GetOrderId(), cmd.Address, actor)
		res.Done = fmt.Sprintf("The address of order %s is corrected; it is sent to the WMS again.", p.Order.GetOrderNumber())
	case link.Resend:
		if p.Order != nil {
			err = h.d.Fixer.ResendToWMS(ctx, l.Account, p.Order.GetOrderId(), actor)
			res.Done = fmt.Sprintf("Order %s is sent to the WMS again.", p.Order.GetOrderNumber())
		} else {
			err = h.d.Fixer.ResendRecord(ctx, l.Account, l.Target, actor)
			res.Done = "The record is sent again."
		}
	case link.Dismiss:
		reason := strings.TrimSpace(cmd.Reason)
		if reason == "" {
			reason = "dismissed from an email link"
		}
		err = h.d.Fixer.DismissAlert(ctx, l.Account, l.Target, reason, actor)
		res.Done = "The alert is dismissed."
	}
	if err != nil {
		return nil, err
	}
	h.d.Log.Info("link action performed", slog.String("action", string(l.Action)), slog.String("account", l.Account),
		slog.String("target", l.Target), slog.String("actor", actor))
	return res, nil
}

// ActionsFor returns the link actions an email offers for an alert, in the order they are shown.
func ActionsFor(alertType string, kind connectorv1.RecordKind) []link.Action {
	switch {
	case alertType == "connection_down":
		return []link.Action{link.Dismiss}
	case alertType == "ship_method_unmapped" && kind == connectorv1.RecordKind_RECORD_KIND_ORDER:
		return []link.Action{link.MapShipMethod, link.Dismiss}
	case alertType == "address_invalid" && kind == connectorv1.RecordKind_RECORD_KIND_ORDER:
		return []link.Action{link.CorrectAddress, link.Resend, link.Dismiss}
	default:
		return []link.Action{link.Resend, link.Dismiss}
	}
}
