package classify

// Alert types the built-in rules produce. Alert types are snake_case and persisted (they are part
// of an alert's fingerprint): add new ones freely, rename none.
const (
	TypeShipMethodUnmapped = "ship_method_unmapped"
	TypeSKUUnmapped        = "sku_unmapped"
	TypeAddressInvalid     = "address_invalid"
	TypeRateLimited        = "rate_limited"
	TypeAuthFailed         = "auth_failed"
	TypeTimeout            = "timeout"
	TypeConnectionRefused  = "connection_refused"
	TypeWMSUnavailable     = "wms_unavailable"
	TypeCartUnavailable    = "cart_unavailable"
	TypeServerError        = "server_error"
	TypeValidationFailed   = "validation_failed"
	// TypeUnknownFailure is the fallback's alert type: no rule matched.
	TypeUnknownFailure = "unknown_failure"
	// TypeConnectionDown is the alert type of the one alert outage detection raises for a
	// connection whose records fail en masse; no rule produces it.
	TypeConnectionDown = "connection_down"
)

// FallbackRuleID is Result.RuleID when no rule matched.
const FallbackRuleID = "fallback"

// Class names as the file spells them.
const (
	ClassTransient    = "transient"
	ClassRateLimited  = "rate_limited"
	ClassAuth         = "auth"
	ClassManualAction = "manual_action"
	ClassRejected     = "rejected"
)

// defaultImmediate lists the alert types notified at once.
var defaultImmediate = []string{TypeShipMethodUnmapped, TypeAuthFailed, TypeConnectionDown}

// defaultFallback applies when no rule matches.
var defaultFallback = Outcome{Class: ClassTransient, AlertType: TypeUnknownFailure}

