package order

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
)

// MaxLines is the most lines an order may have.
const MaxLines = 1000

// fieldErr returns a *connector.FieldError (errors.Is events.ErrInvalidArgument).
func fieldErr(field, format string, args ...any) error {
	return &connector.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// text checks a free-text field: valid UTF-8 of at most maxLen bytes, not blank when required.
func text(field, v string, maxLen int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return fieldErr(field, "is required")
	case len(v) > maxLen:
		return fieldErr(field, "is %d bytes long; at most %d", len(v), maxLen)
	case !utf8.ValidString(v):
		return fieldErr(field, "is not valid UTF-8")
	}
	return nil
}

// token checks an id that becomes a subject token.
func token(field, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if !events.ValidToken(v) {
		return fieldErr(field, "%q must be 1-128 characters of A-Z a-z 0-9 _ -", v)
	}
	return nil
}

func validActor(actor string) error { return text("actor", actor, connector.MaxRefLen, false) }

func validAttemptID(id string) error { return text("attempt_id", id, connector.MaxRefLen, true) }

var (
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	priceRE    = regexp.MustCompile(`^[0-9]{1,15}(\.[0-9]{1,6})?$`)
)

func validConnection(field string, c *ordersv1.Connection) []error {
	if c == nil {
		return []error{fieldErr(field, "is required")}
	}
	return []error{
		token(field+".connection_id", c.GetConnectionId(), true),
		text(field+".system", c.GetSystem(), connector.MaxRefLen, true),
	}
}

// validAddress checks the shape of an address (lengths, UTF-8). Whether it is deliverable is the
// WMS's call: an address it refuses holds the order with the WMS's own message.
func validAddress(field string, a *ordersv1.Address) []error {
	if a == nil {
		return []error{fieldErr(field, "is required")}
	}
	return []error{
		text(field+".name", a.GetName(), connector.MaxRefLen, false),
		text(field+".company", a.GetCompany(), connector.MaxRefLen, false),
		text(field+".address1", a.GetAddress1(), connector.MaxRefLen, false),
		text(field+".address2", a.GetAddress2(), connector.MaxRefLen, false),
		text(field+".city", a.GetCity(), connector.MaxRefLen, false),
		text(field+".region", a.GetRegion(), connector.MaxRefLen, false),
		text(field+".postal_code", a.GetPostalCode(), connector.MaxRefLen, false),
		text(field+".country_code", a.GetCountryCode(), connector.MaxRefLen, false),
		text(field+".phone", a.GetPhone(), connector.MaxRefLen, false),
		text(field+".email", a.GetEmail(), connector.MaxRefLen, false),
	}
}

func validLines(field string, lines []*ordersv1.OrderLine) []error {
	switch {
	case len(lines) == 0:
		return []error{fieldErr(field, "an order needs at least one line")}
	case len(lines) > MaxLines:
		return []error{fieldErr(field, "%d lines; at most %d", len(lines), MaxLines)}
	}
	var errs []error
	for i, l := range lines {
		f := fmt.Sprintf("%s[%d]", field, i)
		if l == nil {
			errs = append(errs, fieldErr(f, "is empty"))
			continue
		}
		errs = append(errs,
			text(f+".sku", l.GetSku(), connector.MaxRefLen, true),
			text(f+".name", l.GetName(), connector.MaxRefLen, false),
		)
		if l.GetQuantity() == 0 {
			errs = append(errs, fieldErr(f+".quantity", "must be at least 1"))
		}
		if p := l.GetUnitPrice(); p != "" && !priceRE.MatchString(p) {
			errs = append(errs, fieldErr(f+".unit_price", "%q must be a non-negative decimal such as 12.50", p))
		}
	}
	return errs
}

func validShipMethodCode(field, code string) error {
	return text(field, code, connector.MaxRefLen, true)
}

