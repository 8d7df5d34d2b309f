package grpcapi

import (
	"context"
	"errors"

	ingestv1 "github.com/reboundhq/rebound/proto/gen/rebound/ingest/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/rpc/auth"
)

// Ingest implements rebound.ingest.v1.IngestService over the connector ingester, the same one
// the ingest subjects use. The caller's key must cover the report's account: a merchant key its
// own account, a warehouse key its own account and the merchants whose reports name it as their
// warehouse, an admin key every account.
type Ingest struct {
	ingestv1.UnimplementedIngestServiceServer
	in *ingest.Ingester
}

// NewIngest returns the IngestService over in.
func NewIngest(in *ingest.Ingester) *Ingest { return &Ingest{in: in} }

// authorize checks the caller against the account a report is about.
func authorize(ctx context.Context, account, warehouse string) error {
	if err := auth.AuthorizeAccount(ctx, account); err != nil {
		return err
	}
	return auth.CheckLoaded(ctx, account, warehouse, true)
}

func stored(s ingest.Stored) *ingestv1.Stored {
	return &ingestv1.Stored{EventId: s.EventID, Subject: s.Subject, RecordKey: s.RecordKey}
}

func meta() events.Metadata {
	return events.Metadata{CorrelationID: events.NewEventID()}
}

// ReportFailure implements IngestService.
func (s *Ingest) ReportFailure(ctx context.Context, req *ingestv1.ReportFailureRequest) (*ingestv1.ReportFailureResponse, error) {
	m := req.GetFailure()
	if m == nil {
		return nil, &connector.FieldError{Field: "failure", Reason: "is required"}
	}
	if err := connector.ValidateFailed(m); err != nil {
		return nil, prefixed("failure", err)
	}
	if err := authorize(ctx, m.GetRecord().GetAccountId(), m.GetRecord().GetWarehouseId()); err != nil {
		return nil, err
	}
	st, err := s.in.Failure(ctx, m, meta())
	if err != nil {
		return nil, err
	}
	return &ingestv1.ReportFailureResponse{Stored: stored(st)}, nil
}

// ReportSuccess implements IngestService.
func (s *Ingest) ReportSuccess(ctx context.Context, req *ingestv1.ReportSuccessRequest) (*ingestv1.ReportSuccessResponse, error) {
	m := req.GetSuccess()
	if m == nil {
		return nil, &connector.FieldError{Field: "success", Reason: "is required"}
	}
	if err := connector.ValidateSucceeded(m); err != nil {
		return nil, prefixed("success", err)
	}
	if err := authorize(ctx, m.GetRecord().GetAccountId(), m.GetRecord().GetWarehouseId()); err != nil {
		return nil, err
	}
	st, err := s.in.Success(ctx, m, meta())
	if err != nil {
		return nil, err
	}
	return &ingestv1.ReportSuccessResponse{Stored: stored(st)}, nil
}

// ReportRecordUpdated implements IngestService.
func (s *Ingest) ReportRecordUpdated(ctx context.Context, req *ingestv1.ReportRecordUpdatedRequest) (*ingestv1.ReportRecordUpdatedResponse, error) {
	m := req.GetUpdate()
	if m == nil {
		return nil, &connector.FieldError{Field: "update", Reason: "is required"}
	}
	if err := connector.ValidateUpdated(m); err != nil {
		return nil, prefixed("update", err)
	}
	if err := authorize(ctx, m.GetRecord().GetAccountId(), m.GetRecord().GetWarehouseId()); err != nil {
		return nil, err
	}
	st, err := s.in.Updated(ctx, m, meta())
	if err != nil {
		return nil, err
	}
	return &ingestv1.ReportRecordUpdatedResponse{Stored: stored(st)}, nil
}

// ReportSyncCycle implements IngestService.
func (s *Ingest) ReportSyncCycle(ctx context.Context, req *ingestv1.ReportSyncCycleRequest) (*ingestv1.ReportSyncCycleResponse, error) {
	m := req.GetCycle()
	if m == nil {
		return nil, &connector.FieldError{Field: "cycle", Reason: "is required"}
	}
	if err := connector.ValidateSyncCycle(m); err != nil {
		return nil, prefixed("cycle", err)
	}
	if err := authorize(ctx, m.GetAccountId(), m.GetWarehouseId()); err != nil {
		return nil, err
	}
	st, err := s.in.SyncCycle(ctx, m, meta())
	if err != nil {
		return nil, err
	}
	return &ingestv1.ReportSyncCycleResponse{Stored: stored(st)}, nil
}

// prefixed puts the request field of a report in front of the fields its validation errors
// name ("record.account_id" becomes "failure.record.account_id").
func prefixed(prefix string, err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, prefixed(prefix, e))
		}
		return errors.Join(out...)
	}
	var fe *connector.FieldError
	if errors.As(err, &fe) {
		return &connector.FieldError{Field: prefix + "." + fe.Field, Reason: fe.Reason}
	}
	return err
}
