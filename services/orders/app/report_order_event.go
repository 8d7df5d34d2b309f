package app

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/domain/order"
)

// ReportOrderEvent is a stored order event.
type ReportOrderEvent struct {
	Envelope events.Envelope
	Event    proto.Message
}

// ReportOrderEventHandler reports order events as connector events.
type ReportOrderEventHandler struct{ d Deps }

// Handle stores the connector report the event stands for (order.ConnectorReport), if any,
// through the ingester: the same validation and storage as every connector's, its event id
// derived from what identifies the report, so a redelivered event is reported once. Reports of
// one order are stored in the order of its events.
func (h ReportOrderEventHandler) Handle(ctx context.Context, c ReportOrderEvent) error {
	report, ok := order.ConnectorReport(c.Event)
	if !ok {
		return nil
	}
	if _, err := h.d.Reports.Report(ctx, report, events.CausedBy(c.Envelope)); err != nil {
		return fmt.Errorf("reporting %s of order %s: %w", events.ShortType(c.Envelope.EventType), c.Envelope.Stream().ID, err)
	}
	return nil
}
