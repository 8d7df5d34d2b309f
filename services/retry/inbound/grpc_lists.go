package inbound

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/projections/tenancy"
	"github.com/reboundhq/rebound/services/retry/app"
)

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
	acc, err := tenancy.Access(ctx, q.Account)
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
	acc, err := tenancy.Access(ctx, q.Account)
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
