package app

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

// ResendRecord asks for an alert's record to be sent again.
type ResendRecord struct {
	Account string
	AlertID string
	// By is who asks: a user's email or "api-key:<key id>".
	By string
	// Authorize checks the caller against the loaded alert.
	Authorize Authorize
}

// Validate reports every problem with the command's arguments.
func (c ResendRecord) Validate() error { return checkAlertRef(c.Account, c.AlertID) }

// ResendRecordHandler stores a RecordUpdated with change RESEND_REQUESTED for the alert's
// record, through the same ingester as connectors' reports: the retry service then attempts the
// record at once, and the record's next outcome resolves or updates the alert.
type ResendRecordHandler struct{ d Deps }

// Resent is what ResendRecord did.
type Resent struct {
	Alert  *alertsv1.Alert
	Stored ingest.Stored
}

// Handle asks for the resend. A connection_down alert has no record: ErrWrongState.
func (h ResendRecordHandler) Handle(ctx context.Context, cmd ResendRecord) (Resent, error) {
	if err := cmd.Validate(); err != nil {
		return Resent{}, err
	}
	a, _, err := h.d.Alerts.Read(ctx, alert.Stream(cmd.Account, cmd.AlertID))
	if err != nil && !errors.Is(err, events.ErrNotFound) {
		return Resent{}, err
	}
	if err := authorized(cmd.Authorize, cmd.Account, a); err != nil {
		return Resent{}, err
	}
	st := a.Snapshot()
	if st.GetAlertType() == classify.TypeConnectionDown {
		return Resent{}, &domain.StateError{Aggregate: alert.AggregateType, ID: cmd.AlertID, Command: "resend its record",
			State: "a connection_down alert, which has no record"}
	}
	stored, err := h.d.Reports.Updated(ctx, &connectorv1.RecordUpdated{
		Record:    proto.CloneOf(st.GetRecord()),
		Change:    connectorv1.RecordChange_RECORD_CHANGE_RESEND_REQUESTED,
		Actor:     cmd.By,
		UpdatedAt: timestamppb.New(h.d.Clock.Now()),
	}, events.Metadata{})
	if err != nil {
		return Resent{}, fmt.Errorf("requesting a resend of record %s: %w", st.GetRecord().GetRecordId(), err)
	}
	return Resent{Alert: st, Stored: stored}, nil
}
