package app

import (
	"context"
	"fmt"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
)

// Wake is a mailbox's wake timer that fired.
type Wake struct {
	Stream events.StreamID
	// DueAt is the timer's due time; with the stream it identifies the firing, so a firing
	// handled twice intends nothing twice.
	DueAt time.Time
}

// WakeHandler sends what a mailbox has due: the contact's digest when one is due, retries that
// are due, notifications whose process died before their outcome; then arms the timer again.
type WakeHandler struct{ d Deps }

// Handle wakes the mailbox. A firing the mailbox no longer expects does nothing but re-arm.
func (h WakeHandler) Handle(ctx context.Context, cmd Wake) error {
	if err := cmd.Stream.Validate(); err != nil {
		return err
	}
	c, err := h.d.contactOf(ctx, cmd.Stream.Account, cmd.Stream.ID)
	if err != nil {
		return err
	}
	now := h.d.Clock.Now()
	id := events.DeterministicEventID("notification-wake", cmd.Stream.String(), cmd.DueAt.UTC().Format(time.RFC3339Nano))
	var nid string
	err = h.d.Mailboxes.Update(ctx, cmd.Stream, events.Metadata{CorrelationID: id, CausationID: id}, func(m *mailbox.Mailbox) error {
		if c != nil {
			nid = m.Digest(c, now)
		}
		return nil
	})
	again, err := applied(err)
	if err != nil {
		return fmt.Errorf("waking mailbox %s: %w", cmd.Stream, err)
	}
	// A firing handled again means its first handling did not finish: whatever it intended and
	// never attempted is this firing's to send.
	return h.d.deliver(ctx, cmd.Stream, c, again, nid)
}
