package app

import (
	"context"
	"errors"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// SubmitOrder is an order a cart submits. The account kind, the warehouse and the systems come
// from the configured connections.
type SubmitOrder struct {
	Account          string
	CartConnectionID string
	// WMSConnectionID is the WMS connection; empty takes the cart connection's.
	WMSConnectionID string
	OrderNumber     string
	CartOrderID     string
	PlacedAt        time.Time
	Currency        string
	ShipTo          *ordersv1.Address
	ShipMethodCode  string
	Lines           []*ordersv1.OrderLine
	// CorrelationID ties the stored events to the request.
	CorrelationID string
	// Authorize checks the caller against the cart connection.
	Authorize Authorize
}

// Submitted is what a submission did.
type Submitted struct {
	Order   *ordersv1.Order
	Receipt order.Receipt
	Version uint64
}

// SubmitOrderHandler receives orders.
type SubmitOrderHandler struct{ d Deps }

// Validate checks what can be checked without loading anything; the domain checks the rest
// (Receive validates the whole submission before anything is stored).
func (c SubmitOrder) Validate() error {
	errs := []error{token("account_id", c.Account), token("cart_connection_id", c.CartConnectionID)}
	if c.WMSConnectionID != "" {
		errs = append(errs, token("wms_connection_id", c.WMSConnectionID))
	}
	return errors.Join(errs...)
}

// Handle stores the order (OrderReceived, OrderEdited or nothing); its delivery follows from the
// stored events.
func (h SubmitOrderHandler) Handle(ctx context.Context, c SubmitOrder) (Submitted, error) {
	if err := c.Validate(); err != nil {
		return Submitted{}, err
	}
	cartConn, err := h.d.lookup(ctx, c.Account, "", c.CartConnectionID, connectorv1.SystemKind_SYSTEM_KIND_CART)
	if err != nil {
		return Submitted{}, err
	}
	if c.Authorize == nil {
		return Submitted{}, errors.New("app: no authorization check")
	}
	if err := c.Authorize(c.Account, cartConn.GetSettings().GetWarehouseId(), cartConn != nil); err != nil {
		return Submitted{}, err
	}
	if cartConn == nil {
		return Submitted{}, fieldErr("cart_connection_id", "account %s has no cart connection %q (configure it with ConnectionService)", c.Account, c.CartConnectionID)
	}
	cs := cartConn.GetSettings()
	wmsID, wmsField := c.WMSConnectionID, "wms_connection_id"
	if wmsID == "" {
		wmsID = cs.GetWmsConnectionId()
	}
	if wmsID == "" {
		return Submitted{}, fieldErr(wmsField, "is required: cart connection %s names no WMS connection", c.CartConnectionID)
	}
	wmsConn, err := h.d.lookup(ctx, c.Account, cs.GetWarehouseId(), wmsID, connectorv1.SystemKind_SYSTEM_KIND_WMS)
	if err != nil {
		return Submitted{}, err
	}
	if wmsConn == nil {
		return Submitted{}, fieldErr(wmsField, "neither account %s nor its warehouse has a WMS connection %q", c.Account, wmsID)
	}
	sub := order.Submission{
		AccountID: c.Account, AccountKind: cs.GetAccountKind(), WarehouseID: cs.GetWarehouseId(),
		Cart:        &ordersv1.Connection{ConnectionId: cs.GetConnectionId(), System: cs.GetSystem()},
		WMS:         &ordersv1.Connection{ConnectionId: wmsID, System: wmsConn.GetSettings().GetSystem()},
		OrderNumber: c.OrderNumber, CartOrderID: c.CartOrderID, PlacedAt: c.PlacedAt, Currency: c.Currency,
		ShipTo: c.ShipTo, ShipMethodCode: c.ShipMethodCode, Lines: c.Lines,
	}
	now := h.d.Clock.Now()
	var out Submitted
	stream := order.StreamOf(c.Account, c.CartConnectionID, c.OrderNumber)
	err = h.d.Orders.Update(ctx, stream, events.Metadata{CorrelationID: c.CorrelationID}, func(o *order.Order) error {
		r, err := o.Receive(sub, now)
		if err != nil {
			return err
		}
		out = Submitted{Order: o.Snapshot(), Receipt: r}
		return nil
	})
	if err != nil {
		return Submitted{}, err
	}
	if out.Version, err = h.d.Orders.Version(ctx, stream); err != nil {
		return Submitted{}, err
	}
	return out, nil
}
