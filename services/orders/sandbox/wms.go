package sandbox

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reboundhq/rebound/services/orders/outbound/wms"
)

// DefaultShipMethods are the ship methods the sandbox WMS knows unless configured otherwise.
var DefaultShipMethods = []string{"UPS_GROUND", "UPS_2ND_DAY_AIR", "UPS_NEXT_DAY_AIR", "FEDEX_GROUND", "FEDEX_2DAY", "USPS_PRIORITY", "USPS_FIRST_CLASS", "DHL_EXPRESS"}

// StoredOrder is an order the sandbox WMS holds, as the admin API shows it.
type StoredOrder struct {
	// Connection is the WMS connection the order came in on.
	Connection string `json:"connection"`
	// WMSOrderID is the id the WMS gave it.
	WMSOrderID string `json:"wms_order_id"`
	// IdempotencyKey is the key it was created with, if any.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Order is the order as received.
	Order wms.Order `json:"order"`
	// ReceivedAt is when it was created.
	ReceivedAt time.Time `json:"received_at"`
	// Duplicates counts the repeats answered with this order.
	Duplicates int `json:"duplicates"`
	// Shipments counts its shipments.
	Shipments int `json:"shipments"`
}

// ShipRequest is the admin request to ship an order; empty fields get sandbox values.
type ShipRequest struct {
	Carrier        string `json:"carrier,omitempty"`
	Service        string `json:"service,omitempty"`
	TrackingNumber string `json:"tracking_number,omitempty"`
	TrackingURL    string `json:"tracking_url,omitempty"`
}

type wmsConn struct {
	byKey     map[string]*StoredOrder
	orders    []*StoredOrder
	shipments []wms.Shipment
	stock     map[string]int64
}

// WMS is the sandbox WMS: an http.Handler serving the Rebound WMS API (outbound/wms) for any
// number of connections under /wms/{connection}/, and its admin API under /admin/. It keeps
// everything in memory. Safe for concurrent use.
type WMS struct {
	faults  *faults
	methods map[string]struct{}
	listed  string
	token   string
	logger  *slog.Logger
	mux     *http.ServeMux
	stats   counters

	mu      sync.Mutex
	conns   map[string]*wmsConn
	byID    map[string]*StoredOrder
	idSeq   uint64
	shipSeq uint64
}

// NewWMS returns a sandbox WMS. It accepts the ship methods in cfg (DefaultShipMethods when
// none), requires cfg.Token as bearer token when set, and draws flaky failures from cfg.Seed.
func NewWMS(cfg Config, logger *slog.Logger) *WMS {
	cfg = cfg.withDefaults()
	w := &WMS{
		faults: newFaults(true, cfg.Seed), methods: make(map[string]struct{}), token: cfg.Token,
		logger: logger, mux: http.NewServeMux(),
	}
	for _, m := range cfg.ShipMethods {
		w.methods[m] = struct{}{}
	}
	w.listed = strings.Join(cfg.ShipMethods, ", ")
	w.resetData()
	w.mux.HandleFunc("POST /wms/{conn}/v1/orders", w.createOrder)
	w.mux.HandleFunc("GET /wms/{conn}/v1/orders/{id}", w.getOrder)
	w.mux.HandleFunc("GET /wms/{conn}/v1/shipments", w.listShipments)
	w.mux.HandleFunc("GET /wms/{conn}/v1/inventory", w.listInventory)
	adminFailures(w.mux, w.faults, func(conn string, fl *Failure) { logChange(logger, "wms", conn, fl) })
	w.mux.HandleFunc("GET /admin/orders", w.adminOrders)
	w.mux.HandleFunc("POST /admin/orders/{id}/ship", w.adminShip)
	w.mux.HandleFunc("PUT /admin/stock/{conn}", w.adminStock)
	w.mux.HandleFunc("GET /admin/stats", func(rw http.ResponseWriter, r *http.Request) { writeJSON(rw, http.StatusOK, w.Stats()) })
	w.mux.HandleFunc("POST /admin/reset", func(rw http.ResponseWriter, r *http.Request) {
		w.Reset()
		rw.WriteHeader(http.StatusNoContent)
	})
	return w
}

// ServeHTTP serves the WMS API and the admin API.
func (w *WMS) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.mux.ServeHTTP(rw, r) }

