package app

import (
	"context"
	"errors"
	"fmt"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

// CoverRecord is the outage detector's RecordCoveredByOutage event.
type CoverRecord struct {
	Envelope events.Envelope
	Event    *alertsv1.RecordCoveredByOutage
}

// CoverRecordHandler covers the alert of a record that failed while its connection was down.
// The records handler that stored the event already raised that alert covered (it passes the
// outage to the alert), so this only matters for an alert that existed uncovered; an alert not
// stored yet is skipped.
type CoverRecordHandler struct{ d Deps }

// Handle covers the record's alert.
func (h CoverRecordHandler) Handle(ctx context.Context, cmd CoverRecord) error {
	e := cmd.Event
	r := e.GetRecord()
	stream := alert.Stream(r.GetRecord().GetAccountId(), r.GetAlertId())
	err := h.d.Alerts.Update(ctx, stream, events.CausedBy(cmd.Envelope), func(a *alert.Alert) error {
		return a.CoverByOutage(e.GetOutage(), h.d.Clock.Now())
	})
	if err := applied(err); err != nil && !errors.Is(err, domain.ErrWrongState) {
		return fmt.Errorf("covering alert %s: %w", stream.ID, err)
	}
	return nil
}
