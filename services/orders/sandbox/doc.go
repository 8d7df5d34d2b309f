// Package sandbox is a sandbox cart and a sandbox WMS: real HTTP servers, in memory, that speak
// the Rebound cart and WMS APIs (outbound/cart, outbound/wms), store what they receive, and fail
// on demand, per connection, through an admin API. `rebound dev` runs them next to the services
// and `rebound sandbox` on their own; tests and benchmarks run them on 127.0.0.1:0.
//
// Any connection id works: a connection's base URL is <root>/wms/<connection> on the WMS and
// <root>/cart/<connection> on the cart (WMSBaseURL, CartBaseURL).
//
// # WMS API (default root http://127.0.0.1:8091)
//
//	POST /wms/{conn}/v1/orders            wms.Order; header Idempotency-Key (optional)
//	    201 {"wms_order_id": "WMS-0000001", "duplicate": false}
//	    200 {"wms_order_id": "WMS-0000001", "duplicate": true}   the key was seen: same order
//	    400 INVALID_REQUEST                body is not JSON
//	    422 VALIDATION_FAILED              no order_id, order_number or lines; a line without
//	                                       sku or quantity
//	    422 INVALID_ADDRESS                "Ship-to address is invalid: postal code is missing"
//	                                       (name, address1, city, postal code, ISO country code)
//	    422 SHIP_METHOD_UNKNOWN            "Unknown ship method \"X\": this warehouse ships with …"
//	GET  /wms/{conn}/v1/orders/{wms_order_id}         the stored order, or 404 ORDER_NOT_FOUND
//	GET  /wms/{conn}/v1/shipments?after=<cursor>&limit=<1-1000>   wms.ShipmentPage
//	GET  /wms/{conn}/v1/inventory         wms.InventoryPage: the stock set through the admin API
//
// # Cart API (default root http://127.0.0.1:8092)
//
//	POST /cart/{conn}/v1/fulfillments     cart.Fulfillment; header Idempotency-Key (optional)
//	    201 {"fulfillment_id": "FUL-0000001", "duplicate": false}, 200 with duplicate true
//	    422 VALIDATION_FAILED              no order number, carrier or tracking number
//	POST /cart/{conn}/v1/inventory_levels cart.InventoryLevel → 200 the level stored
//	                                       (422 VALIDATION_FAILED without a sku)
//
// Errors are {"error": {"code": "…", "message": "…"}}. When Config.Token is set, both APIs
// require "Authorization: Bearer <token>" (401 UNAUTHORIZED otherwise).
//
// # Admin API (on each server's root; no authentication — bind it to localhost)
//
//	GET    /admin/failures                   Failures: the default mode and each connection's
//	PUT    /admin/failures/{conn}            Failure → 200 the mode as stored; {conn} "*" sets
//	                                         the default for connections without their own
//	DELETE /admin/failures/{conn}            back to the default ("*": default back to none)
//	DELETE /admin/failures                   every mode back to none
//	GET    /admin/stats                      Stats
//	POST   /admin/reset                      forget everything stored, every mode and count
//	GET    /admin/orders?connection=         WMS: {"orders": [StoredOrder]}
//	POST   /admin/orders/{wms_order_id}/ship WMS: ShipRequest (optional) → 201 wms.Shipment
//	GET    /admin/fulfillments?connection=   cart: {"fulfillments": [StoredFulfillment]}
//	GET    /admin/inventory?connection=      cart: {"inventory": [StoredInventory]}
//	GET    /healthz                          {"status": "ok"}
//
// A Failure is {"mode": "<mode>", "probability": 0.3, "delay": "2s", "retry_after": "30s",
// "times": 3}; only mode is required. Modes (ParseMode also takes aliases such as 500, 429, 401):
//
//	none                 answer normally
//	down                 reset the connection without an answer
//	slow                 do the work, then hold the answer for delay (default 10s)
//	http-500             500 INTERNAL_ERROR
//	http-429             429 RATE_LIMITED with Retry-After: retry_after (default 30s)
//	http-401             401 UNAUTHORIZED
//	invalid-address      new orders: 422 INVALID_ADDRESS (WMS only)
//	unknown-ship-method  new orders: 422 SHIP_METHOD_UNKNOWN (WMS only)
//	flaky                503 SERVICE_UNAVAILABLE with the given probability (default 0.5),
//	                     drawn from a generator seeded with Config.Seed
//
// times limits a mode to the next that many requests it affects. Modes that refuse orders
// (invalid-address, unknown-ship-method) apply after the idempotency key: a repeat of an order the
// WMS holds still answers with it. AdminClient is a client of this API.
package sandbox