// Stats returns what the WMS did.
func (w *WMS) Stats() Stats {
	return Stats{
		Requests: w.stats.requests.Load(), Created: w.stats.created.Load(), Duplicates: w.stats.duplicates.Load(),
		Rejected: w.stats.rejected.Load(), Injected: w.faults.injected.Load(),
	}
}

// Reset forgets every order, shipment, failure mode and count.
func (w *WMS) Reset() {
	w.resetData()
	w.faults.clearAll()
	w.faults.injected.Store(0)
	w.stats.reset()
}

func (w *WMS) resetData() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conns = make(map[string]*wmsConn)
	w.byID = make(map[string]*StoredOrder)
}

func (w *WMS) connLocked(name string) *wmsConn {
	c, ok := w.conns[name]
	if !ok {
		c = &wmsConn{byKey: make(map[string]*StoredOrder), stock: make(map[string]int64)}
		w.conns[name] = c
	}
	return c
}

// api runs what every API request shares: counting, the token, and the failure modes that answer
// before any work. It returns the slow mode to apply after the work, and false when it answered.
func (w *WMS) api(rw http.ResponseWriter, r *http.Request) (Failure, bool) {
	w.stats.requests.Add(1)
	if !authorized(rw, r, w.token) {
		return Failure{}, false
	}
	fl, hit := w.faults.pick(r.PathValue("conn"))
	if hit && inject(rw, fl) {
		return Failure{}, false
	}
	return fl, true
}

func (w *WMS) createOrder(rw http.ResponseWriter, r *http.Request) {
	fl, ok := w.api(rw, r)
	if !ok {
		return
	}
	var o wms.Order
	if !decode(rw, r, &o) {
		w.stats.rejected.Add(1)
		return
	}
	conn, key := r.PathValue("conn"), r.Header.Get("Idempotency-Key")

	w.mu.Lock()
	if key != "" {
		if prev, dup := w.connLocked(conn).byKey[key]; dup {
			prev.Duplicates++
			id := prev.WMSOrderID
			w.mu.Unlock()
			w.stats.duplicates.Add(1)
			hold(r, fl)
			writeJSON(rw, http.StatusOK, wms.Acceptance{WMSOrderID: id, Duplicate: true})
			return
		}
	}
	w.mu.Unlock()

	if status, code, msg := w.check(o, fl); status != 0 {
		w.stats.rejected.Add(1)
		hold(r, fl)
		writeError(rw, status, code, msg)
		return
	}

	w.mu.Lock()
	c := w.connLocked(conn)
	if prev, dup := c.byKey[key]; key != "" && dup { // a concurrent repeat got in first
		prev.Duplicates++
		id := prev.WMSOrderID
		w.mu.Unlock()
		w.stats.duplicates.Add(1)
		writeJSON(rw, http.StatusOK, wms.Acceptance{WMSOrderID: id, Duplicate: true})
		return
	}
	w.idSeq++
	so := &StoredOrder{Connection: conn, WMSOrderID: fmt.Sprintf("WMS-%07d", w.idSeq), IdempotencyKey: key, Order: o, ReceivedAt: time.Now().UTC()}
	if key != "" {
		c.byKey[key] = so
	}
	c.orders = append(c.orders, so)
	w.byID[so.WMSOrderID] = so
	w.mu.Unlock()
	w.stats.created.Add(1)
	hold(r, fl)
	writeJSON(rw, http.StatusCreated, wms.Acceptance{WMSOrderID: so.WMSOrderID})
}

