package classify_test

import (
	"testing"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector/classify"
)

const (
	transient    = connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT
	rateLimited  = connectorv1.ErrorClass_ERROR_CLASS_RATE_LIMITED
	auth         = connectorv1.ErrorClass_ERROR_CLASS_AUTH
	manualAction = connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION
	rejected     = connectorv1.ErrorClass_ERROR_CLASS_REJECTED
)

// failure builds a report: an order to a WMS unless kind says otherwise.
func failure(kind connectorv1.SystemKind, system string, status int32, code, message string) *connectorv1.RecordFailed {
	rk := connectorv1.RecordKind_RECORD_KIND_ORDER
	if kind == connectorv1.SystemKind_SYSTEM_KIND_CART {
		rk = connectorv1.RecordKind_RECORD_KIND_TRACKING
	}
	return &connectorv1.RecordFailed{
		Record: &connectorv1.RecordRef{
			AccountId: "merchant-1", ConnectionId: "conn-1", SystemKind: kind, System: system,
			RecordKind: rk, RecordId: "1001", OrderNumber: "#1001",
		},
		AttemptId: "a1", HttpStatus: status, Code: code, Message: message,
	}
}

func wms(status int32, code, message string) *connectorv1.RecordFailed {
	return failure(connectorv1.SystemKind_SYSTEM_KIND_WMS, "sandbox-wms", status, code, message)
}

func cart(status int32, code, message string) *connectorv1.RecordFailed {
	return failure(connectorv1.SystemKind_SYSTEM_KIND_CART, "shopify", status, code, message)
}

type classifyCase struct {
	name      string
	in        *connectorv1.RecordFailed
	rule      string
	class     connectorv1.ErrorClass
	alertType string
	immediate bool
}

// defaultCases exercises every built-in rule (TestDefault_coversEveryRule checks) and the
// fallback, with messages as WMSs and carts send them.
var defaultCases = []classifyCase{
	{"ship method code", wms(422, "SHIP_METHOD_NOT_MAPPED", "Ship method 'UPS Ground Saver' has no carrier mapping for client ACME"),
		"ship-method-unmapped-code", manualAction, classify.TypeShipMethodUnmapped, true},
	{"ship method code lower case", wms(400, "unknown_ship_method", "Bad request"),
		"ship-method-unmapped-code", manualAction, classify.TypeShipMethodUnmapped, true},
	{"ship method message", wms(400, "", `Shipping method "FedEx 2Day" is not mapped to a carrier service`),
		"ship-method-unmapped-message", manualAction, classify.TypeShipMethodUnmapped, true},
	{"ship method message, no status", wms(0, "", "Order 1001 rejected: unknown ship method 'DHL_EXPRESS_WW'"),
		"ship-method-unmapped-message", manualAction, classify.TypeShipMethodUnmapped, true},
	{"ship via message in a 500", wms(500, "E1002", "ShipVia 'GRND' not recognized"),
		"ship-method-unmapped-message", manualAction, classify.TypeShipMethodUnmapped, true},
	{"sku code", wms(404, "SKU_NOT_FOUND", "The requested resource was not found"),
		"sku-unmapped-code", manualAction, classify.TypeSKUUnmapped, false},
	{"sku message", wms(422, "", "Line 2: SKU 'TSHIRT-RED-XL' does not exist in the warehouse catalog"),
		"sku-unmapped-message", manualAction, classify.TypeSKUUnmapped, false},
	{"unknown item message", cart(400, "", "Unknown product: variant 4455 is not linked to inventory item"),
		"sku-unmapped-message", manualAction, classify.TypeSKUUnmapped, false},
	{"address code", wms(422, "INVALID_ADDRESS", "Validation failed"),
		"address-invalid-code", manualAction, classify.TypeAddressInvalid, false},
	{"address message", wms(400, "", "Address validation failed: ZIP code 9021 is not valid for state CA"),
		"address-invalid-message", manualAction, classify.TypeAddressInvalid, false},
	{"invalid ship-to message", wms(0, "", "Invalid ship-to address: street line 1 is required"),
		"address-invalid-message", manualAction, classify.TypeAddressInvalid, false},
	{"429", cart(429, "", "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."),
		"rate-limited-status", rateLimited, classify.TypeRateLimited, false},
	{"rate limit code", wms(0, "QuotaExceeded", "You exceeded your quota for the requested resource."),
		"rate-limited-code", rateLimited, classify.TypeRateLimited, false},
	{"rate limit 403", cart(403, "", "API rate limit exceeded for installation ID 1234"),
		"rate-limited-message", rateLimited, classify.TypeRateLimited, false},
	{"401", cart(401, "", "[API] Invalid API key or access token (unrecognized login or wrong password)"),
		"auth-status", auth, classify.TypeAuthFailed, true},
	{"403", wms(403, "", "Forbidden"),
		"auth-status", auth, classify.TypeAuthFailed, true},
	{"token expired code", cart(400, "invalid_grant", "The refresh token is invalid or has expired"),
		"auth-code", auth, classify.TypeAuthFailed, true},
	{"expired credentials message", wms(0, "", "Login failed: credentials expired on 2026-03-01, please renew the API password"),
		"auth-message", auth, classify.TypeAuthFailed, true},
	{"timeout code", wms(0, "timeout", "POST https://wms.example.com/api/orders: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"),
		"timeout-code", transient, classify.TypeTimeout, false},
	{"504", wms(504, "", "<html><body><h1>504 Gateway Time-out</h1></body></html>"),
		"timeout-status", transient, classify.TypeTimeout, false},
	{"408", cart(408, "", "Request Timeout"),
		"timeout-status", transient, classify.TypeTimeout, false},
	{"timeout message", wms(0, "", "read tcp 10.0.0.4:51234->52.1.2.3:443: i/o timeout"),
		"timeout-message", transient, classify.TypeTimeout, false},
	{"refused code", wms(0, "connection_refused", "dial tcp 52.1.2.3:443: connect: connection refused"),
		"connection-refused-code", transient, classify.TypeConnectionRefused, false},
	{"refused code upper", cart(0, "ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:8443"),
		"connection-refused-code", transient, classify.TypeConnectionRefused, false},
	{"no such host", wms(0, "", "dial tcp: lookup wms.acme-3pl.example: no such host"),
		"connection-refused-message", transient, classify.TypeConnectionRefused, false},
	{"reset by peer", cart(0, "", "read tcp 10.0.0.4:50522->23.227.38.65:443: read: connection reset by peer"),
		"connection-refused-message", transient, classify.TypeConnectionRefused, false},
	{"wms 503", wms(503, "", "Service Unavailable"),
		"wms-unavailable", transient, classify.TypeWMSUnavailable, false},
	{"wms 502", wms(502, "", "Bad Gateway"),
		"wms-unavailable", transient, classify.TypeWMSUnavailable, false},
	{"wms maintenance, no status", wms(0, "", "The WMS is under maintenance until 02:00 UTC"),
		"wms-unavailable-message", transient, classify.TypeWMSUnavailable, false},
	{"cart 503", cart(503, "", "Service Unavailable"),
		"cart-unavailable", transient, classify.TypeCartUnavailable, false},
	{"cart maintenance, no status", cart(0, "", "Store is in maintenance mode"),
		"cart-unavailable-message", transient, classify.TypeCartUnavailable, false},
	{"500", wms(500, "", "Internal Server Error"),
		"server-error", transient, classify.TypeServerError, false},
	{"cart 500 with body", cart(500, "", `{"errors":"Internal Server Error"}`),
		"server-error", transient, classify.TypeServerError, false},
	{"validation code", wms(0, "DUPLICATE_ORDER", "Order 1001 already exists for client ACME"),
		"validation-failed-code", rejected, classify.TypeValidationFailed, false},
	{"422", cart(422, "", `{"errors":{"tracking_number":["can't be blank"]}}`),
		"validation-failed-status", rejected, classify.TypeValidationFailed, false},
	{"404", cart(404, "", "Not Found"),
		"validation-failed-status", rejected, classify.TypeValidationFailed, false},
	{"fallback", wms(0, "E_WEIRD", "Something went wrong"),
		classify.FallbackRuleID, transient, classify.TypeUnknownFailure, false},
	{"fallback 3xx", cart(302, "", "Found"),
		classify.FallbackRuleID, transient, classify.TypeUnknownFailure, false},
}

