package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/outbound/cart"
	"github.com/reboundhq/rebound/services/orders/outbound/remote"
	"github.com/reboundhq/rebound/services/orders/outbound/wms"
)

// ShipmentPageSize is how many shipments a sync cycle reads from the WMS feed per request.
const ShipmentPageSize = 500

// RunSyncCycle is one sync cycle of a cart connection.
type RunSyncCycle struct {
	Account      string
	ConnectionID string
	// CycleID identifies the cycle (a repeated cycle id is one cycle for the retry service).
	CycleID string
}

// CycleResult is what a cycle did.
type CycleResult struct {
	// Shipments counts the shipments recorded on orders.
	Shipments int
	// InventoryPushed and InventoryFailed count the stock levels pushed and failed.
	InventoryPushed, InventoryFailed int
}

// RunSyncCycleHandler runs sync cycles.
type RunSyncCycleHandler struct {
	d   Deps
	inv *inventoryMemory
}

// Handle runs the cycle: it reports SyncCycleStarted (so the retry service makes the pending
// tracking and inventory retries of the connection due, which arrive as RetryDue commands), reads
// the new shipments of the cart connection's WMS connection into their orders (their tracking is
// pushed from the stored OrderShipped), and pushes the WMS's stock levels that changed since they
// were last attempted, reporting each level's outcome. A level whose push failed and has not
// changed is the retry service's: its RetryDue of this cycle pushes it (PushInventoryDue). A failing WMS or cart is
// recorded in the connection's health; the cycle goes on with what it can do.
func (h RunSyncCycleHandler) Handle(ctx context.Context, c RunSyncCycle) (CycleResult, error) {
	var res CycleResult
	cc, err := h.d.Connections.Connection(ctx, c.Account, c.ConnectionID)
	if err != nil {
		return res, err
	}
	s := cc.GetSettings()
	if s.GetSystemKind() != connectorv1.SystemKind_SYSTEM_KIND_CART {
		return res, fmt.Errorf("connection %s of account %s is not a cart connection: %w", c.ConnectionID, c.Account, events.ErrInvalidArgument)
	}
	started := h.d.Clock.Now()
	h.d.Health.SyncStarted(c.Account, c.ConnectionID, started)
	cycle := &connectorv1.SyncCycleStarted{
		AccountId: s.GetAccountId(), AccountKind: s.GetAccountKind(), WarehouseId: s.GetWarehouseId(),
		ConnectionId: s.GetConnectionId(), SystemKind: s.GetSystemKind(), System: s.GetSystem(), CycleId: c.CycleID,
		RecordKinds: []connectorv1.RecordKind{connectorv1.RecordKind_RECORD_KIND_TRACKING, connectorv1.RecordKind_RECORD_KIND_INVENTORY},
		StartedAt:   timestamppb.New(started),
	}
	if si := s.GetSyncInterval(); si != nil {
		cycle.SyncInterval = durationpb.New(si.AsDuration())
	}
	if _, err := h.d.Reports.Report(ctx, cycle, events.Metadata{CorrelationID: c.CycleID}); err != nil {
		return res, fmt.Errorf("reporting sync cycle %s: %w", c.CycleID, err)
	}
	log := h.d.Log.With(slog.String("account", c.Account), slog.String("connection_id", c.ConnectionID), slog.String("cycle_id", c.CycleID))
	wmsConn, wc, err := h.d.linkedWMS(ctx, cc)
	if err != nil {
		return res, err
	}
	if wmsConn == nil {
		h.d.Health.SyncFinished(c.Account, c.ConnectionID, h.d.Clock.Now(), 0, 0)
		log.Warn("sync cycle has no WMS connection to read", slog.String("wms_connection_id", s.GetWmsConnectionId()))
		return res, nil
	}
	var errs []error
	n, err := h.shipments(ctx, c, wmsConn, wc)
	res.Shipments = n
	errs = append(errs, err)
	if ctx.Err() == nil {
		res.InventoryPushed, res.InventoryFailed, err = h.inventory(ctx, c, cc, wmsConn, wc)
		errs = append(errs, err)
	}
	h.d.Health.SyncFinished(c.Account, c.ConnectionID, h.d.Clock.Now(), res.Shipments+res.InventoryPushed, res.InventoryFailed)
	err = errors.Join(errs...)
	log.Debug("sync cycle finished", slog.Int("shipments", res.Shipments), slog.Int("inventory_pushed", res.InventoryPushed),
		slog.Int("inventory_failed", res.InventoryFailed), slog.Duration("took", h.d.Clock.Now().Sub(started)))
	return res, err
}

// shipments reads the WMS connection's shipment feed from where the last cycle stopped and
// records each shipment on its order. A failure of the WMS stops the read (the next cycle goes on
// from the same cursor); only infrastructure errors are returned.
func (h RunSyncCycleHandler) shipments(ctx context.Context, c RunSyncCycle, conn wms.Connector, wc *connectionsv1.Connection) (int, error) {
	ws := wc.GetSettings()
	cursor, err := h.d.Sync.Cursor(ctx, ws.GetAccountId(), ws.GetConnectionId())
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		page, err := conn.Shipments(ctx, cursor, ShipmentPageSize)
		if err != nil {
			if f, ok := remote.AsFailure(err); ok {
				h.d.Health.Failure(ws.GetAccountId(), ws.GetConnectionId(), f.Message, h.d.Clock.Now())
				return n, nil
			}
			return n, err
		}
		h.d.Health.Success(ws.GetAccountId(), ws.GetConnectionId(), h.d.Clock.Now())
		for _, s := range page.Shipments {
			known, err := RecordShipmentHandler{h.d}.Handle(ctx, RecordShipment{
				Account: c.Account, WMSConnectionID: ws.GetConnectionId(), Shipment: s, CorrelationID: c.CycleID,
			})
			if err != nil {
				return n, err
			}
			if known {
				n++
			}
		}
		if len(page.Shipments) == 0 || page.Next == cursor {
			return n, nil
		}
		cursor = page.Next
		if err := h.d.Sync.SetCursor(ctx, ws.GetAccountId(), ws.GetConnectionId(), cursor); err != nil {
			return n, err
		}
	}
}

