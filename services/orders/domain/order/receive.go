package order

import (
	"errors"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
)

// Submission is an order as a cart submits it. Field names in errors are the snake_case names
// below (account_id, cart.connection_id, ship_to.postal_code, lines[2].sku, ...).
type Submission struct {
	// AccountID is the merchant account the order belongs to.
	AccountID string
	// AccountKind is the kind of AccountID (a merchant, as a rule).
	AccountKind connectorv1.AccountKind
	// WarehouseID is the warehouse that serves the merchant, if any.
	WarehouseID string
	// Cart is the cart connection the order comes from.
	Cart *ordersv1.Connection
	// WMS is the WMS connection the order is delivered to.
	WMS *ordersv1.Connection
	// OrderNumber is the order number, unique per cart connection.
	OrderNumber string
	// CartOrderID is the cart's own id of the order, if it differs.
	CartOrderID string
	// PlacedAt is when the customer placed the order, if known.
	PlacedAt time.Time
	// Currency is the ISO 4217 currency of the prices, if any.
	Currency string
	// ShipTo is the ship-to address.
	ShipTo *ordersv1.Address
	// ShipMethodCode is the cart's ship method code.
	ShipMethodCode string
	// Lines are the order's lines (at least one).
	Lines []*ordersv1.OrderLine
}

// Receipt says what a submission did.
type Receipt int

const (
	// Unchanged means the order was known with the same payload: nothing changed.
	Unchanged Receipt = iota
	// Received means the order is new (OrderReceived).
	Received
	// Edited means the order was known and its payload changed (OrderEdited, source cart).
	Edited
)

func (r Receipt) String() string {
	switch r {
	case Received:
		return "received"
	case Edited:
		return "edited"
	}
	return "unchanged"
}

// Receive records an order a cart submitted. The first submission receives it (OrderReceived,
// status new). A later one with the same ship-to address, ship method code and lines changes
// nothing; one with a changed payload is an edit by the cart (OrderEdited, released when the order
// was held or skipped), refused with ErrWrongState once the WMS accepted the order. The routing
// of a known order (its connections, account kind, warehouse) does not change on resubmission.
//
// The submission must belong to the order's stream (StreamOf its account, cart connection and
// order number).
func (o *Order) Receive(s Submission, now time.Time) (Receipt, error) {
	if err := s.validate(); err != nil {
		return Unchanged, err
	}
	if id := ID(s.AccountID, s.Cart.GetConnectionId(), s.OrderNumber); id != o.stream.ID || s.AccountID != o.stream.Account {
		return Unchanged, fieldErr("order_number", "order %q of account %s and cart connection %s is order %s, not %s/%s",
			s.OrderNumber, s.AccountID, s.Cart.GetConnectionId(), id, o.stream.Account, o.stream.ID)
	}
	now = utc(now)
	if o.st == nil {
		o.raise(&ordersv1.OrderReceived{
			OrderId: o.stream.ID, AccountId: s.AccountID, AccountKind: s.AccountKind, WarehouseId: s.WarehouseID,
			Cart: proto.CloneOf(s.Cart), Wms: proto.CloneOf(s.WMS), OrderNumber: s.OrderNumber,
			CartOrderId: s.CartOrderID, PlacedAt: ts(s.PlacedAt), Currency: s.Currency,
			ShipTo: proto.CloneOf(s.ShipTo), ShipMethodCode: s.ShipMethodCode, Lines: cloneLines(s.Lines),
			ReceivedAt: ts(now),
		})
		return Received, nil
	}
	changed := o.changes(s.ShipTo, s.ShipMethodCode, s.Lines)
	if len(changed) == 0 {
		return Unchanged, nil
	}
	if !o.editable() {
		return Unchanged, o.wrongState("edit")
	}
	o.edit(ordersv1.EditSource_EDIT_SOURCE_CART, "cart:"+s.Cart.GetConnectionId(), changed, s.ShipTo, s.ShipMethodCode, s.Lines, now)
	return Edited, nil
}

// Edit is a person's change of an order's payload. Unset fields stay as they are.
type Edit struct {
	// ShipTo replaces the whole ship-to address; nil keeps it.
	ShipTo *ordersv1.Address
	// ShipMethodCode replaces the cart ship method code; empty keeps it.
	ShipMethodCode string
	// Lines replace all lines; nil keeps them.
	Lines []*ordersv1.OrderLine
}

