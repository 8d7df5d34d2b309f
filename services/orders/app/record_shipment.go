package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain"
	"github.com/reboundhq/rebound/services/orders/domain/order"
	"github.com/reboundhq/rebound/services/orders/outbound/wms"
)

// RecordShipment is a shipment read from a WMS connection's shipment feed.
type RecordShipment struct {
	// Account is the account of the order when the shipment does not name its merchant.
	Account string
	// WMSConnectionID is the connection the shipment was read from.
	WMSConnectionID string
	Shipment        wms.Shipment
	CorrelationID   string
}

// RecordShipmentHandler records shipments on their orders.
type RecordShipmentHandler struct{ d Deps }

// Handle records the shipment on its order (OrderShipped; an order the WMS never acknowledged is
// accepted first). It returns false for a shipment of an order this service does not know. The
// push of the tracking to the cart follows from the stored OrderShipped.
func (h RecordShipmentHandler) Handle(ctx context.Context, c RecordShipment) (bool, error) {
	s := c.Shipment
	account := s.MerchantID
	if account == "" {
		account = c.Account
	}
	if !events.ValidToken(account) || !events.ValidToken(s.OrderID) {
		return false, nil
	}
	now := h.d.Clock.Now()
	meta := events.Metadata{CorrelationID: c.CorrelationID, CausationID: fmt.Sprintf("wms-shipment:%s:%s", c.WMSConnectionID, s.ShipmentID)}
	known := false
	err := h.d.Orders.Update(ctx, order.Stream(account, s.OrderID), meta, func(o *order.Order) error {
		if known = o.Exists(); !known {
			return nil
		}
		return o.Ship(order.Shipment{WMSOrderID: s.WMSOrderID, Tracking: s.Tracking()}, now)
	})
	switch {
	case errors.Is(err, events.ErrInvalidArgument), errors.Is(err, domain.ErrWrongState):
		// A shipment without a carrier or tracking number cannot be recorded; it is skipped, like
		// the feed's shipments of orders other systems sent.
		return false, nil
	case err != nil:
		return false, applied(err)
	}
	return known, nil
}
