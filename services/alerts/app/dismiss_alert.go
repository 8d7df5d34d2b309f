package app

import (
	"context"
	"errors"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

// DismissAlert closes an open alert on a person's behalf.
type DismissAlert struct {
	Account string
	AlertID string
	// By is who dismisses: a user's email or "api-key:<key id>".
	By string
	// Reason is why; may be empty.
	Reason string
	// Authorize checks the caller against the loaded alert before it changes.
	Authorize Authorize
}

// Validate reports every problem with the command's arguments.
func (c DismissAlert) Validate() error {
	errs := []error{checkAlertRef(c.Account, c.AlertID)}
	if len(c.Reason) > alert.MaxReasonLen {
		errs = append(errs, fieldErr("reason", "is %d bytes long; at most %d", len(c.Reason), alert.MaxReasonLen))
	}
	return errors.Join(errs...)
}

// DismissAlertHandler dismisses alerts.
type DismissAlertHandler struct{ d Deps }

// Handle dismisses the alert and returns its state. An alert that is not open is an
// ErrWrongState; a missing one is events.ErrNotFound.
func (h DismissAlertHandler) Handle(ctx context.Context, cmd DismissAlert) (*alertsv1.Alert, error) {
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	now := h.d.Clock.Now()
	var out *alertsv1.Alert
	err := h.d.Alerts.Update(ctx, alert.Stream(cmd.Account, cmd.AlertID), events.Metadata{}, func(a *alert.Alert) error {
		if err := authorized(cmd.Authorize, cmd.Account, a); err != nil {
			return err
		}
		if err := a.Dismiss(cmd.By, cmd.Reason, now); err != nil {
			return err
		}
		out = a.Snapshot()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
