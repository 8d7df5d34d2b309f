package app

import (
	"context"
	"fmt"

	"github.com/reboundhq/rebound/projections"
	alertsrm "github.com/reboundhq/rebound/projections/alerts"
)

// CountAlerts asks how many alerts of the Alerts tab a filter selects.
type CountAlerts struct {
	// Access is what the caller may see (derived from its API key); required.
	Access projections.Access
	// Filter selects the alerts; Filter.Account must already be authorized for the caller.
	Filter alertsrm.Filter
}

// Validate reports every problem with the query's arguments, naming the request's fields.
func (q CountAlerts) Validate() error { return validateAlertFilter("filter", q.Filter) }

// CountAlertsHandler counts alerts in the alerts read model.
type CountAlertsHandler struct{ d Deps }

// Handle returns the counts. Errors: ErrNoReadModels without a read model; InvalidArgument
// naming the field for bad arguments.
func (h CountAlertsHandler) Handle(ctx context.Context, q CountAlerts) (alertsrm.Counts, error) {
	if h.d.ReadModel == nil {
		return alertsrm.Counts{}, fmt.Errorf("count alerts: %w", ErrNoReadModels)
	}
	if err := q.Validate(); err != nil {
		return alertsrm.Counts{}, err
	}
	if err := checkAccess(q.Access); err != nil {
		return alertsrm.Counts{}, fmt.Errorf("count alerts: %w", err)
	}
	return h.d.ReadModel.Count(ctx, q.Access, q.Filter)
}