func TestDefault_classifies(t *testing.T) {
	t.Parallel()
	c := classify.Default()
	for _, tc := range defaultCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := c.Classify(tc.in)
			want := classify.Result{Class: tc.class, AlertType: tc.alertType, RuleID: tc.rule, Immediate: tc.immediate}
			if got != want {
				t.Fatalf("Classify(status %d, code %q, message %q)\n got %+v\nwant %+v",
					tc.in.GetHttpStatus(), tc.in.GetCode(), tc.in.GetMessage(), got, want)
			}
		})
	}
}

func TestDefault_coversEveryRule(t *testing.T) {
	t.Parallel()
	covered := make(map[string]bool)
	for _, tc := range defaultCases {
		covered[tc.rule] = true
	}
	for _, r := range classify.Default().Rules() {
		if !covered[r.ID] {
			t.Errorf("built-in rule %q has no case in defaultCases", r.ID)
		}
	}
	if !covered[classify.FallbackRuleID] {
		t.Error("the fallback has no case in defaultCases")
	}
}

func TestDefault_immediateTypes(t *testing.T) {
	t.Parallel()
	c := classify.Default()
	for typ, want := range map[string]bool{
		classify.TypeShipMethodUnmapped: true,
		classify.TypeAuthFailed:         true,
		classify.TypeConnectionDown:     true,
		classify.TypeServerError:        false,
		classify.TypeAddressInvalid:     false,
	} {
		if got := c.Immediate(typ); got != want {
			t.Errorf("Immediate(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestClassify_nilReportGetsFallback(t *testing.T) {
	t.Parallel()
	got := classify.Default().Classify(nil)
	if got.RuleID != classify.FallbackRuleID || got.AlertType != classify.TypeUnknownFailure {
		t.Fatalf("Classify(nil) = %+v, want the fallback", got)
	}
}
