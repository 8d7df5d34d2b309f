package sandbox

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/reboundhq/rebound/services/orders/outbound/cart"
)

// StoredFulfillment is a fulfillment (tracking push) the sandbox cart holds.
type StoredFulfillment struct {
	// Connection is the cart connection it came in on.
	Connection string `json:"connection"`
	// FulfillmentID is the id the cart gave it.
	FulfillmentID string `json:"fulfillment_id"`
	// IdempotencyKey is the key it was created with, if any.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Fulfillment is the fulfillment as received.
	Fulfillment cart.Fulfillment `json:"fulfillment"`
	// ReceivedAt is when it was created.
	ReceivedAt time.Time `json:"received_at"`
	// Duplicates counts the repeats answered with it.
	Duplicates int `json:"duplicates"`
}

// StoredInventory is an inventory level the sandbox cart holds.
type StoredInventory struct {
	// Connection is the cart connection.
	Connection string `json:"connection"`
	// SKU is the product SKU.
	SKU string `json:"sku"`
	// Available is the last level pushed.
	Available int64 `json:"available"`
	// Updates counts the pushes for the SKU.
	Updates int `json:"updates"`
	// UpdatedAt is when the last push arrived.
	UpdatedAt time.Time `json:"updated_at"`
}

type cartConn struct {
	byKey        map[string]*StoredFulfillment
	fulfillments []*StoredFulfillment
	inventory    map[string]*StoredInventory
}

// Cart is the sandbox cart: an http.Handler serving the Rebound cart API (outbound/cart) for any
// number of connections under /cart/{connection}/, and its admin API under /admin/. It keeps
// everything in memory. Safe for concurrent use.
type Cart struct {
	faults *faults
	token  string
	mux    *http.ServeMux
	stats  counters

	mu    sync.Mutex
	conns map[string]*cartConn
	seq   uint64
}

