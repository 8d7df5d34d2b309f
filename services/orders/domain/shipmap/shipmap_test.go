package shipmap_test

import (
	"errors"
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain"
	"github.com/reboundhq/rebound/services/orders/domain/internal/golden"
	"github.com/reboundhq/rebound/services/orders/domain/order"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 250_000_000, time.UTC)

const (
	account = "merchant-1"
	cartID  = "shop-1"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newMappings() *shipmap.Mappings { return shipmap.New(shipmap.Stream(account, cartID)) }

func raisedTypes(m *shipmap.Mappings, from int) []string {
	var out []string
	for _, e := range m.Changes()[from:] {
		out = append(out, events.ShortType(events.TypeName(e)))
	}
	return out
}

func fold(t *testing.T, m *shipmap.Mappings) *shipmap.Mappings {
	t.Helper()
	r := shipmap.New(m.Stream())
	for _, rec := range golden.Records(m.Changes()) {
		must(t, r.Apply(rec))
	}
	return r
}

func checkFold(t *testing.T, m *shipmap.Mappings) {
	t.Helper()
	if got, want := fold(t, m).Snapshot(), m.Snapshot(); !proto.Equal(got, want) {
		t.Fatalf("rebuilt %s\nlive %s", protojson.Format(got), protojson.Format(want))
	}
}

func TestMappings_setRemoveAndResolve(t *testing.T) {
	t.Parallel()
	m := newMappings()
	if got := m.Resolve("Express"); got.Mapped() || got.Code != "Express" {
		t.Fatalf("an empty mapping resolves %+v", got)
	}
	must(t, m.Set(" Express ", "UPS_2ND_DAY_AIR", "ops@example.com", t0))
	must(t, m.Set("Standard", "UPS_GROUND", "ops@example.com", t0.Add(time.Minute)))
	if got := m.Resolve("Express"); got != (domain.ShipMethod{Code: "Express", WMSMethod: "UPS_2ND_DAY_AIR"}) {
		t.Fatalf("resolved %+v", got)
	}
	// Saving the same mapping again changes nothing; a new target records the previous one.
	n := len(m.Changes())
	must(t, m.Set("Express", "UPS_2ND_DAY_AIR", "", t0))
	if len(m.Changes()) != n {
		t.Fatalf("an unchanged mapping raised %v", raisedTypes(m, n))
	}
	must(t, m.Set("Express", "FEDEX_2DAY", "", t0.Add(2*time.Minute)))
	if set := m.Changes()[n].(*ordersv1.ShipMethodMappingSet); set.GetPreviousWmsShipMethod() != "UPS_2ND_DAY_AIR" || set.GetCartConnectionId() != cartID {
		t.Fatalf("set %v", set)
	}
	must(t, m.Remove("Standard", "ops@example.com", t0.Add(3*time.Minute)))
	n = len(m.Changes())
	must(t, m.Remove("Standard", "", t0))
	must(t, m.Remove("Never", "", t0))
	if len(m.Changes()) != n {
		t.Fatalf("removing a missing mapping raised %v", raisedTypes(m, n))
	}
	if m.Resolve("Standard").Mapped() {
		t.Fatal("a removed mapping still resolves")
	}
	snap := m.Snapshot()
	if len(snap.GetMappings()) != 1 || snap.GetMappings()[0].GetWmsShipMethod() != "FEDEX_2DAY" || snap.GetAccountId() != account ||
		!snap.GetUpdatedAt().AsTime().Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("snapshot %v", snap)
	}
	checkFold(t, m)
}

func TestMappings_passThroughSendsUnmappedCodesAsTheyAre(t *testing.T) {
	t.Parallel()
	m := newMappings()
	must(t, m.Set("Express", "UPS_2ND_DAY_AIR", "", t0))
	must(t, m.SetPassThrough(true, "ops@example.com", t0.Add(time.Minute)))
	if got := m.Resolve("Pickup"); got != (domain.ShipMethod{Code: "Pickup", WMSMethod: "Pickup", PassThrough: true}) {
		t.Fatalf("pass-through resolved %+v", got)
	}
	if got := m.Resolve("Express"); got.PassThrough || got.WMSMethod != "UPS_2ND_DAY_AIR" {
		t.Fatalf("a mapped code under pass-through resolved %+v", got)
	}
	n := len(m.Changes())
	must(t, m.SetPassThrough(true, "", t0))
	if len(m.Changes()) != n {
		t.Fatal("setting pass-through again raised an event")
	}
	must(t, m.SetPassThrough(false, "", t0.Add(2*time.Minute)))
	if m.Resolve("Pickup").Mapped() || m.PassThrough() {
		t.Fatal("pass-through is still on")
	}
	checkFold(t, m)
}

