package app

import (
	"context"
	"fmt"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
)

// Queue names a retry queue.
type Queue int

// The queues ListRetries lists.
const (
	// QueuePending is the records the retry service retries by itself, by due time.
	QueuePending Queue = iota
	// QueueHeld is the records held for manual action, oldest hold first.
	QueueHeld
)

// ListRetries asks for one page of a retry queue.
type ListRetries struct {
	QueueFilter
	// Queue is the queue to list.
	Queue Queue
}

// Validate reports every problem with the query's arguments, naming the request's fields.
func (q ListRetries) Validate() error {
	if q.Queue != QueuePending && q.Queue != QueueHeld {
		return &connector.FieldError{Field: "queue", Reason: fmt.Sprintf("unknown value %d", q.Queue)}
	}
	return q.QueueFilter.Validate()
}

// SchedulePage is one page of retry schedules.
type SchedulePage struct {
	Schedules     []*retryv1.RetrySchedule
	NextPageToken string
}

// ListRetriesHandler lists a retry queue from the retry-queue read model.
type ListRetriesHandler struct {
	queues RetryQueues
}

// NewListRetriesHandler returns the handler; without queues (no read models) it answers
// ErrNoReadModels.
func NewListRetriesHandler(queues RetryQueues) ListRetriesHandler {
	return ListRetriesHandler{queues: queues}
}

// Handle returns the page. Errors: ErrNoReadModels without the read model; InvalidArgument
// naming the field for bad arguments (page_token included).
func (h ListRetriesHandler) Handle(ctx context.Context, q ListRetries) (SchedulePage, error) {
	if h.queues == nil {
		return SchedulePage{}, fmt.Errorf("list retries: %w", ErrNoReadModels)
	}
	if err := q.Validate(); err != nil {
		return SchedulePage{}, err
	}
	if err := checkAccess(q.Access); err != nil {
		return SchedulePage{}, err
	}
	list := h.queues.Pending
	if q.Queue == QueueHeld {
		list = h.queues.Held
	}
	f, page := q.query()
	schedules, next, err := list(ctx, q.Access, f, page)
	if err != nil {
		return SchedulePage{}, pageTokenError(err)
	}
	return SchedulePage{Schedules: schedules, NextPageToken: next}, nil
}
