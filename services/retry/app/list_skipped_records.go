package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"
)

// ListSkippedRecords asks for one page of the skipped records.
type ListSkippedRecords struct {
	QueueFilter
}

// SkippedRecord is a record the retry service gave up on, and why.
type SkippedRecord struct {
	// Schedule is the record's schedule (status EXHAUSTED).
	Schedule *retryv1.RetrySchedule
	// Reason says why, for people, with the external system's last message.
	Reason string
}

// SkippedPage is one page of skipped records.
type SkippedPage struct {
	Records       []SkippedRecord
	NextPageToken string
}

// ListSkippedRecordsHandler lists the skipped records from the retry-queue read model.
type ListSkippedRecordsHandler struct {
	queues RetryQueues
}

// NewListSkippedRecordsHandler returns the handler; without queues (no read models) it answers
// ErrNoReadModels.
func NewListSkippedRecordsHandler(queues RetryQueues) ListSkippedRecordsHandler {
	return ListSkippedRecordsHandler{queues: queues}
}

// Handle returns the page, most recently skipped first. Errors: ErrNoReadModels without the
// read model; InvalidArgument naming the field for bad arguments (page_token included).
func (h ListSkippedRecordsHandler) Handle(ctx context.Context, q ListSkippedRecords) (SkippedPage, error) {
	if h.queues == nil {
		return SkippedPage{}, fmt.Errorf("list skipped records: %w", ErrNoReadModels)
	}
	if err := q.Validate(); err != nil {
		return SkippedPage{}, err
	}
	if err := checkAccess(q.Access); err != nil {
		return SkippedPage{}, err
	}
	f, page := q.query()
	schedules, next, err := h.queues.Skipped(ctx, q.Access, f, page)
	if err != nil {
		return SkippedPage{}, pageTokenError(err)
	}
	out := SkippedPage{NextPageToken: next}
	for _, s := range schedules {
		out.Records = append(out.Records, SkippedRecord{Schedule: s, Reason: SkipReason(s)})
	}
	return out, nil
}

// SkipReason says for people why a schedule's record was skipped, e.g. "retries ran out after
// 15 days of trying: HTTP 503 SERVICE_UNAVAILABLE: Service Unavailable".
func SkipReason(s *retryv1.RetrySchedule) string {
	var why string
	switch s.GetExhaustedReason() {
	case retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE:
		why = "retries ran out"
		if start, end := s.GetWindow().GetStartedAt(), s.GetEndedAt(); start != nil && end != nil && end.AsTime().After(start.AsTime()) {
			why += " after " + span(end.AsTime().Sub(start.AsTime())) + " of trying"
		}
	case retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_CONSECUTIVE_FAILURES:
		why = fmt.Sprintf("retries ran out after %d failures in a row", s.GetWindow().GetConsecutiveFailures())
	case retryv1.ExhaustedReason_EXHAUSTED_REASON_REJECTED:
		why = "rejected by the external system, not retried"
	default:
		why = "skipped"
	}
	f := s.GetLastFailure()
	var detail []string
	if f.GetHttpStatus() > 0 {
		detail = append(detail, fmt.Sprintf("HTTP %d", f.GetHttpStatus()))
	}
	if f.GetCode() != "" {
		detail = append(detail, f.GetCode())
	}
	if f.GetMessage() != "" {
		detail = append(detail, f.GetMessage())
	}
	if len(detail) == 0 {
		return why
	}
	return why + ": " + strings.Join(detail, " ")
}

// span says a duration in the largest whole unit that fits: days, hours, minutes or seconds.
func span(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= 48*time.Hour:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour:
		return unit(int64(d/time.Hour), "hour")
	case d >= 2*time.Minute:
		return unit(int64(d/time.Minute), "minute")
	}
	return unit(int64(d/time.Second), "second")
}
