package app

import (
	"context"
	"errors"
	"fmt"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/outbound/cart"
	"github.com/reboundhq/rebound/services/orders/outbound/wms"
)

// ErrNotConfigured means a record names a connection that is not configured (or not of the
// kind it needs). It is retryable: the configuration may still be on its way (a connections
// file loading at start).
var ErrNotConfigured = errors.New("connection not configured")

// lookup returns the configured connection of kind id names in account, or in the warehouse
// account serving it (a 3PL's WMS connection serves its merchants); nil when there is none.
func (d Deps) lookup(ctx context.Context, account, warehouse, id string, kind connectorv1.SystemKind) (*connectionsv1.Connection, error) {
	for _, acc := range []string{account, warehouse} {
		if acc == "" {
			continue
		}
		c, err := d.Connections.Connection(ctx, acc, id)
		switch {
		case errors.Is(err, events.ErrNotFound):
			continue
		case err != nil:
			return nil, err
		}
		if c.GetSettings().GetSystemKind() == kind {
			return c, nil
		}
	}
	return nil, nil
}

// wmsOf returns the connector of the order's WMS connection.
func (d Deps) wmsOf(ctx context.Context, o *ordersv1.Order) (wms.Connector, *connectionsv1.Connection, error) {
	c, err := d.lookup(ctx, o.GetAccountId(), o.GetWarehouseId(), o.GetWms().GetConnectionId(), connectorv1.SystemKind_SYSTEM_KIND_WMS)
	if err != nil {
		return nil, nil, err
	}
	if c == nil {
		return nil, nil, fmt.Errorf("WMS connection %s of order %s: %w", o.GetWms().GetConnectionId(), o.GetOrderId(), ErrNotConfigured)
	}
	conn, err := d.Connections.WMS(ctx, c.GetSettings().GetAccountId(), c.GetSettings().GetConnectionId())
	return conn, c, err
}

// cartOf returns the connector of a cart connection of account.
func (d Deps) cartOf(ctx context.Context, account, warehouse, id string) (cart.Connector, *connectionsv1.Connection, error) {
	c, err := d.lookup(ctx, account, warehouse, id, connectorv1.SystemKind_SYSTEM_KIND_CART)
	if err != nil {
		return nil, nil, err
	}
	if c == nil {
		return nil, nil, fmt.Errorf("cart connection %s of account %s: %w", id, account, ErrNotConfigured)
	}
	conn, err := d.Connections.Cart(ctx, c.GetSettings().GetAccountId(), c.GetSettings().GetConnectionId())
	return conn, c, err
}

// linkedWMS returns the WMS connection a cart connection's sync cycles read (its
// wms_connection_id, in its account or its warehouse's); nil when it names none that exists.
func (d Deps) linkedWMS(ctx context.Context, cartConn *connectionsv1.Connection) (wms.Connector, *connectionsv1.Connection, error) {
	s := cartConn.GetSettings()
	if s.GetWmsConnectionId() == "" {
		return nil, nil, nil
	}
	c, err := d.lookup(ctx, s.GetAccountId(), s.GetWarehouseId(), s.GetWmsConnectionId(), connectorv1.SystemKind_SYSTEM_KIND_WMS)
	if err != nil || c == nil {
		return nil, nil, err
	}
	conn, err := d.Connections.WMS(ctx, c.GetSettings().GetAccountId(), c.GetSettings().GetConnectionId())
	return conn, c, err
}