func TestMappings_validates(t *testing.T) {
	t.Parallel()
	m := newMappings()
	for _, err := range []error{
		m.Set("", "UPS", "", t0),
		m.Set("Express", " ", "", t0),
		m.Set("Express", strings.Repeat("x", 300), "", t0),
		m.Remove("", "", t0),
		m.SetPassThrough(true, "\xff", t0),
	} {
		if !errors.Is(err, events.ErrInvalidArgument) {
			t.Errorf("err = %v, want ErrInvalidArgument", err)
		}
	}
	if len(m.Changes()) != 0 {
		t.Fatal("invalid commands raised events")
	}
}

// heldOrder returns an order of the cart connection held on ship_method_unmapped with code.
func heldOrder(t *testing.T, number, code string) *order.Order {
	t.Helper()
	o := receivedOrder(t, number, code)
	must(t, o.AttemptDelivery(o.NextAttemptID(), ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, domain.ShipMethod{Code: code}, t0))
	return o
}

func receivedOrder(t *testing.T, number, code string) *order.Order {
	t.Helper()
	o := order.New(order.StreamOf(account, cartID, number))
	_, err := o.Receive(order.Submission{
		AccountID: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		Cart:        &ordersv1.Connection{ConnectionId: cartID, System: "shopify"},
		WMS:         &ordersv1.Connection{ConnectionId: "wms-1", System: "sandbox-wms"},
		OrderNumber: number, ShipTo: &ordersv1.Address{Name: "A", Address1: "1 Road", City: "X", PostalCode: "1", CountryCode: "US"},
		ShipMethodCode: code, Lines: []*ordersv1.OrderLine{{Sku: "S", Quantity: 1}},
	}, t0)
	must(t, err)
	return o
}