// validate checks a submission, reporting every problem at once.
func (s Submission) validate() error {
	errs := []error{token("account_id", s.AccountID, true)}
	if s.AccountKind == connectorv1.AccountKind_ACCOUNT_KIND_UNSPECIFIED {
		errs = append(errs, fieldErr("account_kind", "is required (merchant or warehouse)"))
	} else if _, ok := connectorv1.AccountKind_name[int32(s.AccountKind)]; !ok {
		errs = append(errs, fieldErr("account_kind", "unknown value %d", s.AccountKind))
	}
	errs = append(errs, token("warehouse_id", s.WarehouseID, false))
	errs = append(errs, validConnection("cart", s.Cart)...)
	errs = append(errs, validConnection("wms", s.WMS)...)
	errs = append(errs, s.validateContent())
	return errors.Join(errs...)
}

// ValidateContent checks what a cart says about an order — its number, cart id, currency, ship
// method code, ship-to address and lines — without the routing (account, connections) the
// service fills in, so that a request can be refused before anything is loaded.
func ValidateContent(s Submission) error { return s.validateContent() }

func (s Submission) validateContent() error {
	errs := []error{
		text("order_number", s.OrderNumber, connector.MaxRefLen, true),
		text("cart_order_id", s.CartOrderID, connector.MaxRefLen, false),
		validShipMethodCode("ship_method_code", s.ShipMethodCode),
	}
	if s.Currency != "" && !currencyRE.MatchString(s.Currency) {
		errs = append(errs, fieldErr("currency", "%q must be an ISO 4217 code such as USD", s.Currency))
	}
	errs = append(errs, validAddress("ship_to", s.ShipTo)...)
	errs = append(errs, validLines("lines", s.Lines)...)
	return errors.Join(errs...)
}

// ValidateEdit checks an edit's values (what Edit checks before it looks at the order).
func ValidateEdit(e Edit) error {
	var errs []error
	if e.ShipTo != nil {
		errs = append(errs, validAddress("ship_to", e.ShipTo)...)
	}
	if e.ShipMethodCode != "" {
		errs = append(errs, validShipMethodCode("ship_method_code", e.ShipMethodCode))
	}
	if e.Lines != nil {
		errs = append(errs, validLines("lines", e.Lines)...)
	}
	return errors.Join(errs...)
}

// validate checks a failure and its classification.
func (f Failure) validate(c Classification) error {
	errs := []error{
		validAttemptID(f.AttemptID),
		text("message", f.Message, connector.MaxMessageLen, false),
		text("code", f.Code, connector.MaxRefLen, false),
		text("alert_type", c.AlertType, connector.MaxRefLen, false),
	}
	if f.Message == "" && f.Code == "" && f.HTTPStatus == 0 {
		errs = append(errs, fieldErr("message", "a failure needs the system's message, a code or an HTTP status"))
	}
	if s := f.HTTPStatus; s != 0 && (s < 100 || s > 599) {
		errs = append(errs, fieldErr("http_status", "%d is not an HTTP status", s))
	}
	if f.RetryAfter < 0 {
		errs = append(errs, fieldErr("retry_after", "must not be negative"))
	}
	if _, ok := connectorv1.ErrorClass_name[int32(c.Class)]; !ok || c.Class == connectorv1.ErrorClass_ERROR_CLASS_UNSPECIFIED {
		errs = append(errs, fieldErr("class", "must be transient, rate_limited, auth, manual_action or rejected, not %d", c.Class))
	}
	return errors.Join(errs...)
}

// validTracking checks a shipment's tracking.
func validTracking(t *ordersv1.Tracking) error {
	if t == nil {
		return fieldErr("tracking", "is required")
	}
	errs := []error{
		text("tracking.carrier", t.GetCarrier(), connector.MaxRefLen, true),
		text("tracking.service", t.GetService(), connector.MaxRefLen, false),
		text("tracking.tracking_number", t.GetTrackingNumber(), connector.MaxRefLen, true),
		text("tracking.tracking_url", t.GetTrackingUrl(), connector.MaxMessageLen, false),
		text("tracking.wms_shipment_id", t.GetWmsShipmentId(), connector.MaxRefLen, false),
	}
	if sa := t.GetShippedAt(); sa != nil && sa.CheckValid() != nil {
		errs = append(errs, fieldErr("tracking.shipped_at", "is not a valid time"))
	}
	return errors.Join(errs...)
}

func utc(t time.Time) time.Time { return t.UTC() }