// Edit changes the order's payload (OrderEdited, source person). An edit of a held or skipped
// order releases it (OrderReleased, cause edited: status new), and the retry service restarts its
// window on the RecordUpdated report. An edit that changes nothing is a no-op. Orders the WMS
// accepted cannot be edited (ErrWrongState); a cancelled order can, and stays cancelled.
func (o *Order) Edit(e Edit, actor string, now time.Time) error {
	if err := errors.Join(ValidateEdit(e), validActor(actor)); err != nil {
		return err
	}
	if o.st == nil || !o.editable() {
		return o.wrongState("edit")
	}
	shipTo, code, lines := o.st.GetShipTo(), o.st.GetShipMethodCode(), o.st.GetLines()
	if e.ShipTo != nil {
		shipTo = e.ShipTo
	}
	if e.ShipMethodCode != "" {
		code = e.ShipMethodCode
	}
	if e.Lines != nil {
		lines = e.Lines
	}
	changed := o.changes(shipTo, code, lines)
	if len(changed) == 0 {
		return nil
	}
	o.edit(ordersv1.EditSource_EDIT_SOURCE_PERSON, actor, changed, shipTo, code, lines, utc(now))
	return nil
}

// editable reports whether the order's payload may still change: until the WMS accepted it.
func (o *Order) editable() bool {
	switch o.Status() {
	case ordersv1.OrderStatus_ORDER_STATUS_NEW, ordersv1.OrderStatus_ORDER_STATUS_ERROR,
		ordersv1.OrderStatus_ORDER_STATUS_SKIPPED, ordersv1.OrderStatus_ORDER_STATUS_CANCELED:
		return true
	}
	return false
}

// edit raises OrderEdited with the whole new payload, and OrderReleased when it frees a held or
// skipped order.
func (o *Order) edit(src ordersv1.EditSource, actor string, changed []string, shipTo *ordersv1.Address, code string, lines []*ordersv1.OrderLine, now time.Time) {
	prev := o.Status()
	o.raise(&ordersv1.OrderEdited{
		Record: o.RecordRef(), Source: src, Actor: actor, ChangedFields: changed,
		ShipTo: proto.CloneOf(shipTo), ShipMethodCode: code, Lines: cloneLines(lines), EditedAt: ts(now),
	})
	if prev == ordersv1.OrderStatus_ORDER_STATUS_ERROR || prev == ordersv1.OrderStatus_ORDER_STATUS_SKIPPED {
		o.raise(&ordersv1.OrderReleased{
			Record: o.RecordRef(), Cause: ordersv1.ReleaseCause_RELEASE_CAUSE_EDITED, Actor: actor,
			PreviousStatus: prev, ReleasedAt: ts(now),
		})
	}
}

// changes names the payload fields that differ from the order's: "ship_to.<field>",
// "ship_method", "lines".
func (o *Order) changes(shipTo *ordersv1.Address, code string, lines []*ordersv1.OrderLine) []string {
	var out []string
	old := o.st.GetShipTo()
	fields := []struct {
		name     string
		was, now string
	}{
		{"name", old.GetName(), shipTo.GetName()},
		{"company", old.GetCompany(), shipTo.GetCompany()},
		{"address1", old.GetAddress1(), shipTo.GetAddress1()},
		{"address2", old.GetAddress2(), shipTo.GetAddress2()},
		{"city", old.GetCity(), shipTo.GetCity()},
		{"region", old.GetRegion(), shipTo.GetRegion()},
		{"postal_code", old.GetPostalCode(), shipTo.GetPostalCode()},
		{"country_code", old.GetCountryCode(), shipTo.GetCountryCode()},
		{"phone", old.GetPhone(), shipTo.GetPhone()},
		{"email", old.GetEmail(), shipTo.GetEmail()},
	}
	for _, f := range fields {
		if f.was != f.now {
			out = append(out, "ship_to."+f.name)
		}
	}
	if len(out) == 0 && !proto.Equal(old, shipTo) {
		out = append(out, "ship_to") // a field this code does not name
	}
	if code != o.st.GetShipMethodCode() {
		out = append(out, "ship_method")
	}
	if !slices.EqualFunc(lines, o.st.GetLines(), func(a, b *ordersv1.OrderLine) bool { return proto.Equal(a, b) }) {
		out = append(out, "lines")
	}
	return out
}

func cloneLines(lines []*ordersv1.OrderLine) []*ordersv1.OrderLine {
	out := make([]*ordersv1.OrderLine, len(lines))
	for i, l := range lines {
		out[i] = proto.CloneOf(l)
	}
	return out
}
