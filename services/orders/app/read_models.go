package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/protobuf/types/known/timestamppb"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/connhealth"
	ordersrm "github.com/reboundhq/rebound/projections/orders"
)

// OrderReadModel reads the orders read model (projections/orders.Reader). Implementations are
// safe for concurrent use and restrict every query to access.
type OrderReadModel interface {
	// List returns one page of the orders access may see that f selects, newest received
	// first, and the next page's cursor ("" on the last page).
	List(ctx context.Context, access projections.Access, f ordersrm.Filter, page projections.Page) ([]*ordersv1.Order, string, error)
}

// ConnectionHealthModel reads the connection-health read model (projections/connhealth.Reader).
// Implementations are safe for concurrent use.
type ConnectionHealthModel interface {
	// Get returns one connection's health; an error wrapping events.ErrNotFound when nothing
	// ever failed on it.
	Get(ctx context.Context, account, connectionID string) (connhealth.Row, error)
}

// ErrNoReadModels means the process runs without the read models, so list queries cannot be
// answered. The service registers it as FailedPrecondition.
var ErrNoReadModels = errors.New("read models not configured")

// checkAccess rejects an access that names nothing: the transport failed to derive the caller's
// (a programming error, so not reported as the caller's invalid argument).
func checkAccess(a projections.Access) error {
	if err := a.Validate(); err != nil {
		return errors.New("app: the query has no access for its caller")
	}
	return nil
}

// pageTokenError names the request's page_token in a read model's error about its cursor.
func pageTokenError(err error) error {
	var iae *events.InvalidArgumentError
	if errors.As(err, &iae) && iae.Field == "cursor" {
		return fieldErr("page_token", "%s", iae.Reason)
	}
	return err
}

// alertHealth returns what the connection-health read model says about a connection: nil
// without the read model, a zero health when nothing ever failed on the connection.
func (d Deps) alertHealth(ctx context.Context, account, connectionID string) (*connectionsv1.ConnectionAlertHealth, error) {
	if d.ConnectionHealth == nil {
		return nil, nil
	}
	row, err := d.ConnectionHealth.Get(ctx, account, connectionID)
	if errors.Is(err, events.ErrNotFound) {
		return &connectionsv1.ConnectionAlertHealth{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the health of connection %s/%s: %w", account, connectionID, err)
	}
	h := row.Health
	out := &connectionsv1.ConnectionAlertHealth{
		Status: h.GetStatus(), Outage: h.GetOutage(), Outages: h.GetOutages(), CoveredRecords: h.GetCoveredTotal(),
		LastRecoveredAt: h.GetLastRecoveredAt(), OpenAlerts: uint64(max(row.OpenAlerts, 0)), FailingRecords: uint64(max(row.FailingRecords, 0)),
	}
	if !row.LastFailureAt.IsZero() {
		out.LastFailureAt = timestamppb.New(row.LastFailureAt)
	}
	return out, nil
}

// withAlertHealth sets c's alert health, when the read model can tell. A read-model failure
// leaves it unset (the connection itself is known) and is logged.
func (d Deps) withAlertHealth(ctx context.Context, c *connectionsv1.Connection) *connectionsv1.Connection {
	s := c.GetSettings()
	h, err := d.alertHealth(ctx, s.GetAccountId(), s.GetConnectionId())
	if err != nil {
		d.Log.Warn("connection health unavailable", slog.String("account", s.GetAccountId()),
			slog.String("connection_id", s.GetConnectionId()), slog.Any("error", err))
	}
	c.AlertHealth = h
	return c
}
