package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// PublishDue is a stored RetryAttemptDue: the RetryDue command goes to the record's owner.
type PublishDue struct {
	// Env is the envelope of the stored RetryAttemptDue.
	Env events.Envelope
	// Due is the event.
	Due *retryv1.RetryAttemptDue
}

// PublishDueHandler publishes the RetryDue command of a stored RetryAttemptDue. It runs at least
// once per event (a bus handler); the command's message id is the attempt id, so the due stream
// drops repeats within its duplicate window and the owner receives each attempt once.
//
// An attempt that became due longer than staleAfter ago is not sent: that only happens when
// the consumer is new (it starts at the first event of the store) or was stopped for that long,
// and the schedule has made newer attempts due since (the follow-up timer, the next sync cycle).
type PublishDueHandler struct {
	publisher  DuePublisher
	clock      Clock
	staleAfter time.Duration
	log        *slog.Logger
}

// NewPublishDueHandler returns the handler; staleAfter 0 sends every attempt, however old.
func NewPublishDueHandler(publisher DuePublisher, clock Clock, staleAfter time.Duration, log *slog.Logger) (PublishDueHandler, error) {
	if publisher == nil || clock == nil {
		return PublishDueHandler{}, errors.New("retry app: NewPublishDueHandler needs a publisher and a clock")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return PublishDueHandler{publisher: publisher, clock: clock, staleAfter: staleAfter, log: log}, nil
}

// Handle publishes the command.
func (h PublishDueHandler) Handle(ctx context.Context, cmd PublishDue) error {
	e := cmd.Due
	var errs []error
	if err := connector.ValidateRecordRef("record", e.GetRecord()); err != nil {
		errs = append(errs, err)
	}
	if e.GetAttemptId() == "" || e.GetAttempt() == 0 || e.GetWindow() == 0 {
		errs = append(errs, &connector.FieldError{Field: "attempt_id", Reason: "a due attempt needs its id, number and window"})
	}
	if e.GetFiredAt() == nil {
		errs = append(errs, &connector.FieldError{Field: "fired_at", Reason: "is required"})
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if age := h.clock.Now().Sub(e.GetFiredAt().AsTime()); h.staleAfter > 0 && age > h.staleAfter {
		h.log.Warn("stale retry attempt not sent", slog.String("attempt_id", e.GetAttemptId()),
			slog.String("account", e.GetRecord().GetAccountId()), slog.Duration("age", age))
		return nil
	}
	if err := h.publisher.Publish(ctx, domain.DueCommandOf(e), events.CausedBy(cmd.Env)); err != nil {
		return fmt.Errorf("retry: publishing RetryDue %s: %w", e.GetAttemptId(), err)
	}
	return nil
}