// NewCart returns a sandbox cart. It requires cfg.Token as bearer token when set and draws flaky
// failures from cfg.Seed.
func NewCart(cfg Config, logger *slog.Logger) *Cart {
	cfg = cfg.withDefaults()
	c := &Cart{faults: newFaults(false, cfg.Seed+1), token: cfg.Token, mux: http.NewServeMux(), conns: make(map[string]*cartConn)}
	c.mux.HandleFunc("POST /cart/{conn}/v1/fulfillments", c.createFulfillment)
	c.mux.HandleFunc("POST /cart/{conn}/v1/inventory_levels", c.setInventory)
	adminFailures(c.mux, c.faults, func(conn string, fl *Failure) { logChange(logger, "cart", conn, fl) })
	c.mux.HandleFunc("GET /admin/fulfillments", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string][]StoredFulfillment{"fulfillments": c.Fulfillments(r.URL.Query().Get("connection"))})
	})
	c.mux.HandleFunc("GET /admin/inventory", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string][]StoredInventory{"inventory": c.Inventory(r.URL.Query().Get("connection"))})
	})
	c.mux.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, c.Stats()) })
	c.mux.HandleFunc("POST /admin/reset", func(w http.ResponseWriter, r *http.Request) {
		c.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	return c
}

// ServeHTTP serves the cart API and the admin API.
func (c *Cart) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Stats returns what the cart did.
func (c *Cart) Stats() Stats {
	return Stats{
		Requests: c.stats.requests.Load(), Created: c.stats.created.Load(), Duplicates: c.stats.duplicates.Load(),
		Rejected: c.stats.rejected.Load(), Injected: c.faults.injected.Load(),
	}
}

// Reset forgets every fulfillment, inventory level, failure mode and count.
func (c *Cart) Reset() {
	c.mu.Lock()
	c.conns = make(map[string]*cartConn)
	c.mu.Unlock()
	c.faults.clearAll()
	c.faults.injected.Store(0)
	c.stats.reset()
}

func (c *Cart) connLocked(name string) *cartConn {
	cc, ok := c.conns[name]
	if !ok {
		cc = &cartConn{byKey: make(map[string]*StoredFulfillment), inventory: make(map[string]*StoredInventory)}
		c.conns[name] = cc
	}
	return cc
}

func (c *Cart) api(w http.ResponseWriter, r *http.Request) (Failure, bool) {
	c.stats.requests.Add(1)
	if !authorized(w, r, c.token) {
		return Failure{}, false
	}
	fl, hit := c.faults.pick(r.PathValue("conn"))
	if hit && inject(w, fl) {
		return Failure{}, false
	}
	return fl, true
}

func (c *Cart) createFulfillment(w http.ResponseWriter, r *http.Request) {
	fl, ok := c.api(w, r)
	if !ok {
		return
	}
	var f cart.Fulfillment
	if !decode(w, r, &f) {
		c.stats.rejected.Add(1)
		return
	}
	var problems []string
	if strings.TrimSpace(f.OrderNumber) == "" && strings.TrimSpace(f.CartOrderID) == "" {
		problems = append(problems, "order_number or cart_order_id is required")
	}
	if strings.TrimSpace(f.Carrier) == "" {
		problems = append(problems, "carrier is required")
	}
	if strings.TrimSpace(f.TrackingNumber) == "" {
		problems = append(problems, "tracking_number is required")
	}
	if len(problems) > 0 {
		c.stats.rejected.Add(1)
		hold(r, fl)
		writeError(w, http.StatusUnprocessableEntity, "VALIDATION_FAILED", "Fulfillment is invalid: "+strings.Join(problems, "; "))
		return
	}
	conn, key := r.PathValue("conn"), r.Header.Get("Idempotency-Key")
	c.mu.Lock()
	cc := c.connLocked(conn)
	if prev, dup := cc.byKey[key]; key != "" && dup {
		prev.Duplicates++
		id := prev.FulfillmentID
		c.mu.Unlock()
		c.stats.duplicates.Add(1)
		hold(r, fl)
		writeJSON(w, http.StatusOK, cart.FulfillmentReceipt{FulfillmentID: id, Duplicate: true})
		return
	}
	c.seq++
	sf := &StoredFulfillment{Connection: conn, FulfillmentID: fmt.Sprintf("FUL-%07d", c.seq), IdempotencyKey: key, Fulfillment: f, ReceivedAt: time.Now().UTC()}
	if key != "" {
		cc.byKey[key] = sf
	}
	cc.fulfillments = append(cc.fulfillments, sf)
	c.mu.Unlock()
	c.stats.created.Add(1)
	hold(r, fl)
	writeJSON(w, http.StatusCreated, cart.FulfillmentReceipt{FulfillmentID: sf.FulfillmentID})
}

func (c *Cart) setInventory(w http.ResponseWriter, r *http.Request) {
	fl, ok := c.api(w, r)
	if !ok {
		return
	}
	var l cart.InventoryLevel
	if !decode(w, r, &l) {
		c.stats.rejected.Add(1)
		return
	}
	if strings.TrimSpace(l.SKU) == "" {
		c.stats.rejected.Add(1)
		hold(r, fl)
		writeError(w, http.StatusUnprocessableEntity, "VALIDATION_FAILED", "Inventory level is invalid: sku is required")
		return
	}
	now := time.Now().UTC()
	c.mu.Lock()
	cc := c.connLocked(r.PathValue("conn"))
	si, ok := cc.inventory[l.SKU]
	if !ok {
		si = &StoredInventory{Connection: r.PathValue("conn"), SKU: l.SKU}
		cc.inventory[l.SKU] = si
	}
	si.Available, si.UpdatedAt = l.Available, now
	si.Updates++
	c.mu.Unlock()
	c.stats.created.Add(1)
	hold(r, fl)
	writeJSON(w, http.StatusOK, cart.InventoryLevel{SKU: l.SKU, Available: l.Available, UpdatedAt: &now})
}

// Fulfillments returns the fulfillments the cart holds on a connection (every connection when
// empty), oldest first per connection.
func (c *Cart) Fulfillments(conn string) []StoredFulfillment {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []StoredFulfillment{}
	for _, n := range c.namesLocked(conn) {
		for _, f := range c.conns[n].fulfillments {
			out = append(out, *f)
		}
	}
	return out
}

// Inventory returns the inventory levels the cart holds on a connection (every connection when
// empty), by SKU.
func (c *Cart) Inventory(conn string) []StoredInventory {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []StoredInventory{}
	for _, n := range c.namesLocked(conn) {
		start := len(out)
		for _, si := range c.conns[n].inventory {
			out = append(out, *si)
		}
		slices.SortFunc(out[start:], func(a, b StoredInventory) int { return strings.Compare(a.SKU, b.SKU) })
	}
	return out
}

func (c *Cart) namesLocked(conn string) []string {
	names := make([]string, 0, len(c.conns))
	for n := range c.conns {
		if conn == "" || n == conn {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}
