package app

import (
	"context"
	"errors"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/outbound/remote"
)

// PushInventoryDue is the retry service's command to push a stock level again
// (retry.due.cart.inventory).
type PushInventoryDue struct {
	Due           *retryv1.RetryDue
	CorrelationID string
}

// PushInventoryDueHandler makes the retry service's inventory pushes.
type PushInventoryDueHandler struct {
	d   Deps
	inv *inventoryMemory
}

// Handle pushes the SKU's current stock level (read from the cart connection's WMS connection)
// with the command's attempt id and reports the outcome with it. Commands for connections this
// service does not run change nothing; a failing WMS leaves the attempt to the next cycle.
func (h PushInventoryDueHandler) Handle(ctx context.Context, c PushInventoryDue) error {
	ref, id := c.Due.GetRecord(), c.Due.GetAttemptId()
	if ref.GetRecordKind() != connectorv1.RecordKind_RECORD_KIND_INVENTORY || id == "" {
		return nil
	}
	cc, err := h.d.Connections.Connection(ctx, ref.GetAccountId(), ref.GetConnectionId())
	if errors.Is(err, events.ErrNotFound) || errors.Is(err, events.ErrInvalidArgument) {
		return nil
	}
	if err != nil {
		return err
	}
	if cc.GetSettings().GetSystemKind() != connectorv1.SystemKind_SYSTEM_KIND_CART {
		return nil
	}
	wmsConn, _, err := h.d.linkedWMS(ctx, cc)
	if err != nil || wmsConn == nil {
		return err
	}
	levels, err := wmsConn.Inventory(ctx)
	if err != nil {
		if _, ok := remote.AsFailure(err); ok {
			return nil // the WMS is failing: the next cycle tries again
		}
		return err
	}
	sku := ref.GetSku()
	if sku == "" {
		sku = ref.GetRecordId()
	}
	for _, l := range levels {
		if l.SKU != sku {
			continue
		}
		cartConn, err := h.d.Connections.Cart(ctx, ref.GetAccountId(), ref.GetConnectionId())
		if err != nil {
			return err
		}
		_, err = h.d.pushLevel(ctx, cartConn, cc.GetSettings(), l, id, events.Metadata{CorrelationID: c.CorrelationID, CausationID: id})
		if err == nil {
			h.inv.remember(ref.GetAccountId(), ref.GetConnectionId(), l)
		}
		return err
	}
	return nil
}
