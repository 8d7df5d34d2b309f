package app

import (
	"context"
	"errors"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
)

// ListShipMethodMappings reads one cart connection's mappings.
type ListShipMethodMappings struct {
	Account          string
	CartConnectionID string
	Authorize        Authorize
}

// ListShipMethodMappingsHandler reads mappings.
type ListShipMethodMappingsHandler struct{ d Deps }

// Handle loads the mappings from the store (empty ones when none were saved).
func (h ListShipMethodMappingsHandler) Handle(ctx context.Context, q ListShipMethodMappings) (*ordersv1.ShipMethodMappings, error) {
	if err := errors.Join(token("account_id", q.Account), token("cart_connection_id", q.CartConnectionID)); err != nil {
		return nil, err
	}
	if err := h.d.authorizeCart(ctx, q.Account, q.CartConnectionID, q.Authorize); err != nil {
		return nil, err
	}
	stream := shipmap.Stream(q.Account, q.CartConnectionID)
	m, _, err := h.d.Mappings.Read(ctx, stream)
	if errors.Is(err, events.ErrNotFound) {
		m, err = shipmap.New(stream), nil
	}
	if err != nil {
		return nil, err
	}
	return m.Snapshot(), nil
}
