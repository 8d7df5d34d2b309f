package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/index"
	"github.com/reboundhq/rebound/services/alerts/domain/outage"
)

// RecordFailure is a connector's failure report, as stored on the record's stream.
type RecordFailure struct {
	// Envelope is the stored report's envelope: the events it causes name it.
	Envelope events.Envelope
	Report   *connectorv1.RecordFailed
}

// RecordFailureHandler classifies a failure, counts it towards an outage of its connection and
// records it on the record's alert of its type (raise, occurrence, reopen), tracking the type
// in the record's index and arming the alert's grace timer.
type RecordFailureHandler struct{ d Deps }

// aheadMargin is how far in the future a grace deadline must be for its timer to be armed while
// the alert's events are appended, rather than after: a timer never fires before its due time,
// so it cannot fire before the alert it checks is stored.
const aheadMargin = 5 * time.Second

// Handle records the failure. The outage detector goes first (the alert needs to know whether
// the connection is down); the alert and the index are then written at once.
func (h RecordFailureHandler) Handle(ctx context.Context, cmd RecordFailure) error {
	r := cmd.Report
	if err := connector.ValidateFailed(r); err != nil {
		return err
	}
	res := h.d.Classifier.Classify(r)
	now := h.d.Clock.Now()
	meta := events.CausedBy(cmd.Envelope)
	ref := r.GetRecord()

	var down *alertsv1.OutageRef
	if countsForOutage(res.Class) {
		stream := outage.Stream(ref.GetAccountId(), ref.GetConnectionId())
		state := func(d *outage.Detector) {
			down = nil
			if d.Down() {
				down = d.Outage()
			}
		}
		err := h.d.Detectors.Update(ctx, stream, meta, func(d *outage.Detector) error {
			if _, err := d.RecordFailure(r, res, now); err != nil {
				return err
			}
			state(d)
			return nil
		})
		if errors.Is(err, aggregate.ErrAlreadyApplied) {
			err = h.d.Detectors.View(ctx, stream, state)
		}
		if err != nil {
			return fmt.Errorf("outage detection of connection %s: %w", ref.GetConnectionId(), err)
		}
	}

	stream := alert.Stream(ref.GetAccountId(), alert.IDOf(ref, res.AlertType))
	f := alert.Failure{Report: r, Result: res, Outage: down}
	return parallel(2, func(i int) error {
		if i == 0 {
			err := h.d.Indexes.Update(ctx, index.Stream(ref), meta, func(x *index.Index) error {
				return x.Track(ref, res.AlertType, stream.ID, now)
			})
			if err := applied(err); err != nil {
				return fmt.Errorf("tracking alert type %s of record %s: %w", res.AlertType, ref.GetRecordId(), err)
			}
			return nil
		}
		return h.alert(ctx, stream, f, meta, now)
	})
}

func (h RecordFailureHandler) alert(ctx context.Context, stream events.StreamID, f alert.Failure, meta events.Metadata, now time.Time) error {
	var (
		ahead   *pendingTimer // armed while the events are appended
		outcome alert.Outcome
		dl      deadline
	)
	err := h.d.Alerts.Update(ctx, stream, meta, func(a *alert.Alert) error {
		out, err := a.RecordFailure(f, now)
		if err != nil {
			return err
		}
		outcome, dl = out, deadlineOf(a)
		if out != alert.Raised && out != alert.Reopened {
			return nil
		}
		// A failure reported after its grace period ran out needs attention at once.
		a.CheckGrace(now)
		dl = deadlineOf(a)
		if at, ok := a.GraceDeadline(); ok && at.After(now.Add(aheadMargin)) && (ahead == nil || !ahead.at.Equal(at)) {
			ahead.wait() // from an earlier run of this closure, after a conflict
			ahead = h.d.armAhead(ctx, stream, at)
		}
		return nil
	})
	aheadErr := ahead.wait()
	switch {
	case errors.Is(err, aggregate.ErrAlreadyApplied):
		// A redelivered report: the process that stored the alert may have stopped before
		// arming the timer.
		return h.d.rearm(ctx, stream)
	case err != nil:
		return fmt.Errorf("alert %s: %w", stream.ID, err)
	case aheadErr != nil:
		return aheadErr // the redelivery arms it
	}
	opened := outcome == alert.Raised || outcome == alert.Reopened
	if dl.ok && (opened || ahead != nil) && (ahead == nil || !ahead.at.Equal(dl.at)) {
		return h.d.schedule(ctx, stream, dl)
	}
	return nil
}

// countsForOutage reports whether failures of the class count towards a connection outage.
func countsForOutage(c connectorv1.ErrorClass) bool {
	return c == connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT || c == connectorv1.ErrorClass_ERROR_CLASS_AUTH
}

// pendingTimer is a grace timer being armed in the background.
type pendingTimer struct {
	at   time.Time
	done chan struct{}
	err  error
}

// armAhead arms the grace timer of stream at at in the background.
func (d Deps) armAhead(ctx context.Context, stream events.StreamID, at time.Time) *pendingTimer {
	p := &pendingTimer{at: at, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if err := d.Timers.Schedule(ctx, stream, at); err != nil {
			p.err = fmt.Errorf("scheduling the grace timer of alert %s: %w", stream.ID, err)
		}
	}()
	return p
}

// wait waits until the timer is armed and returns the error; nil waits for nothing.
func (p *pendingTimer) wait() error {
	if p == nil {
		return nil
	}
	<-p.done
	return p.err
}
