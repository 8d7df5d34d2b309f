package app

import (
	"context"
	"errors"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// GetRetry asks for a record's schedule and its history.
type GetRetry struct {
	// Schedule is the schedule's stream (the record's account and key).
	Schedule events.StreamID
	// FromVersion is the first version of the history to return (0 and 1: from the start).
	FromVersion uint64
	// Limit caps the history returned; 0 returns none.
	Limit int
	// Authorize checks the caller against the loaded schedule; required.
	Authorize Authorize
}

// Retry is a schedule as GetRetry returns it.
type Retry struct {
	// Schedule is the schedule's current state.
	Schedule *domain.Schedule
	// Version is the schedule's current version.
	Version uint64
	// History holds the requested events, oldest first.
	History []events.Record
	// NextVersion is the version to ask for next when Limit cut the history; 0 otherwise.
	NextVersion uint64
}

// GetRetryHandler loads a schedule and its history from the store.
type GetRetryHandler struct {
	schedules *Schedules
}

// NewGetRetryHandler returns the handler; every dependency is required.
func NewGetRetryHandler(schedules *Schedules) (GetRetryHandler, error) {
	if schedules == nil {
		return GetRetryHandler{}, errors.New("retry app: NewGetRetryHandler needs schedules")
	}
	return GetRetryHandler{schedules: schedules}, nil
}

// Handle returns the schedule. Errors: the Authorize error, events.ErrNotFound when the record
// has no schedule.
func (h GetRetryHandler) Handle(ctx context.Context, q GetRetry) (Retry, error) {
	if q.Authorize == nil {
		return Retry{}, errors.New("retry app: GetRetry needs an Authorize check")
	}
	if err := q.Schedule.Validate(); err != nil {
		return Retry{}, err
	}
	s, loaded, err := h.schedules.Read(ctx, q.Schedule)
	if errors.Is(err, events.ErrNotFound) {
		if err := q.Authorize(false, nil); err != nil {
			return Retry{}, err
		}
		return Retry{}, notFound(q.Schedule)
	}
	if err != nil {
		return Retry{}, err
	}
	if err := authorizeLoaded(s, q.Schedule, q.Authorize); err != nil {
		return Retry{}, err
	}
	out := Retry{Schedule: s, Version: loaded.State.Version}
	if q.Limit > 0 {
		out.History, out.NextVersion = events.HistoryPage(loaded.Events, q.FromVersion, q.Limit)
	}
	return out, nil
}
