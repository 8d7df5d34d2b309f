// Package fixer is the app.Fixer that link pages act through: gRPC clients of the alerts
// service (AlertService: GetAlert, DismissAlert, ResendRecord) and the orders service
// (OrderService: GetOrder, SetShipMethodMapping, EditOrder, ResendToWMS). The pages thereby go
// through the very commands gRPC clients use, whether the services run in this process (`rebound
// dev`, a connection to the process's own gRPC address) or elsewhere.
//
// Every call carries `authorization: Bearer <key>`: an API key that covers the accounts links are
// made for (an admin key, or the service's own). The link has already been verified for the
// account and target the call names, so a link for one account can never act on another.
package fixer

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/app"
	"github.com/reboundhq/rebound/services/notification/domain"
)

// Orders is what the fixer asks of the orders service: NewOrders, over OrderService.
type Orders interface {
	Order(ctx context.Context, account, orderID string) (*ordersv1.Order, error)
	MapShipMethod(ctx context.Context, account, cartConnectionID, code, wmsMethod, actor string) error
	CorrectAddress(ctx context.Context, account, orderID string, address *ordersv1.Address, actor string) error
	ResendToWMS(ctx context.Context, account, orderID, actor string) error
}

// Fixer calls the alerts and orders services. It is safe for concurrent use.
type Fixer struct {
	Orders
	alerts alertsv1.AlertServiceClient
	key    string
}

var _ app.Fixer = (*Fixer)(nil)

// New returns a fixer that reaches AlertService on alerts with the API key key, and the orders
// service through orders (NewOrders).
func New(alerts grpc.ClientConnInterface, orders Orders, key string) (*Fixer, error) {
	if alerts == nil || orders == nil {
		return nil, errors.New("fixer: New needs a connection to the alerts service and the orders service")
	}
	if key == "" {
		return nil, errors.New("fixer: New needs an API key")
	}
	return &Fixer{Orders: orders, alerts: alertsv1.NewAlertServiceClient(alerts), key: key}, nil
}

func bearer(ctx context.Context, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

func (f *Fixer) ctx(ctx context.Context) context.Context { return bearer(ctx, f.key) }

// Alert implements app.Fixer.
func (f *Fixer) Alert(ctx context.Context, account, alertID string) (*alertsv1.Alert, error) {
	res, err := f.alerts.GetAlert(f.ctx(ctx), &alertsv1.GetAlertRequest{AccountId: account,
		Alert: &alertsv1.GetAlertRequest_AlertId{AlertId: alertID}, HistoryLimit: 1})
	if err != nil {
		return nil, classify("getting alert "+alertID, err)
	}
	return res.GetAlert(), nil
}

// DismissAlert implements app.Fixer.
func (f *Fixer) DismissAlert(ctx context.Context, account, alertID, reason, actor string) error {
	_, err := f.alerts.DismissAlert(f.ctx(ctx), &alertsv1.DismissAlertRequest{AccountId: account, AlertId: alertID,
		Reason: fmt.Sprintf("%s (by %s)", reason, actor)})
	return classify("dismissing alert "+alertID, err)
}

// ResendRecord implements app.Fixer.
func (f *Fixer) ResendRecord(ctx context.Context, account, alertID, _ string) error {
	_, err := f.alerts.ResendRecord(f.ctx(ctx), &alertsv1.ResendRecordRequest{AccountId: account, AlertId: alertID})
	return classify("resending the record of alert "+alertID, err)
}

// classify turns a gRPC status into the errors the app and the pages tell apart.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%s: %w", what, events.ErrNotFound)
	case codes.InvalidArgument:
		return domain.Invalid("input", "%s", st.Message())
	case codes.FailedPrecondition, codes.PermissionDenied, codes.AlreadyExists:
		return fmt.Errorf("%w: %s", app.ErrRefused, st.Message())
	}
	return fmt.Errorf("%s: %w", what, err)
}
