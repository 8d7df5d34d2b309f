package app

import (
	"context"
	"errors"
	"fmt"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/projections"
	alertsrm "github.com/reboundhq/rebound/projections/alerts"
)

// ListAlerts asks for one page of the Alerts tab.
type ListAlerts struct {
	// Access is what the caller may see (derived from its API key); required.
	Access projections.Access
	// Filter selects the alerts; Filter.Account must already be authorized for the caller.
	Filter alertsrm.Filter
	// Order is the sort order.
	Order alertsrm.Order
	// PageSize caps the page (0: projections.DefaultPageSize; at most MaxPageSize).
	PageSize int
	// PageToken is the previous page's NextPageToken; empty for the first page.
	PageToken string
}

// Validate reports every problem with the query's arguments, naming the request's fields.
func (q ListAlerts) Validate() error {
	errs := []error{validateAlertFilter("filter", q.Filter), checkPageSize(q.PageSize)}
	if q.Order.By != alertsrm.SortLastSeen && q.Order.By != alertsrm.SortFirstSeen {
		errs = append(errs, fieldErr("sort_by", "unknown value %d", q.Order.By))
	}
	return errors.Join(errs...)
}

// AlertPage is one page of alerts.
type AlertPage struct {
	Alerts        []*alertsv1.Alert
	NextPageToken string
}

// ListAlertsHandler lists alerts from the alerts read model.
type ListAlertsHandler struct{ d Deps }

// Handle returns the page. Errors: ErrNoReadModels without a read model; InvalidArgument
// naming the field for bad arguments (page_token included).
func (h ListAlertsHandler) Handle(ctx context.Context, q ListAlerts) (AlertPage, error) {
	if h.d.ReadModel == nil {
		return AlertPage{}, fmt.Errorf("list alerts: %w", ErrNoReadModels)
	}
	if err := q.Validate(); err != nil {
		return AlertPage{}, err
	}
	if err := checkAccess(q.Access); err != nil {
		return AlertPage{}, fmt.Errorf("list alerts: %w", err)
	}
	alerts, next, err := h.d.ReadModel.List(ctx, q.Access, q.Filter, q.Order, projections.Page{Size: q.PageSize, Cursor: q.PageToken})
	if err != nil {
		return AlertPage{}, pageTokenError(err)
	}
	return AlertPage{Alerts: alerts, NextPageToken: next}, nil
}
