package order_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// t0 is where every test's clock starts; it has a fraction of a second on purpose.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 250_000_000, time.UTC)

// clock is the fake clock tests walk forward.
type clock struct{ now time.Time }

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time { return c.now }

// Advance moves the clock on by d and returns the new time.
func (c *clock) Advance(d time.Duration) time.Time { c.now = c.now.Add(d); return c.now }

const (
	account = "merchant-1"
	cartID  = "shop-1"
	wmsID   = "wms-1"
	code    = "Express Shipping"
)

func address() *ordersv1.Address {
	return &ordersv1.Address{
		Name: "Ada Lovelace", Address1: "12 Analytical Row", City: "London", PostalCode: "N1 9GU",
		CountryCode: "GB", Email: "ada@example.com",
	}
}

func lines() []*ordersv1.OrderLine {
	return []*ordersv1.OrderLine{
		{Sku: "MUG-RED", Name: "Red mug", Quantity: 2, UnitPrice: "12.50"},
		{Sku: "TEE-L", Name: "T-shirt L", Quantity: 1, UnitPrice: "20"},
	}
}

func submission(number string) order.Submission {
	return order.Submission{
		AccountID: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseID: "3pl-1",
		Cart:        &ordersv1.Connection{ConnectionId: cartID, System: "shopify"},
		WMS:         &ordersv1.Connection{ConnectionId: wmsID, System: "sandbox-wms"},
		OrderNumber: number, CartOrderID: "gid-" + number, PlacedAt: t0.Add(-time.Hour), Currency: "USD",
		ShipTo: address(), ShipMethodCode: code, Lines: lines(),
	}
}

// received returns a new order received at the clock's time.
func received(t *testing.T, number string, c *clock) *order.Order {
	t.Helper()
	o := order.New(order.StreamOf(account, cartID, number))
	r, err := o.Receive(submission(number), c.Now())
	must(t, err)
	if r != order.Received {
		t.Fatalf("receipt %s, want received", r)
	}
	return o
}

func mapped() domain.ShipMethod { return domain.ShipMethod{Code: code, WMSMethod: "UPS_GROUND"} }

func unmapped() domain.ShipMethod { return domain.ShipMethod{Code: code} }

var (
	transient    = order.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, AlertType: "timeout"}
	rateLimited  = order.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_RATE_LIMITED, AlertType: "rate_limited"}
	authFailed   = order.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_AUTH, AlertType: "auth_failed"}
	badAddress   = order.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION, AlertType: "address_invalid"}
	rejected     = order.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_REJECTED, AlertType: "validation_failed"}
	trackingSent = &ordersv1.Tracking{Carrier: "UPS", Service: "Ground", TrackingNumber: "1Z999", ShippedAt: timestamppb.New(t0.Add(48 * time.Hour))}
)

func failure(attemptID string, status int32, code, msg string, at time.Time) order.Failure {
	return order.Failure{AttemptID: attemptID, HTTPStatus: status, Code: code, Message: msg, FailedAt: at}
}

// attempt starts the order's own next attempt with a mapped ship method and returns its id.
func attempt(t *testing.T, o *order.Order, trigger ordersv1.DeliveryTrigger, c *clock) string {
	t.Helper()
	id := o.NextAttemptID()
	must(t, o.AttemptDelivery(id, trigger, mapped(), c.Now()))
	return id
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantWrongState(t *testing.T, err error) {
	t.Helper()
	var se *domain.StateError
	if !errors.Is(err, domain.ErrWrongState) || !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *domain.StateError", err)
	}
}

func wantInvalid(t *testing.T, err error, fields ...string) {
	t.Helper()
	if !errors.Is(err, events.ErrInvalidArgument) {
		t.Fatalf("err = %v, want events.ErrInvalidArgument", err)
	}
	for _, f := range fields {
		if !contains(err.Error(), "invalid "+f+":") {
			t.Errorf("err = %v, does not name field %s", err, f)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// raised runs a command and returns the events it raised.
func raised(t *testing.T, o *order.Order, cmd func() error) []proto.Message {
	t.Helper()
	n := len(o.Changes())
	must(t, cmd())
	return o.Changes()[n:]
}

func types(msgs []proto.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = events.ShortType(events.TypeName(m))
	}
	return out
}

func wantTypes(t *testing.T, got []proto.Message, want ...string) {
	t.Helper()
	if g := fmt.Sprint(types(got)); g != fmt.Sprint(want) {
		t.Fatalf("raised %s, want %v", g, want)
	}
}

func wantStatus(t *testing.T, o *order.Order, want ordersv1.OrderStatus) {
	t.Helper()
	if got := o.Status(); got != want {
		t.Fatalf("status %s, want %s", order.StatusWord(got), order.StatusWord(want))
	}
}

// fold rebuilds an order from the events o raised.
func fold(t *testing.T, o *order.Order) *order.Order {
	t.Helper()
	r := order.New(o.Stream())
	for i, m := range o.Changes() {
		rec := events.Record{Event: events.Event{
			Envelope: events.Envelope{EventType: events.TypeName(m), Version: uint64(i + 1)},
			Message:  m,
		}}
		if err := r.Apply(rec); err != nil {
			t.Fatalf("applying event %d: %v", i+1, err)
		}
	}
	return r
}

// checkFold fails unless rebuilding o from its events gives the state its commands left.
func checkFold(t *testing.T, o *order.Order) {
	t.Helper()
	got, want := fold(t, o).Snapshot(), o.Snapshot()
	if !proto.Equal(got, want) {
		t.Fatalf("rebuilt state differs from the live state:\nrebuilt %s\nlive    %s", protojson.Format(got), protojson.Format(want))
	}
}

func domainShipMethod(code, wmsMethod string) domain.ShipMethod {
	return domain.ShipMethod{Code: code, WMSMethod: wmsMethod}
}
