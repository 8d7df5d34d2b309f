// Package wms is the orders service's WMS connector: the Connector interface the service sends
// orders and reads shipments through, and Client, its HTTP/JSON implementation of the Rebound WMS
// API (which the sandbox WMS serves; a real WMS gets an adapter behind the same interface).
//
// # The Rebound WMS API
//
//	POST {base}/v1/orders              body Order, header Idempotency-Key: <order id>
//	    201 Acceptance                 the order was created
//	    200 Acceptance (duplicate)     the key was seen before: the same WMS order, not a new one
//	    4xx/5xx {"error": {"code": "…", "message": "…"}}, 429 with Retry-After
//	GET  {base}/v1/shipments?after=<cursor>&limit=<n>
//	    200 ShipmentPage               shipments after the cursor, oldest first
//	GET  {base}/v1/inventory
//	    200 InventoryPage              the stock available per SKU
//
// Credentials travel as "Authorization: Bearer <token>" (or basic auth), per remote.Config.
// Every outcome of a call that is not a success is a *remote.Failure (see outbound/remote).
package wms

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/services/orders/outbound/remote"
)

// Connector is a WMS as the orders service uses it. Implementations are safe for concurrent use.
type Connector interface {
	// SendOrder sends an order, with its id as the idempotency key: a repeat of an order the WMS
	// already has answers with the same WMS order id (Acceptance.Duplicate), never a second
	// order. Every failure of the WMS is a *remote.Failure; the end of ctx is an error wrapping
	// ctx.Err().
	SendOrder(ctx context.Context, o Order) (Acceptance, error)
	// Shipments returns the shipments after the cursor (empty: from the first), at most limit.
	Shipments(ctx context.Context, after string, limit int) (ShipmentPage, error)
	// Inventory returns the stock available per SKU.
	Inventory(ctx context.Context) ([]InventoryLevel, error)
}

// Order is an order as the WMS API takes it.
type Order struct {
	// OrderID is Rebound's order id; it is also the idempotency key.
	OrderID string `json:"order_id"`
	// OrderNumber is the number people know the order by.
	OrderNumber string `json:"order_number"`
	// MerchantID is the merchant account.
	MerchantID string `json:"merchant_id"`
	// CartOrderID is the cart's own id of the order, if any.
	CartOrderID string `json:"cart_order_id,omitempty"`
	// PlacedAt is when the customer placed the order, if known.
	PlacedAt *time.Time `json:"placed_at,omitempty"`
	// Currency is the ISO 4217 currency of the prices.
	Currency string `json:"currency,omitempty"`
	// ShipTo is the ship-to address.
	ShipTo Address `json:"ship_to"`
	// ShipMethod is the WMS ship method (already mapped from the cart's code).
	ShipMethod string `json:"ship_method"`
	// Lines are the order's lines.
	Lines []Line `json:"lines"`
}

