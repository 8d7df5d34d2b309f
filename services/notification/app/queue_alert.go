package app

import (
	"context"
	"fmt"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/domain"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
)

// QueueAlert is an AlertNeedsAttention: an alert Rebound cannot resolve by itself.
type QueueAlert struct {
	Envelope events.Envelope
	Event    *alertsv1.AlertNeedsAttention
}

// Validate reports what makes the event unusable.
func (c QueueAlert) Validate() error {
	ref := c.Event.GetAlert()
	if !events.ValidToken(ref.GetAlertId()) || !events.ValidToken(ref.GetRecord().GetAccountId()) {
		return domain.Invalid("alert", "the event names no valid alert id and account")
	}
	return nil
}

// QueueAlertHandler queues alerts that need attention in the mailbox of every contact of the
// alert's account and of its warehouse, and sends the immediate ones at once.
type QueueAlertHandler struct{ d Deps }

// Handle queues the alert and sends what is due. A redelivered event is recognised per mailbox;
// an immediate notification it intended before a crash is sent then.
func (h QueueAlertHandler) Handle(ctx context.Context, cmd QueueAlert) error {
	if err := cmd.Validate(); err != nil {
		return err
	}
	ev := cmd.Event
	rec := ev.GetAlert().GetRecord()
	contacts, err := h.d.recipients(ctx, rec.GetAccountId(), rec.GetWarehouseId())
	if err != nil {
		return err
	}
	q := &notificationv1.QueuedAlert{
		Alert: ev.GetAlert(), Reason: ev.GetReason(), Message: ev.GetLastFailure().GetMessage(),
		Code: ev.GetLastFailure().GetCode(), Occurrences: ev.GetOccurrences(), FirstSeenAt: ev.GetFirstSeenAt(),
		NeedsAttentionAt: ev.GetNeedsAttentionAt(),
	}
	now := h.d.Clock.Now()
	return parallel(len(contacts), func(i int) error {
		c := contacts[i]
		stream := mailbox.Stream(c.GetAccountId(), c.GetContactId())
		var nid string
		err := h.d.Mailboxes.Update(ctx, stream, events.CausedBy(cmd.Envelope), func(m *mailbox.Mailbox) error {
			nid = m.Queue(c, q, now)
			return nil
		})
		again, err := applied(err)
		if err != nil {
			return fmt.Errorf("queuing alert %s for contact %s: %w", ev.GetAlert().GetAlertId(), c.GetContactId(), err)
		}
		if again {
			nid = mailbox.ImmediateID(stream, q)
		}
		return h.d.deliver(ctx, stream, c, false, nid)
	})
}