// check validates an order as a WMS would, and applies the failure modes that refuse orders. It
// returns the status, code and message of the refusal, or 0.
func (w *WMS) check(o wms.Order, fl Failure) (int, string, string) {
	var problems []string
	if strings.TrimSpace(o.OrderID) == "" {
		problems = append(problems, "order_id is required")
	}
	if strings.TrimSpace(o.OrderNumber) == "" {
		problems = append(problems, "order_number is required")
	}
	if len(o.Lines) == 0 {
		problems = append(problems, "an order needs at least one line")
	}
	for i, l := range o.Lines {
		if strings.TrimSpace(l.SKU) == "" {
			problems = append(problems, fmt.Sprintf("lines[%d].sku is required", i))
		}
		if l.Quantity == 0 {
			problems = append(problems, fmt.Sprintf("lines[%d].quantity must be at least 1", i))
		}
	}
	if len(problems) > 0 {
		return http.StatusUnprocessableEntity, "VALIDATION_FAILED", "Order is invalid: " + strings.Join(problems, "; ")
	}
	if fl.Mode == ModeInvalidAddress {
		return http.StatusUnprocessableEntity, "INVALID_ADDRESS", "Ship-to address is invalid: the address could not be verified (sandbox failure mode invalid-address)"
	}
	if p := addressProblems(o.ShipTo); len(p) > 0 {
		return http.StatusUnprocessableEntity, "INVALID_ADDRESS", "Ship-to address is invalid: " + strings.Join(p, "; ")
	}
	if _, known := w.methods[o.ShipMethod]; !known || fl.Mode == ModeUnknownShipMethod {
		return http.StatusUnprocessableEntity, "SHIP_METHOD_UNKNOWN", fmt.Sprintf("Unknown ship method %q: this warehouse ships with %s", o.ShipMethod, w.listed)
	}
	return 0, "", ""
}

// addressProblems lists what makes an address undeliverable for the sandbox.
func addressProblems(a wms.Address) []string {
	var out []string
	if strings.TrimSpace(a.Name) == "" {
		out = append(out, "recipient name is missing")
	}
	if strings.TrimSpace(a.Address1) == "" {
		out = append(out, "street address is missing")
	}
	if strings.TrimSpace(a.City) == "" {
		out = append(out, "city is missing")
	}
	if strings.TrimSpace(a.PostalCode) == "" {
		out = append(out, "postal code is missing")
	}
	switch cc := strings.TrimSpace(a.CountryCode); {
	case cc == "":
		out = append(out, "country code is missing")
	case len(cc) != 2 || strings.ToUpper(cc) != cc || !isLetters(cc):
		out = append(out, fmt.Sprintf("country code %q is not an ISO 3166-1 alpha-2 code", cc))
	}
	return out
}

func isLetters(s string) bool {
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func (w *WMS) getOrder(rw http.ResponseWriter, r *http.Request) {
	fl, ok := w.api(rw, r)
	if !ok {
		return
	}
	w.mu.Lock()
	so, found := w.byID[r.PathValue("id")]
	var cp StoredOrder
	if found && so.Connection == r.PathValue("conn") {
		cp = *so
	} else {
		found = false
	}
	w.mu.Unlock()
	hold(r, fl)
	if !found {
		writeError(rw, http.StatusNotFound, "ORDER_NOT_FOUND", fmt.Sprintf("No order %q on this connection", r.PathValue("id")))
		return
	}
	writeJSON(rw, http.StatusOK, cp)
}

func (w *WMS) listShipments(rw http.ResponseWriter, r *http.Request) {
	fl, ok := w.api(rw, r)
	if !ok {
		return
	}
	after, limit := 0, 100
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(rw, http.StatusBadRequest, "INVALID_REQUEST", fmt.Sprintf("after %q must be a cursor from an earlier page", v))
			return
		}
		after = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(rw, http.StatusBadRequest, "INVALID_REQUEST", fmt.Sprintf("limit %q must be between 1 and 1000", v))
			return
		}
		limit = n
	}
	w.mu.Lock()
	var page wms.ShipmentPage
	if c, ok := w.conns[r.PathValue("conn")]; ok && after < len(c.shipments) {
		page.Shipments = slices.Clone(c.shipments[after:min(after+limit, len(c.shipments))])
	}
	w.mu.Unlock()
	if page.Shipments == nil {
		page.Shipments = []wms.Shipment{}
	}
	page.Next = strconv.Itoa(after + len(page.Shipments))
	hold(r, fl)
	writeJSON(rw, http.StatusOK, page)
}

