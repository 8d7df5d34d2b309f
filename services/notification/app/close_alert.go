package app

import (
	"context"
	"fmt"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
)

// CloseAlert is an AlertResolved or AlertDismissed.
type CloseAlert struct {
	Envelope events.Envelope
	Alert    *alertsv1.AlertRef
	Status   alertsv1.AlertStatus
	ClosedAt time.Time
}

// CloseAlertHandler tells the mailboxes that hold an alert that it closed: one a contact was
// told about is listed as resolved in its next email; one it was not told about is dropped.
type CloseAlertHandler struct{ d Deps }

// Handle closes the alert in every recipient's mailbox that holds it.
func (h CloseAlertHandler) Handle(ctx context.Context, cmd CloseAlert) error {
	if err := (QueueAlert{Event: &alertsv1.AlertNeedsAttention{Alert: cmd.Alert}}).Validate(); err != nil {
		return err
	}
	rec := cmd.Alert.GetRecord()
	contacts, err := h.d.recipients(ctx, rec.GetAccountId(), rec.GetWarehouseId())
	if err != nil {
		return err
	}
	return parallel(len(contacts), func(i int) error {
		c := contacts[i]
		stream := mailbox.Stream(c.GetAccountId(), c.GetContactId())
		changed := false
		err := h.d.Mailboxes.Update(ctx, stream, events.CausedBy(cmd.Envelope), func(m *mailbox.Mailbox) error {
			m.Close(cmd.Alert.GetAlertId(), cmd.Alert.GetIncarnation(), cmd.Status, cmd.ClosedAt)
			changed = len(m.Changes()) > 0
			return nil
		})
		if _, err := applied(err); err != nil {
			return fmt.Errorf("closing alert %s for contact %s: %w", cmd.Alert.GetAlertId(), c.GetContactId(), err)
		}
		if !changed {
			return nil
		}
		return h.d.rearm(ctx, stream, c)
	})
}
