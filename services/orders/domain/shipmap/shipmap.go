// Package shipmap is the ShipMethodMappings aggregate: how the ship method codes of one cart
// connection of a merchant map to the ship methods of the WMS, stored as
// evt.shipmap.<account>.<cart connection id>.<EventType>.
//
// An order whose cart code has no mapping is held before it is sent (order.AttemptDelivery with
// an unmapped domain.ShipMethod: reason ship_method_unmapped). Saving a mapping for that code
// releases every order held on it at once (Releases, then order.ReleaseShipMethod on each);
// turning pass-through on — unmapped codes are sent to the WMS as they are — releases every order
// of the connection held on an unmapped code.
//
// Codes match exactly (they are the cart's machine codes), after trimming surrounding spaces.
// Bad input is a *connector.FieldError naming the field; commands that change nothing (saving
// the same mapping, removing a missing one) raise nothing.
package shipmap

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/orders/domain"
)

// AggregateType is the aggregate type of ship method mappings: their events are stored on
// evt.shipmap.<account>.<cart connection id>.<EventType>. A persisted identifier.
const AggregateType = "shipmap"

// Stream returns the stream of the mappings of one cart connection of an account.
func Stream(account, cartConnectionID string) events.StreamID {
	return events.StreamID{AggregateType: AggregateType, Account: account, ID: cartConnectionID}
}

// EventTypes lists every event the aggregate stores, for the service's registry.
func EventTypes() []proto.Message {
	return []proto.Message{
		&ordersv1.ShipMethodMappingSet{}, &ordersv1.ShipMethodMappingRemoved{}, &ordersv1.ShipMethodPassThroughChanged{},
	}
}

// Mappings is the ship method mappings of one cart connection. Build empty ones with New; they
// change only by folding events (Apply) or by commands. Not safe for concurrent use.
type Mappings struct {
	aggregate.Recorder

	stream      events.StreamID
	passThrough bool
	byCode      map[string]*ordersv1.ShipMethodMapping
	updatedAt   *timestamppb.Timestamp
}

var _ aggregate.Root = (*Mappings)(nil)

// New returns the empty mappings of a stream (see Stream); it is the factory for
// aggregate.NewRepository.
func New(stream events.StreamID) *Mappings {
	return &Mappings{stream: stream, byCode: make(map[string]*ordersv1.ShipMethodMapping)}
}

// Stream returns the mappings' stream.
func (m *Mappings) Stream() events.StreamID { return m.stream }

// PassThrough reports whether unmapped codes are sent as they are.
func (m *Mappings) PassThrough() bool { return m.passThrough }

// Resolve returns what a cart code resolves to: its mapping, else the code itself when
// pass-through is on, else unmapped (an empty WMSMethod).
func (m *Mappings) Resolve(code string) domain.ShipMethod {
	out := domain.ShipMethod{Code: code}
	if mp, ok := m.byCode[strings.TrimSpace(code)]; ok {
		out.WMSMethod = mp.GetWmsShipMethod()
	} else if m.passThrough && strings.TrimSpace(code) != "" {
		out.WMSMethod, out.PassThrough = code, true
	}
	return out
}

// Snapshot returns the mappings as the query message, sorted by code.
func (m *Mappings) Snapshot() *ordersv1.ShipMethodMappings {
	out := &ordersv1.ShipMethodMappings{
		AccountId: m.stream.Account, CartConnectionId: m.stream.ID, PassThrough: m.passThrough,
		UpdatedAt: m.updatedAt,
	}
	for _, mp := range m.byCode {
		out.Mappings = append(out.Mappings, proto.CloneOf(mp))
	}
	slices.SortFunc(out.Mappings, func(a, b *ordersv1.ShipMethodMapping) int {
		return strings.Compare(a.GetShipMethodCode(), b.GetShipMethodCode())
	})
	return out
}

// Set maps a cart code to a WMS ship method (ShipMethodMappingSet). Saving the mapping the code
// already has changes nothing. The app then releases the orders held on the code (Releases).
func (m *Mappings) Set(code, wmsMethod, actor string, now time.Time) error {
	code, wmsMethod = strings.TrimSpace(code), strings.TrimSpace(wmsMethod)
	if err := errors.Join(text("ship_method_code", code, true), text("wms_ship_method", wmsMethod, true), text("actor", actor, false)); err != nil {
		return err
	}
	prev := m.byCode[code].GetWmsShipMethod()
	if prev == wmsMethod {
		return nil
	}
	m.raise(&ordersv1.ShipMethodMappingSet{
		AccountId: m.stream.Account, CartConnectionId: m.stream.ID, ShipMethodCode: code,
		WmsShipMethod: wmsMethod, PreviousWmsShipMethod: prev, Actor: actor, SetAt: ts(now),
	})
	return nil
}

