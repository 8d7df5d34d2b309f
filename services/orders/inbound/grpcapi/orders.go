// Package grpcapi is the orders service's gRPC transport: rebound.orders.v1.OrderService and
// rebound.connections.v1.ConnectionService over the app's commands and queries. Every call
// validates its request (InvalidArgument naming the field, nothing stored), checks the caller's
// account before loading anything (auth.AuthorizeAccount) and against what it loaded
// (auth.CheckLoaded), and returns plain errors that the server maps (rpc/errmap). ListOrders
// reads the orders read model restricted to what the caller's key covers (access).
package grpcapi

import (
	"context"
	"errors"

	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/services/orders/app"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// Orders implements rebound.orders.v1.OrderService.
type Orders struct {
	ordersv1.UnimplementedOrderServiceServer
	app *app.Application
}

// NewOrders returns the OrderService over the application.
func NewOrders(a *app.Application) *Orders { return &Orders{app: a} }

// checkLoaded is auth.CheckLoaded for the caller of ctx.
func checkLoaded(ctx context.Context) app.Authorize {
	return func(account, warehouse string, found bool) error {
		return auth.CheckLoaded(ctx, account, warehouse, found)
	}
}

// actor names the caller in the events it causes.
func actor(ctx context.Context) string {
	p, _ := auth.FromContext(ctx)
	return "api-key:" + p.KeyID
}

// correlation is the request's correlation id: the caller's key id and a fresh event id.
func correlation(context.Context) string { return events.NewEventID() }

func fieldErr(field, reason string) error { return &connector.FieldError{Field: field, Reason: reason} }

// SubmitOrder implements OrderService.
func (s *Orders) SubmitOrder(ctx context.Context, req *ordersv1.SubmitOrderRequest) (*ordersv1.SubmitOrderResponse, error) {
	cmd := app.SubmitOrder{
		Account: req.GetAccountId(), CartConnectionID: req.GetCartConnectionId(), WMSConnectionID: req.GetWmsConnectionId(),
		OrderNumber: req.GetOrderNumber(), CartOrderID: req.GetCartOrderId(), Currency: req.GetCurrency(),
		ShipTo: req.GetShipTo(), ShipMethodCode: req.GetShipMethodCode(), Lines: req.GetLines(),
		CorrelationID: correlation(ctx), Authorize: checkLoaded(ctx),
	}
	var errs []error
	if p := req.GetPlacedAt(); p != nil {
		if p.CheckValid() != nil {
			errs = append(errs, fieldErr("placed_at", "is not a valid time"))
		} else {
			cmd.PlacedAt = p.AsTime()
		}
	}
	// The whole submission is validated before anything is loaded, so that bad input is
	// InvalidArgument naming every field whatever the caller may see.
	errs = append(errs, cmd.Validate(), order.ValidateContent(order.Submission{
		OrderNumber: cmd.OrderNumber, CartOrderID: cmd.CartOrderID, Currency: cmd.Currency, ShipTo: cmd.ShipTo,
		ShipMethodCode: cmd.ShipMethodCode, Lines: cmd.Lines,
	}))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, cmd.Account); err != nil {
		return nil, err
	}
	out, err := s.app.Commands.SubmitOrder.Handle(ctx, cmd)
	if err != nil {
		return nil, err
	}
	outcome := ordersv1.SubmitOutcome_SUBMIT_OUTCOME_UNCHANGED
	switch out.Receipt {
	case order.Received:
		outcome = ordersv1.SubmitOutcome_SUBMIT_OUTCOME_RECEIVED
	case order.Edited:
		outcome = ordersv1.SubmitOutcome_SUBMIT_OUTCOME_EDITED
	}
	return &ordersv1.SubmitOrderResponse{Order: out.Order, Outcome: outcome, Version: out.Version}, nil
}

// GetOrder implements OrderService.
func (s *Orders) GetOrder(ctx context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.GetOrderResponse, error) {
	q := app.GetOrder{
		OrderRef: app.OrderRef{Account: req.GetAccountId()}, FromVersion: req.GetHistoryFromVersion(),
		Limit: int(req.GetHistoryLimit()), Authorize: checkLoaded(ctx),
	}
	var refErr error
	switch {
	case req.GetByNumber() != nil:
		b := req.GetByNumber()
		var errs []error
		if !events.ValidToken(b.GetCartConnectionId()) {
			errs = append(errs, fieldErr("by_number.cart_connection_id", "must be 1-128 characters of A-Z a-z 0-9 _ -"))
		}
		if b.GetOrderNumber() == "" || len(b.GetOrderNumber()) > connector.MaxRefLen {
			errs = append(errs, fieldErr("by_number.order_number", "is required, at most 256 bytes"))
		}
		refErr = errors.Join(errs...)
		q.OrderID = order.ID(req.GetAccountId(), b.GetCartConnectionId(), b.GetOrderNumber())
	case req.GetOrderId() == "":
		refErr = fieldErr("order_id", "is required (or by_number)")
		q.OrderID = "-"
	default:
		q.OrderID = req.GetOrderId()
	}
	if req.GetHistoryLimit() > app.MaxHistory {
		q.Limit = -1 // Validate names history_limit
	}
	if err := errors.Join(refErr, q.Validate()); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, q.Account); err != nil {
		return nil, err
	}
	v, err := s.app.Queries.GetOrder.Handle(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &ordersv1.GetOrderResponse{Order: v.Order, Version: v.Version, NextHistoryVersion: v.NextVersion}
	for _, rec := range v.History {
		ev := &ordersv1.OrderEvent{
			EventId: rec.EventID, EventType: rec.EventType, Version: rec.Version,
			OccurredAt: timestamppb.New(rec.OccurredAt), RecordedAt: timestamppb.New(rec.RecordedAt),
			CorrelationId: rec.CorrelationID, CausationId: rec.CausationID,
		}
		if rec.Message != nil {
			if ev.Payload, err = anypb.New(rec.Message); err != nil {
				return nil, err
			}
		}
		resp.History = append(resp.History, ev)
	}
	return resp, nil
}