// Address is a ship-to address.
type Address struct {
	Name        string `json:"name,omitempty"`
	Company     string `json:"company,omitempty"`
	Address1    string `json:"address1,omitempty"`
	Address2    string `json:"address2,omitempty"`
	City        string `json:"city,omitempty"`
	Region      string `json:"region,omitempty"`
	PostalCode  string `json:"postal_code,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Phone       string `json:"phone,omitempty"`
	Email       string `json:"email,omitempty"`
}

// Line is an order line.
type Line struct {
	SKU       string `json:"sku"`
	Name      string `json:"name,omitempty"`
	Quantity  uint32 `json:"quantity"`
	UnitPrice string `json:"unit_price,omitempty"`
}

// Acceptance is the WMS's answer to an order it has.
type Acceptance struct {
	// WMSOrderID is the WMS's id of the order.
	WMSOrderID string `json:"wms_order_id"`
	// Duplicate is true when the WMS already had the order under the idempotency key.
	Duplicate bool `json:"duplicate"`
}

// Shipment is a shipment the WMS made.
type Shipment struct {
	// Cursor is the shipment's position in the feed; pass it as after to read on.
	Cursor string `json:"cursor"`
	// ShipmentID is the WMS's id of the shipment.
	ShipmentID string `json:"shipment_id"`
	// WMSOrderID is the WMS's id of the order shipped.
	WMSOrderID string `json:"wms_order_id"`
	// OrderID is Rebound's order id, as sent.
	OrderID string `json:"order_id"`
	// OrderNumber is the order number, as sent.
	OrderNumber string `json:"order_number"`
	// MerchantID is the merchant account of the order, as sent.
	MerchantID string `json:"merchant_id,omitempty"`
	// Carrier, Service, TrackingNumber and TrackingURL describe the parcel.
	Carrier        string `json:"carrier"`
	Service        string `json:"service,omitempty"`
	TrackingNumber string `json:"tracking_number"`
	TrackingURL    string `json:"tracking_url,omitempty"`
	// ShippedAt is when the order shipped.
	ShippedAt time.Time `json:"shipped_at"`
}

// ShipmentPage is one page of the shipment feed.
type ShipmentPage struct {
	// Shipments are the shipments after the cursor, oldest first.
	Shipments []Shipment `json:"shipments"`
	// Next is the cursor to read on from (the last shipment's, or the one passed in).
	Next string `json:"next"`
}

// InventoryLevel is the stock of one SKU.
type InventoryLevel struct {
	// SKU is the product SKU.
	SKU string `json:"sku"`
	// Available is the stock available to sell.
	Available int64 `json:"available"`
}

// InventoryPage is the WMS's answer to an inventory request.
type InventoryPage struct {
	// Levels are the levels, by SKU.
	Levels []InventoryLevel `json:"levels"`
}

// OrderOf returns an order's state as the WMS API takes it, with the WMS ship method to send.
func OrderOf(o *ordersv1.Order, wmsShipMethod string) Order {
	out := Order{
		OrderID: o.GetOrderId(), OrderNumber: o.GetOrderNumber(), MerchantID: o.GetAccountId(),
		CartOrderID: o.GetCartOrderId(), Currency: o.GetCurrency(), ShipMethod: wmsShipMethod,
		ShipTo: AddressOf(o.GetShipTo()), Lines: make([]Line, len(o.GetLines())),
	}
	if p := o.GetPlacedAt(); p != nil {
		t := p.AsTime()
		out.PlacedAt = &t
	}
	for i, l := range o.GetLines() {
		out.Lines[i] = Line{SKU: l.GetSku(), Name: l.GetName(), Quantity: l.GetQuantity(), UnitPrice: l.GetUnitPrice()}
	}
	return out
}

// AddressOf converts an address.
func AddressOf(a *ordersv1.Address) Address {
	return Address{
		Name: a.GetName(), Company: a.GetCompany(), Address1: a.GetAddress1(), Address2: a.GetAddress2(),
		City: a.GetCity(), Region: a.GetRegion(), PostalCode: a.GetPostalCode(), CountryCode: a.GetCountryCode(),
		Phone: a.GetPhone(), Email: a.GetEmail(),
	}
}

// Tracking returns the shipment's parcel as the order's tracking.
func (s Shipment) Tracking() *ordersv1.Tracking {
	t := &ordersv1.Tracking{
		Carrier: s.Carrier, Service: s.Service, TrackingNumber: s.TrackingNumber, TrackingUrl: s.TrackingURL,
		WmsShipmentId: s.ShipmentID,
	}
	if !s.ShippedAt.IsZero() {
		t.ShippedAt = timestamppb.New(s.ShippedAt)
	}
	return t
}

// Client is the HTTP implementation of Connector for one WMS connection.
type Client struct {
	rc *remote.Client
}

var _ Connector = (*Client)(nil)

// New returns a client of the WMS connection cfg describes; hc may be nil (see remote.New).
func New(cfg remote.Config, hc *http.Client) (*Client, error) {
	rc, err := remote.New(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("wms: %w", err)
	}
	return &Client{rc: rc}, nil
}

// SendOrder implements Connector: POST /v1/orders with Idempotency-Key: <order id>.
func (c *Client) SendOrder(ctx context.Context, o Order) (Acceptance, error) {
	var a Acceptance
	status, err := c.rc.Do(ctx, remote.Request{Method: http.MethodPost, Path: "/v1/orders", IdempotencyKey: o.OrderID, Body: o}, &a)
	if err != nil {
		return Acceptance{}, err
	}
	if a.WMSOrderID == "" {
		return Acceptance{}, &remote.Failure{HTTPStatus: status, Code: remote.CodeInvalidResponse,
			Message: fmt.Sprintf("the WMS answered %d without a wms_order_id", status)}
	}
	return a, nil
}

// Shipments implements Connector: GET /v1/shipments?after=&limit=.
func (c *Client) Shipments(ctx context.Context, after string, limit int) (ShipmentPage, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p ShipmentPage
	if _, err := c.rc.Do(ctx, remote.Request{Method: http.MethodGet, Path: "/v1/shipments", Query: q}, &p); err != nil {
		return ShipmentPage{}, err
	}
	if p.Next == "" {
		p.Next = after
	}
	return p, nil
}

// Inventory implements Connector: GET /v1/inventory.
func (c *Client) Inventory(ctx context.Context) ([]InventoryLevel, error) {
	var p InventoryPage
	if _, err := c.rc.Do(ctx, remote.Request{Method: http.MethodGet, Path: "/v1/inventory"}, &p); err != nil {
		return nil, err
	}
	return p.Levels, nil
}