// inventory pushes the WMS's stock levels that changed since they were last attempted and
// reports each outcome.
func (h RunSyncCycleHandler) inventory(ctx context.Context, c RunSyncCycle, cc *connectionsv1.Connection, wmsConn wms.Connector, wc *connectionsv1.Connection) (pushed, failed int, err error) {
	ws := wc.GetSettings()
	levels, err := wmsConn.Inventory(ctx)
	if err != nil {
		if f, ok := remote.AsFailure(err); ok {
			h.d.Health.Failure(ws.GetAccountId(), ws.GetConnectionId(), f.Message, h.d.Clock.Now())
			return 0, 0, nil
		}
		return 0, 0, err
	}
	cs := cc.GetSettings()
	var todo []wms.InventoryLevel
	for _, l := range levels {
		if l.SKU != "" && len(l.SKU) <= connector.MaxRefLen && !h.inv.attempted(cs.GetAccountId(), cs.GetConnectionId(), l) {
			todo = append(todo, l)
		}
	}
	if len(todo) == 0 {
		return 0, 0, nil
	}
	cartConn, err := h.d.Connections.Cart(ctx, cs.GetAccountId(), cs.GetConnectionId())
	if err != nil {
		return 0, 0, err
	}
	var mu sync.Mutex
	err = parallel(len(todo), func(i int) error {
		l := todo[i]
		ok, err := h.d.pushLevel(ctx, cartConn, cs, l, c.CycleID+"-"+connector.HashKey("inv", l.SKU), events.Metadata{CorrelationID: c.CycleID})
		if err != nil {
			return err
		}
		h.inv.remember(cs.GetAccountId(), cs.GetConnectionId(), l)
		mu.Lock()
		defer mu.Unlock()
		if ok {
			pushed++
		} else {
			failed++
		}
		return nil
	})
	return pushed, failed, err
}

// inventoryRef is the record of a SKU's stock level on a cart connection.
func inventoryRef(s *connectionsv1.ConnectionSettings, sku string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: s.GetAccountId(), AccountKind: s.GetAccountKind(), WarehouseId: s.GetWarehouseId(),
		ConnectionId: s.GetConnectionId(), SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: s.GetSystem(),
		RecordKind: connectorv1.RecordKind_RECORD_KIND_INVENTORY, RecordId: sku, Sku: sku,
	}
}

// pushLevel pushes one stock level to the cart and reports the outcome (RecordSucceeded or
// RecordFailed of the inventory record with attemptID). It returns whether the cart took it; only
// infrastructure errors are errors.
func (d Deps) pushLevel(ctx context.Context, conn cart.Connector, s *connectionsv1.ConnectionSettings, l wms.InventoryLevel, attemptID string, meta events.Metadata) (bool, error) {
	ref := inventoryRef(s, l.SKU)
	attemptedAt := d.Clock.Now()
	_, err := conn.PushInventory(ctx, cart.InventoryLevel{SKU: l.SKU, Available: l.Available})
	now := d.Clock.Now()
	if err != nil {
		f, ok := remote.AsFailure(err)
		if !ok {
			return false, fmt.Errorf("pushing the stock of %s: %w", l.SKU, err)
		}
		d.Health.Failure(s.GetAccountId(), s.GetConnectionId(), f.Message, now)
		if _, err := d.Reports.Report(ctx, f.Report(ref, attemptID, attemptedAt, now), meta); err != nil {
			return false, err
		}
		return false, nil
	}
	d.Health.Success(s.GetAccountId(), s.GetConnectionId(), now)
	_, err = d.Reports.Report(ctx, &connectorv1.RecordSucceeded{
		Record: ref, AttemptId: attemptID, AttemptedAt: timestamppb.New(attemptedAt), SucceededAt: timestamppb.New(now),
	}, meta)
	return err == nil, err
}

// inventoryMemory remembers the stock levels last attempted on each cart connection, so that a
// cycle pushes only what changed. It lives in memory: after a restart every level is pushed once
// more.
type inventoryMemory struct {
	mu     sync.Mutex
	levels map[inventoryKey]int64
}

type inventoryKey struct{ account, connection, sku string }

func newInventoryMemory() *inventoryMemory {
	return &inventoryMemory{levels: make(map[inventoryKey]int64)}
}

func (m *inventoryMemory) attempted(account, conn string, l wms.InventoryLevel) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.levels[inventoryKey{account, conn, l.SKU}]
	return ok && v == l.Available
}

func (m *inventoryMemory) remember(account, conn string, l wms.InventoryLevel) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.levels[inventoryKey{account, conn, l.SKU}] = l.Available
}

// CycleID returns the id of a connection's cycle due at t; cycles of one connection due at the
// same time share it.
func CycleID(connectionID string, t time.Time) string {
	return fmt.Sprintf("%s-%d", connectionID, t.UnixMilli())
}