// TestReleaseRule: saving a mapping releases every order held on that code at once — and no
// other; turning pass-through on releases every order held on an unmapped code.
func TestReleaseRule_savingAMappingReleasesEveryOrderHeldOnTheCode(t *testing.T) {
	t.Parallel()
	heldExpress1 := heldOrder(t, "#1", "Express")
	heldExpress2 := heldOrder(t, "#2", "Express")
	heldPickup := heldOrder(t, "#3", "Pickup")
	addressHeld := receivedOrder(t, "#4", "Express")
	id := addressHeld.NextAttemptID()
	must(t, addressHeld.AttemptDelivery(id, ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, domain.ShipMethod{Code: "Express", WMSMethod: "OLD"}, t0))
	must(t, addressHeld.RecordFailure(order.Failure{AttemptID: id, HTTPStatus: 422, Code: "INVALID_ADDRESS", Message: "bad"},
		order.Classification{Class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION, AlertType: "address_invalid"}, t0))
	notHeld := receivedOrder(t, "#5", "Express")
	fleet := []*order.Order{heldExpress1, heldExpress2, heldPickup, addressHeld, notHeld}

	// releaseAll is what the app does for a mappings event: offer every order the release could
	// concern the code's resolution now.
	release := func(m *shipmap.Mappings, ev proto.Message) []string {
		rel, ok := shipmap.Releases(ev)
		if !ok {
			return nil
		}
		var released []string
		for _, o := range fleet {
			if o.CartConnectionID() != rel.CartConnectionID || (!rel.AllCodes && o.ShipMethodCode() != rel.Code) {
				continue
			}
			n := len(o.Changes())
			must(t, o.ReleaseShipMethod(m.Resolve(o.ShipMethodCode()), "ops@example.com", t0.Add(time.Hour)))
			if len(o.Changes()) > n {
				released = append(released, o.Snapshot().GetOrderNumber())
			}
		}
		return released
	}

	m := newMappings()
	must(t, m.Set("Express", "UPS_2ND_DAY_AIR", "ops@example.com", t0.Add(time.Hour)))
	if got := release(m, m.Changes()[0]); !slices.Equal(got, []string{"#1", "#2"}) {
		t.Fatalf("mapping Express released %v, want [#1 #2]", got)
	}
	for _, o := range []*order.Order{heldExpress1, heldExpress2} {
		if s := o.Snapshot(); s.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_NEW || s.GetWmsShipMethod() != "UPS_2ND_DAY_AIR" {
			t.Fatalf("released order %v", s)
		}
	}
	if heldPickup.Status() != ordersv1.OrderStatus_ORDER_STATUS_ERROR || addressHeld.Status() != ordersv1.OrderStatus_ORDER_STATUS_ERROR {
		t.Fatal("an order held for another code or reason was released")
	}
	// Removing a mapping releases nothing.
	must(t, m.Remove("Express", "", t0.Add(2*time.Hour)))
	if got := release(m, m.Changes()[1]); got != nil {
		t.Fatalf("a removal released %v", got)
	}
	must(t, m.SetPassThrough(true, "ops@example.com", t0.Add(3*time.Hour)))
	if got := release(m, m.Changes()[2]); !slices.Equal(got, []string{"#3"}) {
		t.Fatalf("pass-through released %v, want [#3]", got)
	}
	if s := heldPickup.Snapshot(); s.GetWmsShipMethod() != "Pickup" || !s.GetShipMethodPassedThrough() {
		t.Fatalf("passed-through order %v", s)
	}
	if rel, ok := shipmap.Releases(&ordersv1.ShipMethodPassThroughChanged{PassThrough: false}); ok {
		t.Fatalf("pass-through off releases %+v", rel)
	}
}

var (
	recordGolden  = flag.Bool("record", false, "record the golden histories of scenarios that have none yet")
	goldenReg     = events.NewRegistry(shipmap.EventTypes()...)
	goldenHistory = map[string]func(t *testing.T) *shipmap.Mappings{
		"mapped_remapped_removed_pass_through": func(t *testing.T) *shipmap.Mappings {
			m := newMappings()
			must(t, m.Set("Express", "UPS_2ND_DAY_AIR", "ops@example.com", t0))
			must(t, m.Set("Standard", "UPS_GROUND", "ops@example.com", t0.Add(time.Minute)))
			must(t, m.Set("Express", "FEDEX_2DAY", "api-key:k1", t0.Add(time.Hour)))
			must(t, m.SetPassThrough(true, "ops@example.com", t0.Add(2*time.Hour)))
			must(t, m.Remove("Standard", "ops@example.com", t0.Add(3*time.Hour)))
			return m
		},
	}
)

func TestGolden_historiesRebuildTheRecordedState(t *testing.T) {
	t.Parallel()
	for name, run := range goldenHistory {
		if *recordGolden {
			m := run(t)
			checkFold(t, m)
			golden.Write(t, name, m.Changes(), m.Snapshot())
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			msgs := golden.Read(t, golden.HistoryPath(name), goldenReg)
			first := msgs[0].(*ordersv1.ShipMethodMappingSet)
			m := shipmap.New(shipmap.Stream(first.GetAccountId(), first.GetCartConnectionId()))
			for i, rec := range golden.Records(msgs) {
				if err := m.Apply(rec); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
			}
			golden.EqualState(t, golden.StatePath(name), m.Snapshot())
			if got := run(t).Changes(); !equalAll(got, msgs) {
				t.Fatalf("the scenario no longer raises the recorded history")
			}
		})
	}
	if files, _ := filepath.Glob(filepath.Join("testdata", "*.events.jsonl")); len(files) != len(goldenHistory) {
		t.Errorf("testdata holds %d histories, the test knows %d", len(files), len(goldenHistory))
	}
}

func equalAll(a, b []proto.Message) bool {
	return slices.EqualFunc(a, b, func(x, y proto.Message) bool { return proto.Equal(x, y) })
}
