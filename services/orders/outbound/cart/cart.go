// Package cart is the orders service's cart connector: the Connector interface the service pushes
// tracking (fulfillments) and inventory levels to a cart through, and Client, its HTTP/JSON
// implementation of the Rebound cart API (which the sandbox cart serves; a real cart gets an
// adapter behind the same interface).
//
// # The Rebound cart API
//
//	POST {base}/v1/fulfillments        body Fulfillment, header Idempotency-Key: <order id>:<tracking number>
//	    201 FulfillmentReceipt         the fulfillment was recorded
//	    200 FulfillmentReceipt         (duplicate) the key was seen before
//	POST {base}/v1/inventory_levels    body InventoryLevel
//	    200 InventoryLevel             the level as stored
//	    4xx/5xx {"error": {"code": "…", "message": "…"}}, 429 with Retry-After
//
// Every outcome of a call that is not a success is a *remote.Failure (see outbound/remote).
package cart

import (
	"context"
	"fmt"
	"net/http"
	"time"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/services/orders/outbound/remote"
)

// Connector is a cart as the orders service pushes to it. Implementations are safe for concurrent
// use.
type Connector interface {
	// PushTracking tells the cart an order shipped. A repeat of the same fulfillment answers with
	// the same fulfillment id (Duplicate), never a second one. Every failure of the cart is a
	// *remote.Failure; the end of ctx is an error wrapping ctx.Err().
	PushTracking(ctx context.Context, f Fulfillment) (FulfillmentReceipt, error)
	// PushInventory sets a SKU's available stock.
	PushInventory(ctx context.Context, l InventoryLevel) (InventoryLevel, error)
}

// Fulfillment is a shipment of an order as the cart API takes it.
type Fulfillment struct {
	// OrderID is Rebound's order id.
	OrderID string `json:"order_id"`
	// OrderNumber is the cart's order number.
	OrderNumber string `json:"order_number"`
	// CartOrderID is the cart's own id of the order, if any.
	CartOrderID string `json:"cart_order_id,omitempty"`
	// Carrier, Service, TrackingNumber and TrackingURL describe the parcel.
	Carrier        string `json:"carrier"`
	Service        string `json:"service,omitempty"`
	TrackingNumber string `json:"tracking_number"`
	TrackingURL    string `json:"tracking_url,omitempty"`
	// ShippedAt is when the order shipped, if known.
	ShippedAt *time.Time `json:"shipped_at,omitempty"`
}

// IdempotencyKey is the key a fulfillment is pushed with: the order and its tracking number, so a
// corrected tracking is a new fulfillment and a repeat is not.
func (f Fulfillment) IdempotencyKey() string { return f.OrderID + ":" + f.TrackingNumber }

// FulfillmentReceipt is the cart's answer to a fulfillment.
type FulfillmentReceipt struct {
	// FulfillmentID is the cart's id of the fulfillment.
	FulfillmentID string `json:"fulfillment_id"`
	// Duplicate is true when the cart already had it under the idempotency key.
	Duplicate bool `json:"duplicate"`
}

// InventoryLevel is a SKU's available stock.
type InventoryLevel struct {
	// SKU is the product SKU.
	SKU string `json:"sku"`
	// Available is the stock available to sell (may be negative when oversold).
	Available int64 `json:"available"`
	// UpdatedAt is when the cart stored it (answers only).
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// FulfillmentOf returns an order's shipment as the cart API takes it.
func FulfillmentOf(o *ordersv1.Order) Fulfillment {
	t := o.GetTracking()
	f := Fulfillment{
		OrderID: o.GetOrderId(), OrderNumber: o.GetOrderNumber(), CartOrderID: o.GetCartOrderId(),
		Carrier: t.GetCarrier(), Service: t.GetService(), TrackingNumber: t.GetTrackingNumber(), TrackingURL: t.GetTrackingUrl(),
	}
	if s := t.GetShippedAt(); s != nil {
		at := s.AsTime()
		f.ShippedAt = &at
	}
	return f
}

// Client is the HTTP implementation of Connector for one cart connection.
type Client struct {
	rc *remote.Client
}

var _ Connector = (*Client)(nil)

// New returns a client of the cart connection cfg describes; hc may be nil (see remote.New).
func New(cfg remote.Config, hc *http.Client) (*Client, error) {
	rc, err := remote.New(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("cart: %w", err)
	}
	return &Client{rc: rc}, nil
}

// PushTracking implements Connector: POST /v1/fulfillments with Idempotency-Key.
func (c *Client) PushTracking(ctx context.Context, f Fulfillment) (FulfillmentReceipt, error) {
	var r FulfillmentReceipt
	status, err := c.rc.Do(ctx, remote.Request{Method: http.MethodPost, Path: "/v1/fulfillments", IdempotencyKey: f.IdempotencyKey(), Body: f}, &r)
	if err != nil {
		return FulfillmentReceipt{}, err
	}
	if r.FulfillmentID == "" {
		return FulfillmentReceipt{}, &remote.Failure{HTTPStatus: status, Code: remote.CodeInvalidResponse,
			Message: fmt.Sprintf("the cart answered %d without a fulfillment_id", status)}
	}
	return r, nil
}

// PushInventory implements Connector: POST /v1/inventory_levels.
func (c *Client) PushInventory(ctx context.Context, l InventoryLevel) (InventoryLevel, error) {
	l.UpdatedAt = nil
	var out InventoryLevel
	if _, err := c.rc.Do(ctx, remote.Request{Method: http.MethodPost, Path: "/v1/inventory_levels", Body: l}, &out); err != nil {
		return InventoryLevel{}, err
	}
	return out, nil
}