// defaultRules is the built-in table (DESIGN.md §1). Order matters: record-specific problems a
// person must fix come first (a WMS may report them with any status), then rate limits (some
// systems send them as 403), credentials, transport failures, 5xx and finally other 4xx.
// rules.example.yaml must equal it (a test checks).
var defaultRules = []Rule{
	{
		ID:        "ship-method-unmapped-code",
		Match:     Match{Codes: []string{"SHIP_METHOD_NOT_MAPPED", "SHIP_METHOD_UNMAPPED", "SHIPPING_METHOD_NOT_MAPPED", "UNKNOWN_SHIP_METHOD", "INVALID_SHIP_METHOD", "INVALID_SHIPPING_METHOD", "CARRIER_SERVICE_NOT_MAPPED"}},
		Class:     ClassManualAction,
		AlertType: TypeShipMethodUnmapped,
	},
	{
		ID: "ship-method-unmapped-message",
		Match: Match{Message: `ship(ping)?[ _-]?(method|service|via)\b.*\b(not mapped|unmapped|no (carrier |service )?mapping|not (recogni[sz]ed|supported|configured|found))` +
			`|(unknown|invalid|unmapped|unsupported) ship(ping)?[ _-]?(method|service)`},
		Class:     ClassManualAction,
		AlertType: TypeShipMethodUnmapped,
	},
	{
		ID:        "sku-unmapped-code",
		Match:     Match{Codes: []string{"SKU_NOT_FOUND", "SKU_NOT_MAPPED", "UNKNOWN_SKU", "INVALID_SKU", "ITEM_NOT_FOUND", "PRODUCT_NOT_FOUND"}},
		Class:     ClassManualAction,
		AlertType: TypeSKUUnmapped,
	},
	{
		ID: "sku-unmapped-message",
		Match: Match{Message: `\b(sku|item|product)\b.*\b(not mapped|unmapped|not found|does not exist|doesn't exist|not recogni[sz]ed)` +
			`|(unknown|invalid|unmapped) (sku|item|product)\b`},
		Class:     ClassManualAction,
		AlertType: TypeSKUUnmapped,
	},
	{
		ID:        "address-invalid-code",
		Match:     Match{Codes: []string{"INVALID_ADDRESS", "ADDRESS_INVALID", "ADDRESS_VALIDATION_FAILED", "ADDRESS_NOT_FOUND", "INVALID_POSTAL_CODE", "INVALID_ZIP_CODE", "UNDELIVERABLE_ADDRESS"}},
		Class:     ClassManualAction,
		AlertType: TypeAddressInvalid,
	},
	{
		ID: "address-invalid-message",
		Match: Match{Message: `\b(address|postal ?code|zip ?code|post ?code|zip)\b.*\b(invalid|not valid|could not be (validated|verified)|validation failed|unverifiable|undeliverable|not found|missing|is required)` +
			`|invalid (shipping |ship[ -]to |delivery )?(address|postal ?code|zip|post ?code)`},
		Class:     ClassManualAction,
		AlertType: TypeAddressInvalid,
	},
	{
		ID:        "rate-limited-status",
		Match:     Match{HTTPStatus: []string{"429"}},
		Class:     ClassRateLimited,
		AlertType: TypeRateLimited,
	},
	{
		ID:        "rate-limited-code",
		Match:     Match{Codes: []string{"RATE_LIMITED", "RATE_LIMIT_EXCEEDED", "TOO_MANY_REQUESTS", "THROTTLED", "QUOTA_EXCEEDED", "QuotaExceeded", "REQUEST_LIMIT_EXCEEDED"}},
		Class:     ClassRateLimited,
		AlertType: TypeRateLimited,
	},
	{
		ID:        "rate-limited-message",
		Match:     Match{Message: `rate[ -]?limit|too many requests|throttl|quota exceeded|request limit (exceeded|reached)`},
		Class:     ClassRateLimited,
		AlertType: TypeRateLimited,
	},
	{
		ID:        "auth-status",
		Match:     Match{HTTPStatus: []string{"401", "403"}},
		Class:     ClassAuth,
		AlertType: TypeAuthFailed,
	},
	{
		ID:        "auth-code",
		Match:     Match{Codes: []string{"UNAUTHORIZED", "UNAUTHENTICATED", "FORBIDDEN", "ACCESS_DENIED", "INVALID_TOKEN", "TOKEN_EXPIRED", "EXPIRED_TOKEN", "INVALID_CREDENTIALS", "CREDENTIALS_EXPIRED", "INVALID_API_KEY", "AUTHENTICATION_FAILED", "invalid_grant", "invalid_client"}},
		Class:     ClassAuth,
		AlertType: TypeAuthFailed,
	},
	{
		ID: "auth-message",
		Match: Match{Message: `\b(token|credentials?|api[ _-]?key|password|secret|session)\b.*\b(expired|invalid|revoked|not valid)` +
			`|\b(expired|invalid|revoked) (access |oauth |api |refresh |bearer )?(token|credentials|api[ _-]?key|session|password)` +
			`|unauthori[sz]ed|not authori[sz]ed|authentication (failed|required)|invalid_grant|access denied`},
		Class:     ClassAuth,
		AlertType: TypeAuthFailed,
	},
	{
		ID:        "timeout-code",
		Match:     Match{Codes: []string{"timeout", "timed_out", "ETIMEDOUT", "ESOCKETTIMEDOUT", "deadline_exceeded", "context_deadline_exceeded", "gateway_timeout", "request_timeout"}},
		Class:     ClassTransient,
		AlertType: TypeTimeout,
	},
	{
		ID:        "timeout-status",
		Match:     Match{HTTPStatus: []string{"408", "504", "524"}},
		Class:     ClassTransient,
		AlertType: TypeTimeout,
	},
	{
		ID:        "timeout-message",
		Match:     Match{Message: `timed? ?out|timeout|deadline exceeded`},
		Class:     ClassTransient,
		AlertType: TypeTimeout,
	},
	{
		ID:        "connection-refused-code",
		Match:     Match{Codes: []string{"connection_refused", "ECONNREFUSED", "connection_reset", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "dns_error", "EPIPE"}},
		Class:     ClassTransient,
		AlertType: TypeConnectionRefused,
	},
	{
		ID:        "connection-refused-message",
		Match:     Match{Message: `connection (was )?(refused|reset|closed by (remote|peer))|no such host|(host|network) (is )?unreachable|broken pipe|could not connect|failed to connect|unable to connect`},
		Class:     ClassTransient,
		AlertType: TypeConnectionRefused,
	},
	{
		ID:        "wms-unavailable",
		Match:     Match{SystemKinds: []string{"wms"}, HTTPStatus: []string{"502", "503"}},
		Class:     ClassTransient,
		AlertType: TypeWMSUnavailable,
	},
	{
		ID:        "wms-unavailable-message",
		Match:     Match{SystemKinds: []string{"wms"}, Message: `service (temporarily )?unavailable|under maintenance|maintenance mode|bad gateway|temporarily unavailable`},
		Class:     ClassTransient,
		AlertType: TypeWMSUnavailable,
	},
	{
		ID:        "cart-unavailable",
		Match:     Match{SystemKinds: []string{"cart"}, HTTPStatus: []string{"502", "503"}},
		Class:     ClassTransient,
		AlertType: TypeCartUnavailable,
	},
	{
		ID:        "cart-unavailable-message",
		Match:     Match{SystemKinds: []string{"cart"}, Message: `service (temporarily )?unavailable|under maintenance|maintenance mode|bad gateway|temporarily unavailable`},
		Class:     ClassTransient,
		AlertType: TypeCartUnavailable,
	},
	{
		ID:        "server-error",
		Match:     Match{HTTPStatus: []string{"5xx"}},
		Class:     ClassTransient,
		AlertType: TypeServerError,
	},
	{
		ID:        "validation-failed-code",
		Match:     Match{Codes: []string{"VALIDATION_ERROR", "VALIDATION_FAILED", "INVALID_REQUEST", "BAD_REQUEST", "UNPROCESSABLE_ENTITY", "INVALID_ORDER", "DUPLICATE_ORDER", "MISSING_REQUIRED_FIELD"}},
		Class:     ClassRejected,
		AlertType: TypeValidationFailed,
	},
	{
		ID:        "validation-failed-status",
		Match:     Match{HTTPStatus: []string{"4xx"}},
		Class:     ClassRejected,
		AlertType: TypeValidationFailed,
	},
}