// EditOrder implements OrderService.
func (s *Orders) EditOrder(ctx context.Context, req *ordersv1.EditOrderRequest) (*ordersv1.EditOrderResponse, error) {
	edit := order.Edit{ShipTo: req.GetShipTo(), ShipMethodCode: req.GetShipMethodCode()}
	if req.GetLines() != nil {
		edit.Lines = req.GetLines().GetLines()
		if edit.Lines == nil {
			edit.Lines = []*ordersv1.OrderLine{}
		}
	}
	cmd := app.EditOrder{
		OrderRef: app.OrderRef{Account: req.GetAccountId(), OrderID: req.GetOrderId()}, Edit: edit, By: actor(ctx),
		CorrelationID: correlation(ctx), Authorize: checkLoaded(ctx),
	}
	var errs []error
	if edit.ShipTo == nil && edit.ShipMethodCode == "" && edit.Lines == nil {
		errs = append(errs, fieldErr("ship_to", "an edit needs ship_to, ship_method_code or lines"))
	}
	if err := errors.Join(append(errs, cmd.Validate(), order.ValidateEdit(edit))...); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, cmd.Account); err != nil {
		return nil, err
	}
	o, err := s.app.Commands.EditOrder.Handle(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return &ordersv1.EditOrderResponse{Order: o}, nil
}

// ResendToWMS implements OrderService.
func (s *Orders) ResendToWMS(ctx context.Context, req *ordersv1.ResendToWMSRequest) (*ordersv1.ResendToWMSResponse, error) {
	cmd := app.ResendToWMS{
		OrderRef: app.OrderRef{Account: req.GetAccountId(), OrderID: req.GetOrderId()}, By: actor(ctx),
		CorrelationID: correlation(ctx), Authorize: checkLoaded(ctx),
	}
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, cmd.Account); err != nil {
		return nil, err
	}
	o, err := s.app.Commands.ResendToWMS.Handle(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return &ordersv1.ResendToWMSResponse{Order: o}, nil
}

// CancelSending implements OrderService.
func (s *Orders) CancelSending(ctx context.Context, req *ordersv1.CancelSendingRequest) (*ordersv1.CancelSendingResponse, error) {
	cmd := app.CancelSending{
		OrderRef: app.OrderRef{Account: req.GetAccountId(), OrderID: req.GetOrderId()}, By: actor(ctx),
		Reason: req.GetReason(), CorrelationID: correlation(ctx), Authorize: checkLoaded(ctx),
	}
	errs := []error{cmd.Validate()}
	if len(cmd.Reason) > 1024 {
		errs = append(errs, fieldErr("reason", "is at most 1024 bytes"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, cmd.Account); err != nil {
		return nil, err
	}
	o, err := s.app.Commands.CancelSending.Handle(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return &ordersv1.CancelSendingResponse{Order: o}, nil
}

// SetShipMethodMapping implements OrderService.
func (s *Orders) SetShipMethodMapping(ctx context.Context, req *ordersv1.SetShipMethodMappingRequest) (*ordersv1.SetShipMethodMappingResponse, error) {
	cmd := app.SetShipMethodMapping{
		Account: req.GetAccountId(), CartConnectionID: req.GetCartConnectionId(), Code: req.GetShipMethodCode(),
		WMSMethod: req.GetWmsShipMethod(), Remove: req.GetRemove(), By: actor(ctx), CorrelationID: correlation(ctx),
		Authorize: checkLoaded(ctx),
	}
	if req.PassThrough != nil {
		v := req.GetPassThrough()
		cmd.PassThrough = &v
	}
	errs := []error{cmd.Validate()}
	for field, v := range map[string]string{"ship_method_code": cmd.Code, "wms_ship_method": cmd.WMSMethod} {
		if len(v) > connector.MaxRefLen {
			errs = append(errs, fieldErr(field, "is at most 256 bytes"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, cmd.Account); err != nil {
		return nil, err
	}
	m, err := s.app.Commands.SetShipMethodMapping.Handle(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return &ordersv1.SetShipMethodMappingResponse{Mappings: m}, nil
}

// ListShipMethodMappings implements OrderService.
func (s *Orders) ListShipMethodMappings(ctx context.Context, req *ordersv1.ListShipMethodMappingsRequest) (*ordersv1.ListShipMethodMappingsResponse, error) {
	q := app.ListShipMethodMappings{Account: req.GetAccountId(), CartConnectionID: req.GetCartConnectionId(), Authorize: checkLoaded(ctx)}
	if err := errors.Join(validToken("account_id", q.Account), validToken("cart_connection_id", q.CartConnectionID)); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, q.Account); err != nil {
		return nil, err
	}
	m, err := s.app.Queries.ListShipMethodMappings.Handle(ctx, q)
	if err != nil {
		return nil, err
	}
	return &ordersv1.ListShipMethodMappingsResponse{Mappings: m}, nil
}

func validToken(field, v string) error {
	if !events.ValidToken(v) {
		return fieldErr(field, "must be 1-128 characters of A-Z a-z 0-9 _ -")
	}
	return nil
}
