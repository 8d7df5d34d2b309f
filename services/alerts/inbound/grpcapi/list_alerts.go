package grpcapi

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/connector"
	alertsrm "github.com/reboundhq/rebound/projections/alerts"
	"github.com/reboundhq/rebound/projections/tenancy"
	"github.com/reboundhq/rebound/services/alerts/app"
)

// ListAlerts implements AlertService: the request is validated, the caller's access derived
// (access), and the page read from the alerts read model.
func (s *Alerts) ListAlerts(ctx context.Context, req *alertsv1.ListAlertsRequest) (*alertsv1.ListAlertsResponse, error) {
	f, ferr := filterOf("filter", req.GetFilter())
	by, berr := timeField("sort_by", req.GetSortBy())
	q := app.ListAlerts{
		Filter: f, Order: alertsrm.Order{By: by, Ascending: req.GetAscending()},
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	}
	if err := errors.Join(ferr, berr, q.Validate()); err != nil {
		return nil, err
	}
	acc, err := tenancy.Access(ctx, f.Account)
	if err != nil {
		return nil, err
	}
	q.Access = acc
	page, err := s.app.Queries.ListAlerts.Handle(ctx, q)
	if err != nil {
		return nil, err
	}
	return &alertsv1.ListAlertsResponse{Alerts: page.Alerts, NextPageToken: page.NextPageToken}, nil
}

// filterOf converts an API filter, reporting the fields it cannot convert (times, time field)
// under prefix; app.validateAlertFilter checks the rest.
func filterOf(prefix string, f *alertsv1.AlertFilter) (alertsrm.Filter, error) {
	out := alertsrm.Filter{
		Account: f.GetAccountId(), Statuses: f.GetStatuses(), Types: f.GetAlertTypes(), Classes: f.GetErrorClasses(),
		Connections: f.GetConnectionIds(), RecordKinds: f.GetRecordKinds(), OrderNumber: f.GetOrderNumber(), SKU: f.GetSku(),
	}
	if f != nil && f.NeedsAttention != nil {
		v := f.GetNeedsAttention()
		out.NeedsAttention = &v
	}
	var errs []error
	out.From, errs = timeOf(prefix+".from_time", f.GetFromTime(), errs)
	out.To, errs = timeOf(prefix+".to_time", f.GetToTime(), errs)
	var err error
	out.TimeOf, err = timeField(prefix+".time_field", f.GetTimeField())
	return out, errors.Join(append(errs, err)...)
}

func timeOf(field string, ts *timestamppb.Timestamp, errs []error) (time.Time, []error) {
	if ts == nil {
		return time.Time{}, errs
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, append(errs, &connector.FieldError{Field: field, Reason: "is not a valid time"})
	}
	return ts.AsTime(), errs
}

// timeField converts an AlertTimeField to the read model's sort key.
func timeField(field string, f alertsv1.AlertTimeField) (alertsrm.SortBy, error) {
	switch f {
	case alertsv1.AlertTimeField_ALERT_TIME_FIELD_UNSPECIFIED, alertsv1.AlertTimeField_ALERT_TIME_FIELD_LAST_SEEN:
		return alertsrm.SortLastSeen, nil
	case alertsv1.AlertTimeField_ALERT_TIME_FIELD_FIRST_SEEN:
		return alertsrm.SortFirstSeen, nil
	}
	return alertsrm.SortLastSeen, &connector.FieldError{Field: field, Reason: "unknown value " + f.String()}
}
