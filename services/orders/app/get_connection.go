package app

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"

	"github.com/reboundhq/rebound/events"
)

// GetConnection reads one connection.
type GetConnection struct {
	Account      string
	ConnectionID string
	Authorize    Authorize
}

// GetConnectionHandler reads connections.
type GetConnectionHandler struct{ d Deps }

// Handle returns the connection with its pass-through setting and health; never its secrets.
func (h GetConnectionHandler) Handle(ctx context.Context, q GetConnection) (*connectionsv1.Connection, error) {
	if err := errors.Join(token("account_id", q.Account), token("connection_id", q.ConnectionID)); err != nil {
		return nil, err
	}
	c, err := h.d.Connections.Connection(ctx, q.Account, q.ConnectionID)
	if err != nil && !errors.Is(err, events.ErrNotFound) {
		return nil, err
	}
	if err := authorized(q.Authorize, q.Account, c.GetSettings().GetWarehouseId(), c != nil, "connection "+q.ConnectionID); err != nil {
		return nil, err
	}
	return h.d.withAlertHealth(ctx, h.d.view(ctx, proto.CloneOf(c))), nil
}
