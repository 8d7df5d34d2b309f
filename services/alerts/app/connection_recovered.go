package app

import (
	"context"
	"errors"
	"fmt"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/alerts/domain"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/outage"
)

// ConnectionRecovered is the outage detector's ConnectionRecovered event.
type ConnectionRecovered struct {
	Envelope events.Envelope
	Event    *alertsv1.ConnectionRecovered
}

// ConnectionRecoveredHandler resolves the connection's connection_down alert and uncovers the
// alerts the outage covered, arming their grace timers again (their grace period restarts at
// the recovery). When the outage covered more records than it lists, the rest are found in the
// detector's RecordCoveredByOutage events.
type ConnectionRecoveredHandler struct{ d Deps }

// Handle applies the recovery.
func (h ConnectionRecoveredHandler) Handle(ctx context.Context, cmd ConnectionRecovered) error {
	e := cmd.Event
	c := e.GetConnection()
	now := h.d.Clock.Now()
	meta := events.CausedBy(cmd.Envelope)
	recovered := e.GetRecoveredAt().AsTime()
	stream := alert.Stream(c.GetAccountId(), alert.ConnectionAlertID(c.GetAccountId(), c.GetConnectionId()))
	err := h.d.Alerts.Update(ctx, stream, meta, func(a *alert.Alert) error {
		return a.Resolve(alert.Resolution{
			Cause: alertsv1.ResolutionCause_RESOLUTION_CAUSE_CONNECTION_RECOVERED, At: recovered, AttemptID: e.GetAttemptId(),
		}, now)
	})
	if err := applied(err); err != nil && !errors.Is(err, domain.ErrWrongState) {
		return fmt.Errorf("resolving the connection_down alert of connection %s: %w", c.GetConnectionId(), err)
	}

	covered := e.GetCoveredRecords()
	if e.GetCoveredTruncated() {
		rest, err := h.unlisted(ctx, c.GetAccountId(), c.GetConnectionId(), e.GetOutage().GetNumber())
		if err != nil {
			return err
		}
		covered = append(covered, rest...)
	}
	if len(covered) == 0 {
		return nil
	}
	return parallel(len(covered), func(i int) error {
		r := covered[i]
		stream := alert.Stream(r.GetRecord().GetAccountId(), r.GetAlertId())
		uncovered := false
		var dl deadline
		err := h.d.Alerts.Update(ctx, stream, meta, func(a *alert.Alert) error {
			if err := a.Uncover(e.GetOutage(), recovered, now); err != nil {
				return err
			}
			uncovered, dl = len(a.Changes()) > 0, deadlineOf(a)
			return nil
		})
		switch {
		case errors.Is(err, aggregate.ErrAlreadyApplied):
			return h.d.rearm(ctx, stream)
		case errors.Is(err, domain.ErrWrongState) && now.Sub(e.GetDetectedAt().AsTime()) < raceWindow:
			// A record that failed just before the recovery: its alert, raised covered, is on
			// its way (see raceWindow).
			return fmt.Errorf("alert %s of covered record %s is not stored yet: %w", stream.ID, r.GetRecord().GetRecordId(), errNotYet)
		case errors.Is(err, domain.ErrWrongState):
			return nil // never raised: nothing to uncover
		case err != nil:
			return fmt.Errorf("uncovering alert %s: %w", stream.ID, err)
		case uncovered:
			return h.d.schedule(ctx, stream, dl)
		}
		return nil
	})
}

// unlisted returns the records an outage covered past its listing limit.
func (h ConnectionRecoveredHandler) unlisted(ctx context.Context, account, connectionID string, number uint32) ([]*alertsv1.FailingRecord, error) {
	_, loaded, err := h.d.Detectors.Read(ctx, outage.Stream(account, connectionID))
	if err != nil {
		return nil, fmt.Errorf("reading the covered records of connection %s: %w", connectionID, err)
	}
	var out []*alertsv1.FailingRecord
	for _, rec := range loaded.Events {
		if c, ok := rec.Message.(*alertsv1.RecordCoveredByOutage); ok && !c.GetListed() && c.GetOutage().GetNumber() == number {
			out = append(out, c.GetRecord())
		}
	}
	return out, nil
}
