package app

import (
	"context"
	"errors"
	"fmt"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/index"
	"github.com/reboundhq/rebound/services/alerts/domain/outage"
)

// RecordSuccess is a connector's success report, as stored on the record's stream.
type RecordSuccess struct {
	Envelope events.Envelope
	Report   *connectorv1.RecordSucceeded
}

// RecordSuccessHandler resolves every open alert of the record (the record's index lists their
// types) and tells the outage detector, which ends an outage of the connection.
type RecordSuccessHandler struct{ d Deps }

// Handle records the success.
func (h RecordSuccessHandler) Handle(ctx context.Context, cmd RecordSuccess) error {
	s := cmd.Report
	if err := connector.ValidateSucceeded(s); err != nil {
		return err
	}
	now := h.d.Clock.Now()
	meta := events.CausedBy(cmd.Envelope)
	ref := s.GetRecord()
	return parallel(2, func(i int) error {
		if i == 0 {
			err := h.d.Detectors.Update(ctx, outage.Stream(ref.GetAccountId(), ref.GetConnectionId()), meta, func(d *outage.Detector) error {
				_, err := d.RecordSuccess(s, now)
				return err
			})
			if err := applied(err); err != nil {
				return fmt.Errorf("outage detection of connection %s: %w", ref.GetConnectionId(), err)
			}
			return nil
		}
		entries, err := h.d.entries(ctx, ref)
		if err != nil {
			return err
		}
		return parallel(len(entries), func(i int) error {
			stream := alert.Stream(ref.GetAccountId(), entries[i].AlertID)
			err := h.d.Alerts.Update(ctx, stream, meta, func(a *alert.Alert) error {
				return a.Resolve(alert.ResolutionOf(s), now)
			})
			if err := applied(err); err != nil && !errors.Is(err, domain.ErrWrongState) {
				return fmt.Errorf("resolving alert %s: %w", stream.ID, err)
			}
			return nil
		})
	})
}

// entries returns the alerts the record's index lists.
func (d Deps) entries(ctx context.Context, ref *connectorv1.RecordRef) ([]index.Entry, error) {
	var entries []index.Entry
	if err := d.Indexes.View(ctx, index.Stream(ref), func(x *index.Index) { entries = x.Entries() }); err != nil {
		return nil, fmt.Errorf("reading the alerts of record %s: %w", ref.GetRecordId(), err)
	}
	return entries, nil
}
