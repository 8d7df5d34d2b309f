package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/reboundhq/rebound/services/orders/outbound/wms"
)

// AdminClient talks to the admin API of one sandbox server (the WMS or the cart), e.g. for
// `rebound sandbox fail <mode>`. Safe for concurrent use.
type AdminClient struct {
	root string
	http *http.Client
}

// NewAdminClient returns a client of the server at root (its URL without a path, e.g.
// http://127.0.0.1:8091); hc nil uses http.DefaultClient.
func NewAdminClient(root string, hc *http.Client) *AdminClient {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &AdminClient{root: strings.TrimRight(root, "/"), http: hc}
}

// AdminError is a refusal of the admin API.
type AdminError struct {
	// Status is the HTTP status.
	Status int
	// Code and Message are the server's.
	Code, Message string
}

func (e *AdminError) Error() string {
	return fmt.Sprintf("sandbox admin: %d %s: %s", e.Status, e.Code, e.Message)
}

// SetFailure sets the failure mode of a connection, or of every connection without its own with
// AllConnections ("*"). It returns the mode as stored (defaults filled in).
func (c *AdminClient) SetFailure(ctx context.Context, connection string, f Failure) (Failure, error) {
	var out Failure
	err := c.do(ctx, http.MethodPut, "/admin/failures/"+url.PathEscape(connection), f, &out)
	return out, err
}

// ClearFailure removes a connection's own mode (AllConnections: resets the default to none).
func (c *AdminClient) ClearFailure(ctx context.Context, connection string) error {
	return c.do(ctx, http.MethodDelete, "/admin/failures/"+url.PathEscape(connection), nil, nil)
}

// ClearFailures resets every mode of the server.
func (c *AdminClient) ClearFailures(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/admin/failures", nil, nil)
}

// Failures returns the server's modes.
func (c *AdminClient) Failures(ctx context.Context) (Failures, error) {
	var out Failures
	err := c.do(ctx, http.MethodGet, "/admin/failures", nil, &out)
	return out, err
}

// Stats returns what the server did.
func (c *AdminClient) Stats(ctx context.Context) (Stats, error) {
	var out Stats
	err := c.do(ctx, http.MethodGet, "/admin/stats", nil, &out)
	return out, err
}

// Reset forgets everything the server stored, its modes and its counts.
func (c *AdminClient) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/admin/reset", nil, nil)
}

// Orders returns the orders the WMS holds on a connection (every connection when empty).
func (c *AdminClient) Orders(ctx context.Context, connection string) ([]StoredOrder, error) {
	var out struct {
		Orders []StoredOrder `json:"orders"`
	}
	err := c.do(ctx, http.MethodGet, "/admin/orders"+connQuery(connection), nil, &out)
	return out.Orders, err
}

// Ship ships an order the WMS holds; empty fields of req get sandbox values.
func (c *AdminClient) Ship(ctx context.Context, wmsOrderID string, req ShipRequest) (wms.Shipment, error) {
	var out wms.Shipment
	err := c.do(ctx, http.MethodPost, "/admin/orders/"+url.PathEscape(wmsOrderID)+"/ship", req, &out)
	return out, err
}

// SetStock sets the stock of SKUs on a WMS connection; it returns the connection's stock.
func (c *AdminClient) SetStock(ctx context.Context, connection string, levels ...wms.InventoryLevel) ([]wms.InventoryLevel, error) {
	var out wms.InventoryPage
	err := c.do(ctx, http.MethodPut, "/admin/stock/"+url.PathEscape(connection), wms.InventoryPage{Levels: levels}, &out)
	return out.Levels, err
}

// Fulfillments returns the fulfillments the cart holds on a connection (every connection when
// empty).
func (c *AdminClient) Fulfillments(ctx context.Context, connection string) ([]StoredFulfillment, error) {
	var out struct {
		Fulfillments []StoredFulfillment `json:"fulfillments"`
	}
	err := c.do(ctx, http.MethodGet, "/admin/fulfillments"+connQuery(connection), nil, &out)
	return out.Fulfillments, err
}

// Inventory returns the inventory levels the cart holds on a connection (every connection when
// empty).
func (c *AdminClient) Inventory(ctx context.Context, connection string) ([]StoredInventory, error) {
	var out struct {
		Inventory []StoredInventory `json:"inventory"`
	}
	err := c.do(ctx, http.MethodGet, "/admin/inventory"+connQuery(connection), nil, &out)
	return out.Inventory, err
}

func connQuery(connection string) string {
	if connection == "" {
		return ""
	}
	return "?connection=" + url.QueryEscape(connection)
}

func (c *AdminClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("sandbox admin: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.root+path, body)
	if err != nil {
		return fmt.Errorf("sandbox admin: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox admin: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("sandbox admin: %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var ae apiError
		_ = json.Unmarshal(data, &ae)
		return &AdminError{Status: resp.StatusCode, Code: ae.Error.Code, Message: ae.Error.Message}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("sandbox admin: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}
