package grpcapi

import (
	"cmp"
	"context"
	"slices"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/projections/tenancy"
	"github.com/reboundhq/rebound/services/alerts/app"
)

// CountAlerts implements AlertService: the request is validated, the caller's access derived
// (access), and the counts read from the alerts read model.
func (s *Alerts) CountAlerts(ctx context.Context, req *alertsv1.CountAlertsRequest) (*alertsv1.CountAlertsResponse, error) {
	f, err := filterOf("filter", req.GetFilter())
	if err != nil {
		return nil, err
	}
	q := app.CountAlerts{Filter: f}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if q.Access, err = tenancy.Access(ctx, f.Account); err != nil {
		return nil, err
	}
	c, err := s.app.Queries.CountAlerts.Handle(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &alertsv1.CountAlertsResponse{
		Total: uint64(c.Total), ByAlertType: map[string]uint64{}, ByConnection: map[string]uint64{},
	}
	for status, n := range c.ByStatus {
		if n > 0 {
			resp.ByStatus = append(resp.ByStatus, &alertsv1.AlertStatusCount{Status: status, Count: uint64(n)})
		}
	}
	slices.SortFunc(resp.ByStatus, func(a, b *alertsv1.AlertStatusCount) int { return cmp.Compare(a.GetStatus(), b.GetStatus()) })
	for t, n := range c.ByType {
		if n > 0 {
			resp.ByAlertType[t] = uint64(n)
		}
	}
	for conn, n := range c.ByConnection {
		if n > 0 {
			resp.ByConnection[conn] = uint64(n)
		}
	}
	return resp, nil
}