// Remove removes a code's mapping (ShipMethodMappingRemoved); orders with that code are held
// from their next attempt on, unless pass-through is on. Removing a missing mapping changes
// nothing.
func (m *Mappings) Remove(code, actor string, now time.Time) error {
	code = strings.TrimSpace(code)
	if err := errors.Join(text("ship_method_code", code, true), text("actor", actor, false)); err != nil {
		return err
	}
	mp, ok := m.byCode[code]
	if !ok {
		return nil
	}
	m.raise(&ordersv1.ShipMethodMappingRemoved{
		AccountId: m.stream.Account, CartConnectionId: m.stream.ID, ShipMethodCode: code,
		PreviousWmsShipMethod: mp.GetWmsShipMethod(), Actor: actor, RemovedAt: ts(now),
	})
	return nil
}

// SetPassThrough turns passing unmapped codes through on or off (ShipMethodPassThroughChanged).
// Setting what is already set changes nothing.
func (m *Mappings) SetPassThrough(on bool, actor string, now time.Time) error {
	if err := text("actor", actor, false); err != nil {
		return err
	}
	if on == m.passThrough {
		return nil
	}
	m.raise(&ordersv1.ShipMethodPassThroughChanged{
		AccountId: m.stream.Account, CartConnectionId: m.stream.ID, PassThrough: on, Actor: actor, ChangedAt: ts(now),
	})
	return nil
}

// Release names the held orders a mappings event releases: those of the account's cart
// connection held on ship_method_unmapped with the code Code, or with any code when AllCodes.
type Release struct {
	// Account is the merchant account.
	Account string
	// CartConnectionID is the cart connection.
	CartConnectionID string
	// Code is the released cart code; empty when AllCodes.
	Code string
	// AllCodes is true when every unmapped code is released (pass-through turned on).
	AllCodes bool
}

// Releases returns the orders an event of the aggregate releases: a saved mapping releases the
// orders held on its code, pass-through turned on releases every order of the connection held on
// an unmapped code. Other events release nothing (false). For each such order the app calls
// order.ReleaseShipMethod with Resolve of the order's code, which releases exactly the orders
// still held on it.
func Releases(msg proto.Message) (Release, bool) {
	switch e := msg.(type) {
	case *ordersv1.ShipMethodMappingSet:
		return Release{Account: e.GetAccountId(), CartConnectionID: e.GetCartConnectionId(), Code: e.GetShipMethodCode()}, true
	case *ordersv1.ShipMethodPassThroughChanged:
		if e.GetPassThrough() {
			return Release{Account: e.GetAccountId(), CartConnectionID: e.GetCartConnectionId(), AllCodes: true}, true
		}
	}
	return Release{}, false
}

// Apply folds one stored event into the state.
func (m *Mappings) Apply(r events.Record) error {
	if err := r.Decoded(); err != nil {
		return err
	}
	return m.apply(r.Message)
}

func (m *Mappings) raise(msg proto.Message) {
	if err := m.apply(msg); err != nil {
		panic(fmt.Sprintf("shipmap: applying own event: %v", err)) // every raised type is handled
	}
	m.Raise(msg)
}

func (m *Mappings) apply(msg proto.Message) error {
	switch e := msg.(type) {
	case *ordersv1.ShipMethodMappingSet:
		m.byCode[e.GetShipMethodCode()] = &ordersv1.ShipMethodMapping{
			ShipMethodCode: e.GetShipMethodCode(), WmsShipMethod: e.GetWmsShipMethod(), Actor: e.GetActor(), UpdatedAt: e.GetSetAt(),
		}
		m.updatedAt = e.GetSetAt()
	case *ordersv1.ShipMethodMappingRemoved:
		delete(m.byCode, e.GetShipMethodCode())
		m.updatedAt = e.GetRemovedAt()
	case *ordersv1.ShipMethodPassThroughChanged:
		m.passThrough = e.GetPassThrough()
		m.updatedAt = e.GetChangedAt()
	default:
		return fmt.Errorf("shipmap: %w", &events.UnknownTypeError{Type: events.TypeName(msg)})
	}
	return nil
}

func text(field, v string, required bool) error {
	switch {
	case required && v == "":
		return &connector.FieldError{Field: field, Reason: "is required"}
	case len(v) > connector.MaxRefLen:
		return &connector.FieldError{Field: field, Reason: fmt.Sprintf("is %d bytes long; at most %d", len(v), connector.MaxRefLen)}
	case !utf8.ValidString(v):
		return &connector.FieldError{Field: field, Reason: "is not valid UTF-8"}
	}
	return nil
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t.UTC()) }
