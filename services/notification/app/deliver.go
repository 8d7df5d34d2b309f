package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
)

// deliver sends the mailbox's notifications that are due (mailbox.Deliveries: mine, claims run
// out, retries due; all never attempted when allMine), records each outcome, and arms the wake
// timer for what comes next. One delivery runs at a time per mailbox in the process; the state
// is read again under that lock, so a notification another caller sent meanwhile is not sent
// again.
//
// The outcome is recorded only after the send: a crash in between leaves the notification
// intended, and it is sent once more. A send cut short by ctx (the process stops) records
// nothing and returns the context's error, so the input is handled again.
func (d Deps) deliver(ctx context.Context, stream events.StreamID, c *notificationv1.Contact, allMine bool, mine ...string) error {
	mu := d.sends.lock(stream)
	mu.Lock()
	defer mu.Unlock()

	now := d.Clock.Now()
	var due []mailbox.Delivery
	if err := d.Mailboxes.View(ctx, stream, func(m *mailbox.Mailbox) {
		if allMine {
			for _, n := range m.Notifications() {
				if n.GetStatus() == notificationv1.NotificationStatus_NOTIFICATION_STATUS_PENDING && n.GetAttempts() == 0 {
					mine = append(mine, n.GetNotificationId())
				}
			}
		}
		due = m.Deliveries(now, mine...)
	}); err != nil {
		return fmt.Errorf("loading mailbox %s: %w", stream, err)
	}
	var errs []error
	for _, dl := range due {
		if err := d.send(ctx, stream, c, dl); err != nil {
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	if err := d.rearm(ctx, stream, c); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// send sends one notification and records the outcome.
func (d Deps) send(ctx context.Context, stream events.StreamID, c *notificationv1.Contact, dl mailbox.Delivery) error {
	n := dl.Notification
	log := d.Log.With(slog.String("account", stream.Account), slog.String("contact_id", stream.ID),
		slog.String("notification_id", n.GetNotificationId()), slog.String("kind", n.GetKind().String()),
		slog.Int("alerts", len(n.GetAlerts())), slog.Int("attempt", int(dl.Attempt)))
	if c == nil {
		err := d.Mailboxes.Update(ctx, stream, events.Metadata{}, func(m *mailbox.Mailbox) error {
			m.RecordFailed(n.GetNotificationId(), dl.Attempt, "the contact was removed", true, d.Clock.Now())
			return nil
		})
		if err != nil {
			return fmt.Errorf("recording notification %s given up: %w", n.GetNotificationId(), err)
		}
		log.Info("notification dropped: contact removed")
		return nil
	}
	msgID, sendErr := d.Mailer.Send(ctx, n)
	if sendErr != nil && ctx.Err() != nil {
		return fmt.Errorf("sending notification %s: %w", n.GetNotificationId(), ctx.Err())
	}
	now := d.Clock.Now()
	var final bool
	err := d.Mailboxes.Update(ctx, stream, events.Metadata{}, func(m *mailbox.Mailbox) error {
		if sendErr == nil {
			m.RecordSent(n.GetNotificationId(), dl.Attempt, msgID, now)
			return nil
		}
		final = m.RecordFailed(n.GetNotificationId(), dl.Attempt, sendErr.Error(), errors.Is(sendErr, ErrPermanent), now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording the outcome of notification %s: %w", n.GetNotificationId(), err)
	}
	switch {
	case sendErr == nil:
		log.Info("notification sent", slog.String("message_id", msgID))
	case final:
		log.Error("notification failed; given up", slog.Any("error", sendErr))
	default:
		log.Warn("notification failed; will retry", slog.Any("error", sendErr))
	}
	return nil
}

// minWake is the least delay of a wake timer: a mailbox never wakes itself in a tight loop.
const minWake = time.Second

// rearm arms the mailbox's wake timer for its next due time, if any.
func (d Deps) rearm(ctx context.Context, stream events.StreamID, c *notificationv1.Contact) error {
	now := d.Clock.Now()
	var next time.Time
	if err := d.Mailboxes.View(ctx, stream, func(m *mailbox.Mailbox) { next = m.NextWake(c, now) }); err != nil {
		return fmt.Errorf("loading mailbox %s: %w", stream, err)
	}
	if next.IsZero() {
		return nil
	}
	if next.Before(now.Add(minWake)) {
		next = now.Add(minWake)
	}
	if err := d.Wakes.Schedule(ctx, stream, next); err != nil {
		return fmt.Errorf("arming the wake timer of mailbox %s: %w", stream, err)
	}
	return nil
}
