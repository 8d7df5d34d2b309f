package inbound

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/services/retry/app"
)

// access returns what the caller may see in the read models, once the account the request names
// ("" for every account the caller may see) is authorized: a merchant key its own account, a
// warehouse key its scope (its own account and its merchants'), an admin key every account.
//
// A merchant key naming another account is refused (auth.ErrPermissionDenied) before anything
// is read, whether or not the account exists. A warehouse key naming an account keeps its scope:
// the rows say whose merchant they are, so another warehouse's merchant lists as empty, exactly
// like an account that does not exist.
func access(ctx context.Context, account string) (projections.Access, error) {
	if account != "" {
		if err := auth.AuthorizeAccount(ctx, account); err != nil {
			return projections.Access{}, err
		}
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return projections.Access{}, &auth.UnauthenticatedError{Reason: "no authenticated caller in the context"}
	}
	switch {
	case p.Scope == auth.ScopeAdmin:
		return projections.AllAccounts(), nil
	case p.Scope == auth.ScopeMerchant && p.Account != "":
		return projections.Access{Account: p.Account}, nil
	case p.Scope == auth.ScopeWarehouse && p.Account != "":
		return projections.Access{Warehouse: p.Account}, nil
	}
	return projections.Access{}, fmt.Errorf("%w: key %s (%s) covers no account", auth.ErrPermissionDenied, p.KeyID, p.Scope)
}

// ListRetries lists the pending or held records the caller may see.
func (g *GRPC) ListRetries(ctx context.Context, req *retryv1.ListRetriesRequest) (*retryv1.ListRetriesResponse, error) {
	q := app.ListRetries{QueueFilter: app.QueueFilter{
		Account: req.GetAccountId(), Connections: req.GetConnectionIds(), RecordKinds: req.GetRecordKinds(),
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	}}
	switch req.GetQueue() {
	case retryv1.RetryQueue_RETRY_QUEUE_UNSPECIFIED, retryv1.RetryQueue_RETRY_QUEUE_PENDING:
		q.Queue = app.QueuePending
	case retryv1.RetryQueue_RETRY_QUEUE_HELD:
		q.Queue = app.QueueHeld
	default:
		return nil, &connector.FieldError{Field: "queue", Reason: fmt.Sprintf("unknown value %d (pending or held)", req.GetQueue())}
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	acc, err := access(ctx, q.Account)
	if err != nil {
		return nil, err
	}
	q.Access = acc
	page, err := g.app.Queries.ListRetries.Handle(ctx, q)
	if err != nil {
		return nil, err
	}
	return &retryv1.ListRetriesResponse{Schedules: page.Schedules, NextPageToken: page.NextPageToken}, nil
}

// ListSkippedRecords lists the skipped records the caller may see, with the reason.
func (g *GRPC) ListSkippedRecords(ctx context.Context, req *retryv1.ListSkippedRecordsRequest) (*retryv1.ListSkippedRecordsResponse, error) {
	q := app.ListSkippedRecords{QueueFilter: app.QueueFilter{
		Account: req.GetAccountId(), Connections: req.GetConnectionIds(), RecordKinds: req.GetRecordKinds(),
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	}}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	acc, err := access(ctx, q.Account)
	if err != nil {
		return nil, err
	}
	q.Access = acc
	page, err := g.app.Queries.ListSkippedRecords.Handle(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &retryv1.ListSkippedRecordsResponse{NextPageToken: page.NextPageToken}
	for _, r := range page.Records {
		rec := &retryv1.SkippedRecord{Schedule: r.Schedule, Reason: r.Schedule.GetExhaustedReason(), ReasonText: r.Reason}
		if at := r.Schedule.GetEndedAt(); at != nil {
			rec.SkippedAt = timestamppb.New(at.AsTime())
		}
		resp.Records = append(resp.Records, rec)
	}
	return resp, nil
}
