package inbound

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/services/retry/app"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// History limits of GetRetry.
const (
	DefaultHistoryLimit = 1000
	MaxHistoryLimit     = 1000
)

// GRPC is rebound.retry.v1.RetryService. Handlers return plain errors; the server maps them
// (rpc/errmap), with domain.ErrWrongState registered as FailedPrecondition.
type GRPC struct {
	retryv1.UnimplementedRetryServiceServer
	app app.Application
}

var _ retryv1.RetryServiceServer = (*GRPC)(nil)

// NewGRPC returns the service.
func NewGRPC(a app.Application) *GRPC { return &GRPC{app: a} }

// recordRequest is what every RetryService request has: an account and a record.
type recordRequest interface {
	GetAccountId() string
	GetRecordKey() string
	GetIdentity() *retryv1.RecordIdentity
}

// scheduleOf validates the request's record and returns its schedule's stream.
func scheduleOf(req recordRequest) (events.StreamID, []error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &connector.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if !events.ValidToken(req.GetAccountId()) {
		bad("account_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", req.GetAccountId())
	}
	var key string
	switch id := req.GetIdentity(); {
	case req.GetRecordKey() != "":
		key = req.GetRecordKey()
		if !events.ValidToken(key) {
			bad("record_key", "%q is not a record key (rec_...)", key)
		}
	case id != nil:
		if !events.ValidToken(id.GetConnectionId()) {
			bad("identity.connection_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", id.GetConnectionId())
		}
		if _, ok := connectorv1.RecordKind_name[int32(id.GetRecordKind())]; !ok || id.GetRecordKind() == connectorv1.RecordKind_RECORD_KIND_UNSPECIFIED {
			bad("identity.record_kind", "is required (order, tracking, inventory or product)")
		}
		switch rid := id.GetRecordId(); {
		case strings.TrimSpace(rid) == "":
			bad("identity.record_id", "is required")
		case len(rid) > connector.MaxRefLen || !utf8.ValidString(rid):
			bad("identity.record_id", "must be valid UTF-8 of at most %d bytes", connector.MaxRefLen)
		}
		key = connector.RecordKey(id.GetConnectionId(), id.GetRecordKind(), id.GetRecordId())
	default:
		bad("record", "record_key or identity is required")
	}
	return events.StreamID{AggregateType: domain.AggregateType, Account: req.GetAccountId(), ID: key}, errs
}

// authorizer returns the check of a loaded schedule for the caller (auth.CheckLoaded): a
// warehouse key sees the schedules of its merchants through the record's warehouse_id.
func authorizer(ctx context.Context, account string) app.Authorize {
	return func(found bool, rec *connectorv1.RecordRef) error {
		if found {
			return auth.CheckLoaded(ctx, rec.GetAccountId(), rec.GetWarehouseId(), true)
		}
		return auth.CheckLoaded(ctx, account, "", false)
	}
}

// actorOf returns the request's actor, or the caller's key.
func actorOf(ctx context.Context, actor string) (string, error) {
	if actor != "" {
		if len(actor) > connector.MaxRefLen || !utf8.ValidString(actor) {
			return "", &connector.FieldError{Field: "actor", Reason: fmt.Sprintf("must be valid UTF-8 of at most %d bytes", connector.MaxRefLen)}
		}
		return actor, nil
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return "", &auth.UnauthenticatedError{Reason: "no authenticated caller in the context"}
	}
	return "api-key:" + p.KeyID, nil
}

// GetRetry returns a record's schedule and its history.
func (g *GRPC) GetRetry(ctx context.Context, req *retryv1.GetRetryRequest) (*retryv1.GetRetryResponse, error) {
	stream, errs := scheduleOf(req)
	limit := int(req.GetHistoryLimit())
	switch {
	case limit == 0:
		limit = DefaultHistoryLimit
	case limit > MaxHistoryLimit:
		errs = append(errs, &connector.FieldError{Field: "history_limit", Reason: fmt.Sprintf("must be at most %d", MaxHistoryLimit)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, stream.Account); err != nil {
		return nil, err
	}
	r, err := g.app.Queries.GetRetry.Handle(ctx, app.GetRetry{
		Schedule: stream, FromVersion: req.GetHistoryFromVersion(), Limit: limit, Authorize: authorizer(ctx, stream.Account),
	})
	if err != nil {
		return nil, err
	}
	resp := &retryv1.GetRetryResponse{Schedule: r.Schedule.Snapshot(), Version: r.Version, NextHistoryVersion: r.NextVersion}
	for _, rec := range r.History {
		ev, err := historyEvent(rec)
		if err != nil {
			return nil, err
		}
		resp.History = append(resp.History, ev)
	}
	return resp, nil
}

func historyEvent(rec events.Record) (*retryv1.RetryEvent, error) {
	ev := &retryv1.RetryEvent{
		EventId: rec.EventID, EventType: rec.EventType, Version: rec.Version,
		CorrelationId: rec.CorrelationID, CausationId: rec.CausationID,
	}
	if !rec.OccurredAt.IsZero() {
		ev.OccurredAt = timestamppb.New(rec.OccurredAt)
	}
	if !rec.RecordedAt.IsZero() {
		ev.RecordedAt = timestamppb.New(rec.RecordedAt)
	}
	if rec.Message != nil {
		payload, err := anypb.New(rec.Message)
		if err != nil {
			return nil, fmt.Errorf("retry: wrapping %s version %d: %w", rec.EventType, rec.Version, err)
		}
		ev.Payload = payload
	}
	return ev, nil
}

// RetryNow makes an attempt of the record due at once.
func (g *GRPC) RetryNow(ctx context.Context, req *retryv1.RetryNowRequest) (*retryv1.RetryNowResponse, error) {
	stream, errs := scheduleOf(req)
	actor, err := actorOf(ctx, req.GetActor())
	if err := errors.Join(append(errs, err)...); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, stream.Account); err != nil {
		return nil, err
	}
	r, err := g.app.Commands.RetryNow.Handle(ctx, app.RetryNow{Schedule: stream, Actor: actor, Authorize: authorizer(ctx, stream.Account)})
	if err != nil {
		return nil, err
	}
	return &retryv1.RetryNowResponse{Schedule: r.Schedule, AttemptId: r.AttemptID}, nil
}

// CancelRetry stops retrying the record.
func (g *GRPC) CancelRetry(ctx context.Context, req *retryv1.CancelRetryRequest) (*retryv1.CancelRetryResponse, error) {
	stream, errs := scheduleOf(req)
	actor, err := actorOf(ctx, req.GetActor())
	if err := errors.Join(append(errs, err)...); err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAccount(ctx, stream.Account); err != nil {
		return nil, err
	}
	s, err := g.app.Commands.CancelRetry.Handle(ctx, app.CancelRetry{Schedule: stream, Actor: actor, Authorize: authorizer(ctx, stream.Account)})
	if err != nil {
		return nil, err
	}
	return &retryv1.CancelRetryResponse{Schedule: s}, nil
}
