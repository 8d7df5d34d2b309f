package grpcapi

import (
	"context"
	"errors"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"

	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/services/orders/app"
)

// Connections implements rebound.connections.v1.ConnectionService.
type Connections struct {
	connectionsv1.UnimplementedConnectionServiceServer
	app *app.Application
}

// NewConnections returns the ConnectionService over the application.
func NewConnections(a *app.Application) *Connections { return &Connections{app: a} }

// UpsertConnection implements ConnectionService. A warehouse key may configure its own
// connections and those of merchants whose settings name it as their warehouse.
func (s *Connections) UpsertConnection(ctx context.Context, req *connectionsv1.UpsertConnectionRequest) (*connectionsv1.UpsertConnectionResponse, error) {
	cmd := app.UpsertConnection{
		Settings: req.GetSettings(), Credentials: req.GetCredentials(), By: actor(ctx),
		CorrelationID: correlation(ctx), Authorize: checkLoaded(ctx),
	}
	if req.ShipMethodPassThrough != nil {
		v := req.GetShipMethodPassThrough()
		cmd.PassThrough = &v
	}
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, cmd.Settings.GetAccountId()); err != nil {
		return nil, err
	}
	out, err := s.app.Commands.UpsertConnection.Handle(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return &connectionsv1.UpsertConnectionResponse{Connection: out.Connection, Changed: out.Changed}, nil
}

// GetConnection implements ConnectionService.
func (s *Connections) GetConnection(ctx context.Context, req *connectionsv1.GetConnectionRequest) (*connectionsv1.GetConnectionResponse, error) {
	q := app.GetConnection{Account: req.GetAccountId(), ConnectionID: req.GetConnectionId(), Authorize: checkLoaded(ctx)}
	if err := errors.Join(validToken("account_id", q.Account), validToken("connection_id", q.ConnectionID)); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, q.Account); err != nil {
		return nil, err
	}
	c, err := s.app.Queries.GetConnection.Handle(ctx, q)
	if err != nil {
		return nil, err
	}
	return &connectionsv1.GetConnectionResponse{Connection: c}, nil
}

// ListConnections implements ConnectionService.
func (s *Connections) ListConnections(ctx context.Context, req *connectionsv1.ListConnectionsRequest) (*connectionsv1.ListConnectionsResponse, error) {
	q := app.ListConnections{
		Account: req.GetAccountId(), SystemKind: req.GetSystemKind(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
		DownOnly: req.GetDownOnly(), FailingOnly: req.GetFailingOnly(),
	}
	if req.GetPageSize() > app.MaxPageSize {
		q.PageSize = -1 // Validate names page_size
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	f, err := auth.ListFilter(ctx, q.Account)
	if err != nil {
		return nil, err
	}
	q.Allows = f.Allows
	page, err := s.app.Queries.ListConnections.Handle(ctx, q)
	if err != nil {
		return nil, err
	}
	return &connectionsv1.ListConnectionsResponse{Connections: page.Connections, NextPageToken: page.NextToken}, nil
}
