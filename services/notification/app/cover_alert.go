package app

import (
	"context"
	"fmt"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
)

// CoverAlert is an AlertCoveredByOutage (Covered) or an AlertUncovered.
type CoverAlert struct {
	Envelope events.Envelope
	Alert    *alertsv1.AlertRef
	Outage   *alertsv1.OutageRef
	Covered  bool
	At       time.Time
}

// CoverAlertHandler keeps, in every recipient's mailbox, which alerts a connection_down alert
// covers: emails list them under it (a count and examples), not one by one.
type CoverAlertHandler struct{ d Deps }

// Handle covers or uncovers the alert.
func (h CoverAlertHandler) Handle(ctx context.Context, cmd CoverAlert) error {
	if err := (QueueAlert{Event: &alertsv1.AlertNeedsAttention{Alert: cmd.Alert}}).Validate(); err != nil {
		return err
	}
	connAlert := cmd.Outage.GetConnectionAlertId()
	if !events.ValidToken(connAlert) {
		return nil // an outage without its alert id covers nothing we can show
	}
	rec := cmd.Alert.GetRecord()
	contacts, err := h.d.recipients(ctx, rec.GetAccountId(), rec.GetWarehouseId())
	if err != nil {
		return err
	}
	return parallel(len(contacts), func(i int) error {
		c := contacts[i]
		stream := mailbox.Stream(c.GetAccountId(), c.GetContactId())
		err := h.d.Mailboxes.Update(ctx, stream, events.CausedBy(cmd.Envelope), func(m *mailbox.Mailbox) error {
			if cmd.Covered {
				m.Cover(cmd.Alert.GetAlertId(), rec, connAlert, cmd.At)
			} else {
				m.Uncover(cmd.Alert.GetAlertId(), connAlert, cmd.At)
			}
			return nil
		})
		if _, err := applied(err); err != nil {
			return fmt.Errorf("covering alert %s for contact %s: %w", cmd.Alert.GetAlertId(), c.GetContactId(), err)
		}
		return nil
	})
}
