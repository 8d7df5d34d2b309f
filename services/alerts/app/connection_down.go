package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

// ConnectionDown is the outage detector's ConnectionDown event.
type ConnectionDown struct {
	Envelope events.Envelope
	Event    *alertsv1.ConnectionDown
}

// ConnectionDownHandler raises the connection's one connection_down alert and covers the
// alerts of the records the outage covers.
type ConnectionDownHandler struct{ d Deps }

// raceWindow is how long after an outage event the alert of a record it names may still be
// on its way: the records handler stores the detector's event before the record's alert. Past
// it, a missing alert is skipped instead of waited for.
const raceWindow = time.Minute

// Handle applies the outage.
func (h ConnectionDownHandler) Handle(ctx context.Context, cmd ConnectionDown) error {
	e := cmd.Event
	c := e.GetConnection()
	now := h.d.Clock.Now()
	meta := events.CausedBy(cmd.Envelope)
	stream := alert.Stream(c.GetAccountId(), alert.ConnectionAlertID(c.GetAccountId(), c.GetConnectionId()))
	err := h.d.Alerts.Update(ctx, stream, meta, func(a *alert.Alert) error {
		_, err := a.RaiseConnectionDown(e, h.d.Classifier.Immediate(classify.TypeConnectionDown), now)
		return err
	})
	if err := applied(err); err != nil {
		return fmt.Errorf("connection_down alert of connection %s: %w", c.GetConnectionId(), err)
	}
	covered := e.GetCoveredRecords()
	if len(covered) == 0 {
		return nil
	}
	return parallel(len(covered), func(i int) error {
		return h.d.cover(ctx, covered[i], e.GetOutage(), meta, now, e.GetDetectedAt().AsTime())
	})
}

// cover flags the alert of a covered record. The alert may not be stored yet (see raceWindow):
// then it fails with a retryable error while the outage event is recent, and skips it after.
func (d Deps) cover(ctx context.Context, r *alertsv1.FailingRecord, o *alertsv1.OutageRef, meta events.Metadata, now, detectedAt time.Time) error {
	stream := alert.Stream(r.GetRecord().GetAccountId(), r.GetAlertId())
	err := d.Alerts.Update(ctx, stream, meta, func(a *alert.Alert) error { return a.CoverByOutage(o, now) })
	switch err := applied(err); {
	case err == nil:
		return nil
	case errors.Is(err, domain.ErrWrongState) && now.Sub(detectedAt) < raceWindow:
		return fmt.Errorf("alert %s of covered record %s is not stored yet: %w", stream.ID, r.GetRecord().GetRecordId(), errNotYet)
	case errors.Is(err, domain.ErrWrongState):
		d.Log.Warn("covered record has no alert", slog.String("alert_id", stream.ID), slog.String("account", stream.Account))
		return nil
	default:
		return fmt.Errorf("covering alert %s: %w", stream.ID, err)
	}
}

// errNotYet is the retryable error of an input that names an alert not stored yet.
var errNotYet = errors.New("not stored yet; retrying")
