package app

import (
	"context"
	"errors"
	"fmt"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/retry/domain"
)

// PauseForOutage is a stored ConnectionDown (the outage's covered records) or
// RecordCoveredByOutage (one more covered record).
type PauseForOutage struct {
	// Env is the envelope of the stored alerts event.
	Env events.Envelope
	// Connection is the connection that is down.
	Connection *alertsv1.ConnectionRef
	// Outage names the outage.
	Outage *alertsv1.OutageRef
	// Records are the covered records to pause.
	Records []*alertsv1.FailingRecord
	// Down is true for a ConnectionDown: the connection is marked down (so that later failures
	// of its records pause at once) and a drain of an earlier outage still running stops.
	Down bool
}

// PauseForOutageHandler pauses the schedules of the records an outage covers: no attempt becomes
// due and their age windows stand still until the connection recovers.
type PauseForOutageHandler struct {
	schedules *Schedules
	outages   Outages
	clock     Clock
	workers   int
}

// NewPauseForOutageHandler returns the handler; workers bounds the schedules paused at once.
func NewPauseForOutageHandler(schedules *Schedules, outages Outages, clock Clock, workers int) (PauseForOutageHandler, error) {
	if schedules == nil || outages == nil || clock == nil {
		return PauseForOutageHandler{}, errors.New("retry app: NewPauseForOutageHandler needs schedules, outages and a clock")
	}
	return PauseForOutageHandler{schedules: schedules, outages: outages, clock: clock, workers: max(workers, 1)}, nil
}

// Handle pauses the covered records' schedules. A record whose first failure has not reached
// its schedule yet is paused when it does (RecordFailureHandler checks the connection).
func (h PauseForOutageHandler) Handle(ctx context.Context, cmd PauseForOutage) error {
	conn, err := connectionOf(cmd.Connection)
	if err != nil {
		return err
	}
	recs := make(map[string]*connectorv1.RecordRef, len(cmd.Records))
	for i, fr := range cmd.Records {
		if err := connector.ValidateRecordRef(fmt.Sprintf("covered_records[%d].record", i), fr.GetRecord()); err != nil {
			return err
		}
		recs[connector.RecordKeyOf(fr.GetRecord())] = fr.GetRecord()
	}
	now := h.clock.Now()
	if cmd.Down {
		if err := h.outages.SetDown(ctx, conn, max(cmd.Outage.GetNumber(), 1), now); err != nil {
			return err
		}
		if err := h.outages.CancelDrain(ctx, conn); err != nil {
			return err
		}
	}
	meta := events.CausedBy(cmd.Env)
	err = fanOut(ctx, h.workers,
		func(yield func(string) error) error {
			for key := range recs {
				if err := yield(key); err != nil {
					return err
				}
			}
			return nil
		},
		func(ctx context.Context, key string) error {
			stream := domain.StreamOf(recs[key])
			if _, err := h.schedules.Do(ctx, stream, meta, func(s *domain.Schedule) error { return s.Pause(now) }); err != nil {
				return fmt.Errorf("retry: pausing %s: %w", stream, err)
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("retry: outage %d of connection %s/%s: %w", cmd.Outage.GetNumber(), conn.Account, conn.ID, err)
	}
	return nil
}

// connectionOf checks an alerts ConnectionRef and returns its connection.
func connectionOf(ref *alertsv1.ConnectionRef) (Connection, error) {
	var errs []error
	if !events.ValidToken(ref.GetAccountId()) {
		errs = append(errs, &connector.FieldError{Field: "connection.account_id", Reason: fmt.Sprintf("%q must be 1-128 characters of A-Z a-z 0-9 _ -", ref.GetAccountId())})
	}
	if !events.ValidToken(ref.GetConnectionId()) {
		errs = append(errs, &connector.FieldError{Field: "connection.connection_id", Reason: fmt.Sprintf("%q must be 1-128 characters of A-Z a-z 0-9 _ -", ref.GetConnectionId())})
	}
	if err := errors.Join(errs...); err != nil {
		return Connection{}, err
	}
	return Connection{Account: ref.GetAccountId(), ID: ref.GetConnectionId()}, nil
}
