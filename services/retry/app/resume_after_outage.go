package app

import (
	"context"
	"errors"
	"fmt"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
)

// ResumeAfterOutage is a stored ConnectionRecovered.
type ResumeAfterOutage struct {
	// Env is the envelope of the stored ConnectionRecovered.
	Env events.Envelope
	// Recovered is the event.
	Recovered *alertsv1.ConnectionRecovered
}

// ResumeAfterOutageHandler marks the connection up and stores a drain job: DrainConnection
// resumes the outage's paused schedules at a bounded rate, so that the recovered system is not
// flooded with the whole backlog at once. The handler returns as soon as the job is stored.
type ResumeAfterOutageHandler struct {
	outages Outages
	index   Index
	clock   Clock
}

// NewResumeAfterOutageHandler returns the handler; every dependency is required.
func NewResumeAfterOutageHandler(outages Outages, index Index, clock Clock) (ResumeAfterOutageHandler, error) {
	if outages == nil || index == nil || clock == nil {
		return ResumeAfterOutageHandler{}, errors.New("retry app: NewResumeAfterOutageHandler needs outages, the index and a clock")
	}
	return ResumeAfterOutageHandler{outages: outages, index: index, clock: clock}, nil
}

// Handle marks the connection up and stores the drain job.
func (h ResumeAfterOutageHandler) Handle(ctx context.Context, cmd ResumeAfterOutage) error {
	r := cmd.Recovered
	conn, err := connectionOf(r.GetConnection())
	if err != nil {
		return err
	}
	for i, fr := range r.GetCoveredRecords() {
		if err := connector.ValidateRecordRef(fmt.Sprintf("covered_records[%d].record", i), fr.GetRecord()); err != nil {
			return err
		}
	}
	now := h.clock.Now()
	if err := h.outages.SetDown(ctx, conn, 0, now); err != nil {
		return err
	}
	// The listed records are drained even if their index entries were lost; resuming a
	// schedule that is not paused changes nothing.
	since := now
	if d := r.GetOutage().GetDownAt(); d != nil && d.AsTime().Before(now) {
		since = d.AsTime()
	}
	for _, fr := range r.GetCoveredRecords() {
		if err := h.index.SetPaused(ctx, conn, connector.RecordKeyOf(fr.GetRecord()), since); err != nil {
			return err
		}
	}
	meta := events.CausedBy(cmd.Env)
	return h.outages.PutDrain(ctx, DrainJob{
		Conn: conn, Outage: r.GetOutage().GetNumber(), Cutoff: now,
		CausationID: meta.CausationID, CorrelationID: meta.CorrelationID,
	})
}
