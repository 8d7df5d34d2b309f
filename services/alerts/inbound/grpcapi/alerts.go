// Package grpcapi is the alerts service's gRPC transport: rebound.alerts.v1.AlertService over
// the app's commands and queries, and rebound.ingest.v1.IngestService over the connector
// ingester. Every call validates its request (InvalidArgument naming the field), checks the
// caller's account before loading anything (auth.AuthorizeAccount) and against what it loaded
// (auth.CheckLoaded), and returns plain errors that the server maps (rpc/errmap). The list
// queries (ListAlerts, CountAlerts) read the alerts read model restricted to what the caller's
// key covers (access); WatchAlerts follows the event store with the same restriction.
package grpcapi

import (
	"context"
	"errors"

	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	ingestv1 "github.com/reboundhq/rebound/proto/gen/rebound/ingest/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/services/alerts/app"
)

// Alerts implements rebound.alerts.v1.AlertService.
type Alerts struct {
	alertsv1.UnimplementedAlertServiceServer
	app   *app.Application
	watch WatchConfig
}

// NewAlerts returns the AlertService over the application; watch configures WatchAlerts.
func NewAlerts(a *app.Application, watch WatchConfig) *Alerts { return &Alerts{app: a, watch: watch} }

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

// GetAlert implements AlertService.
func (s *Alerts) GetAlert(ctx context.Context, req *alertsv1.GetAlertRequest) (*alertsv1.GetAlertResponse, error) {
	q := app.GetAlert{Account: req.GetAccountId(), FromVersion: req.GetHistoryFromVersion(), Limit: int(req.GetHistoryLimit()), Authorize: checkLoaded(ctx)}
	var fpErr error
	switch {
	case req.GetFingerprint() != nil:
		fp := req.GetFingerprint()
		q.AlertID, fpErr = app.Fingerprint{
			ConnectionID: fp.GetConnectionId(), RecordKind: fp.GetRecordKind(), RecordID: fp.GetRecordId(), AlertType: fp.GetAlertType(),
		}.AlertID("fingerprint", req.GetAccountId())
		if fpErr != nil {
			q.AlertID = "-" // reported as the fingerprint's fields, not as alert_id
		}
	case req.GetAlertId() == "":
		fpErr = &connector.FieldError{Field: "alert_id", Reason: "is required (or a fingerprint)"}
		q.AlertID = "-"
	default:
		q.AlertID = req.GetAlertId()
	}
	if req.GetHistoryLimit() > app.MaxHistory {
		q.Limit = -1 // Validate names history_limit
	}
	if err := errors.Join(fpErr, q.Validate()); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, q.Account); err != nil {
		return nil, err
	}
	v, err := s.app.Queries.GetAlert.Handle(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &alertsv1.GetAlertResponse{Alert: v.Alert, Version: v.Version, NextHistoryVersion: v.NextVersion}
	for _, rec := range v.History {
		ev, err := historyEvent(rec)
		if err != nil {
			return nil, err
		}
		resp.History = append(resp.History, ev)
	}
	return resp, nil
}

func historyEvent(rec events.Record) (*alertsv1.AlertEvent, error) {
	ev := &alertsv1.AlertEvent{
		EventId: rec.EventID, EventType: rec.EventType, Version: rec.Version,
		OccurredAt: timestamppb.New(rec.OccurredAt), RecordedAt: timestamppb.New(rec.RecordedAt),
		CorrelationId: rec.CorrelationID, CausationId: rec.CausationID,
	}
	if rec.Message != nil {
		payload, err := anypb.New(rec.Message)
		if err != nil {
			return nil, err
		}
		ev.Payload = payload
	}
	return ev, nil
}

// DismissAlert implements AlertService.
func (s *Alerts) DismissAlert(ctx context.Context, req *alertsv1.DismissAlertRequest) (*alertsv1.DismissAlertResponse, error) {
	cmd := app.DismissAlert{Account: req.GetAccountId(), AlertID: req.GetAlertId(), By: actor(ctx), Reason: req.GetReason(), Authorize: checkLoaded(ctx)}
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, cmd.Account); err != nil {
		return nil, err
	}
	a, err := s.app.Commands.DismissAlert.Handle(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return &alertsv1.DismissAlertResponse{Alert: a}, nil
}

// ResendRecord implements AlertService.
func (s *Alerts) ResendRecord(ctx context.Context, req *alertsv1.ResendRecordRequest) (*alertsv1.ResendRecordResponse, error) {
	cmd := app.ResendRecord{Account: req.GetAccountId(), AlertID: req.GetAlertId(), By: actor(ctx), Authorize: checkLoaded(ctx)}
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, cmd.Account); err != nil {
		return nil, err
	}
	r, err := s.app.Commands.ResendRecord.Handle(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return &alertsv1.ResendRecordResponse{Alert: r.Alert, Stored: &ingestv1.Stored{
		EventId: r.Stored.EventID, Subject: r.Stored.Subject, RecordKey: r.Stored.RecordKey,
	}}, nil
}