// Ship records a shipment of an order the WMS holds, as if the warehouse shipped it; empty fields
// of req get sandbox values. It returns the shipment, or false when there is no such order.
func (w *WMS) Ship(wmsOrderID string, req ShipRequest) (wms.Shipment, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	so, ok := w.byID[wmsOrderID]
	if !ok {
		return wms.Shipment{}, false
	}
	w.shipSeq++
	c := w.connLocked(so.Connection)
	s := wms.Shipment{
		Cursor: strconv.Itoa(len(c.shipments) + 1), ShipmentID: fmt.Sprintf("SHP-%07d", w.shipSeq),
		WMSOrderID: so.WMSOrderID, OrderID: so.Order.OrderID, OrderNumber: so.Order.OrderNumber,
		MerchantID: so.Order.MerchantID, Carrier: cmp(req.Carrier, "UPS"), Service: cmp(req.Service, "Ground"),
		TrackingNumber: cmp(req.TrackingNumber, fmt.Sprintf("1ZSBX%011d", w.shipSeq)),
		ShippedAt:      time.Now().UTC(),
	}
	s.TrackingURL = cmp(req.TrackingURL, "https://sandbox.invalid/track/"+s.TrackingNumber)
	c.shipments = append(c.shipments, s)
	so.Shipments++
	return s, true
}

func (w *WMS) listInventory(rw http.ResponseWriter, r *http.Request) {
	fl, ok := w.api(rw, r)
	if !ok {
		return
	}
	page := wms.InventoryPage{Levels: w.Stock(r.PathValue("conn"))}
	hold(r, fl)
	writeJSON(rw, http.StatusOK, page)
}

// SetStock sets the stock of SKUs on a connection, as the warehouse counted it; the inventory API
// answers with it.
func (w *WMS) SetStock(conn string, levels ...wms.InventoryLevel) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.connLocked(conn)
	for _, l := range levels {
		c.stock[l.SKU] = l.Available
	}
}

// Stock returns a connection's stock, by SKU.
func (w *WMS) Stock(conn string) []wms.InventoryLevel {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []wms.InventoryLevel{}
	if c, ok := w.conns[conn]; ok {
		for sku, n := range c.stock {
			out = append(out, wms.InventoryLevel{SKU: sku, Available: n})
		}
	}
	slices.SortFunc(out, func(a, b wms.InventoryLevel) int { return strings.Compare(a.SKU, b.SKU) })
	return out
}

func (w *WMS) adminStock(rw http.ResponseWriter, r *http.Request) {
	var p wms.InventoryPage
	if !decode(rw, r, &p) {
		return
	}
	for i, l := range p.Levels {
		if strings.TrimSpace(l.SKU) == "" {
			writeError(rw, http.StatusUnprocessableEntity, "VALIDATION_FAILED", fmt.Sprintf("levels[%d].sku is required", i))
			return
		}
	}
	w.SetStock(r.PathValue("conn"), p.Levels...)
	writeJSON(rw, http.StatusOK, wms.InventoryPage{Levels: w.Stock(r.PathValue("conn"))})
}

func cmp(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// Orders returns the orders the WMS holds on a connection (every connection when empty), oldest
// first.
func (w *WMS) Orders(conn string) []StoredOrder {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []StoredOrder
	names := make([]string, 0, len(w.conns))
	for n := range w.conns {
		if conn == "" || n == conn {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		for _, so := range w.conns[n].orders {
			out = append(out, *so)
		}
	}
	if out == nil {
		out = []StoredOrder{}
	}
	return out
}

func (w *WMS) adminOrders(rw http.ResponseWriter, r *http.Request) {
	writeJSON(rw, http.StatusOK, map[string][]StoredOrder{"orders": w.Orders(r.URL.Query().Get("connection"))})
}

func (w *WMS) adminShip(rw http.ResponseWriter, r *http.Request) {
	var req ShipRequest
	if r.ContentLength != 0 && !decode(rw, r, &req) {
		return
	}
	s, ok := w.Ship(r.PathValue("id"), req)
	if !ok {
		writeError(rw, http.StatusNotFound, "ORDER_NOT_FOUND", fmt.Sprintf("No order %q", r.PathValue("id")))
		return
	}
	writeJSON(rw, http.StatusCreated, s)
}

// logChange logs a failure-mode change (one line per change; requests are not logged).
func logChange(logger *slog.Logger, server, conn string, fl *Failure) {
	if logger == nil {
		return
	}
	if fl == nil {
		logger.Info("sandbox failure mode cleared", slog.String("server", server), slog.String("connection", conn))
		return
	}
	logger.Info("sandbox failure mode set", slog.String("server", server), slog.String("connection", conn),
		slog.String("mode", string(fl.Mode)), slog.Float64("probability", fl.Probability),
		slog.Duration("delay", time.Duration(fl.Delay)), slog.Duration("retry_after", time.Duration(fl.RetryAfter)),
		slog.Int("times", fl.Times))
}
