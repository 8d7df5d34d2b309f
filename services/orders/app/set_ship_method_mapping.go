package app

import (
	"context"
	"errors"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
)

// SetShipMethodMapping changes one cart connection's mappings: one code's mapping (set or
// removed), the pass-through setting, or both.
type SetShipMethodMapping struct {
	Account          string
	CartConnectionID string
	// Code is the cart ship method code; empty changes only PassThrough.
	Code string
	// WMSMethod is what Code maps to; ignored when Remove.
	WMSMethod string
	// Remove removes Code's mapping.
	Remove bool
	// PassThrough, when not nil, turns passing unmapped codes through on or off.
	PassThrough   *bool
	By            string
	CorrelationID string
	Authorize     Authorize
}

// Validate reports every problem with the command's arguments (the domain checks the rest).
func (c SetShipMethodMapping) Validate() error {
	errs := []error{token("account_id", c.Account), token("cart_connection_id", c.CartConnectionID)}
	switch {
	case c.Code == "" && c.PassThrough == nil:
		errs = append(errs, fieldErr("ship_method_code", "is required (or pass_through alone)"))
	case c.Code == "" && (c.WMSMethod != "" || c.Remove):
		errs = append(errs, fieldErr("ship_method_code", "is required with wms_ship_method or remove"))
	case c.Code != "" && !c.Remove && c.WMSMethod == "":
		errs = append(errs, fieldErr("wms_ship_method", "is required to map a code (or set remove)"))
	case c.Remove && c.WMSMethod != "":
		errs = append(errs, fieldErr("wms_ship_method", "must be empty when removing a mapping"))
	}
	return errors.Join(errs...)
}

// SetShipMethodMappingHandler changes mappings.
type SetShipMethodMappingHandler struct{ d Deps }

// Handle stores the change (ShipMethodMappingSet, ShipMethodMappingRemoved,
// ShipMethodPassThroughChanged; nothing when nothing changes) and returns the mappings after it.
// The release of the orders held on a mapped code follows from the stored event.
func (h SetShipMethodMappingHandler) Handle(ctx context.Context, c SetShipMethodMapping) (*ordersv1.ShipMethodMappings, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := h.d.authorizeCart(ctx, c.Account, c.CartConnectionID, c.Authorize); err != nil {
		return nil, err
	}
	now := h.d.Clock.Now()
	var out *ordersv1.ShipMethodMappings
	err := h.d.Mappings.Update(ctx, shipmap.Stream(c.Account, c.CartConnectionID), events.Metadata{CorrelationID: c.CorrelationID}, func(m *shipmap.Mappings) error {
		var err error
		switch {
		case c.Code != "" && c.Remove:
			err = m.Remove(c.Code, c.By, now)
		case c.Code != "":
			err = m.Set(c.Code, c.WMSMethod, c.By, now)
		}
		if err == nil && c.PassThrough != nil {
			err = m.SetPassThrough(*c.PassThrough, c.By, now)
		}
		if err != nil {
			return err
		}
		out = m.Snapshot()
		return nil
	})
	return out, err
}

// authorizeCart checks the caller against a configured cart connection (missing: NotFound for a
// caller who may know).
func (d Deps) authorizeCart(ctx context.Context, account, cartID string, check Authorize) error {
	c, err := d.lookup(ctx, account, "", cartID, connectorv1.SystemKind_SYSTEM_KIND_CART)
	if err != nil {
		return err
	}
	return authorized(check, account, c.GetSettings().GetWarehouseId(), c != nil, "cart connection "+cartID)
}
