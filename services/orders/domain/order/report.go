package order

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
)

// ConnectorReport returns the connector report (rebound.connector.v1) an order event stands for,
// built from the event alone, so a handler of stored order events can report them through the
// ingest path (connector/ingest) like any connector:
//
//   - OrderDeliveryFailed → RecordFailed of the order record (also for an order held before
//     sending: code SHIP_METHOD_UNMAPPED);
//   - OrderAcceptedByWMS → RecordSucceeded of the order record (external id: the WMS order id);
//   - OrderEdited → RecordUpdated (edited, with the changed fields);
//   - OrderReleased with cause ship_method_mapped → RecordUpdated (edited, "ship_method");
//   - OrderResendRequested → RecordUpdated (resend_requested), except a resend by the retry
//     service (actor ActorRetryService), which restarted its series itself;
//   - OrderSendingCanceled → RecordUpdated (canceled);
//   - OrderTrackingPushFailed → RecordFailed of the tracking record;
//   - OrderConfirmed → RecordSucceeded of the tracking record.
//
// The other events report nothing (false).
func ConnectorReport(msg proto.Message) (proto.Message, bool) {
	switch e := msg.(type) {
	case *ordersv1.OrderDeliveryFailed:
		return failedReport(e.GetRecord(), e.GetFailure()), true
	case *ordersv1.OrderAcceptedByWMS:
		return &connectorv1.RecordSucceeded{
			Record: e.GetRecord(), AttemptId: e.GetAttemptId(), ExternalId: e.GetWmsOrderId(),
			AttemptedAt: e.GetAttemptedAt(), SucceededAt: e.GetAcceptedAt(),
		}, true
	case *ordersv1.OrderEdited:
		return updated(e.GetRecord(), connectorv1.RecordChange_RECORD_CHANGE_EDITED, e.GetChangedFields(), e.GetActor(), e.GetEditedAt()), true
	case *ordersv1.OrderReleased:
		if e.GetCause() != ordersv1.ReleaseCause_RELEASE_CAUSE_SHIP_METHOD_MAPPED {
			return nil, false // an edit's release: the OrderEdited before it reports
		}
		return updated(e.GetRecord(), connectorv1.RecordChange_RECORD_CHANGE_EDITED, []string{"ship_method"}, e.GetActor(), e.GetReleasedAt()), true
	case *ordersv1.OrderResendRequested:
		if e.GetActor() == ActorRetryService {
			return nil, false
		}
		return updated(e.GetRecord(), connectorv1.RecordChange_RECORD_CHANGE_RESEND_REQUESTED, nil, e.GetActor(), e.GetRequestedAt()), true
	case *ordersv1.OrderSendingCanceled:
		return updated(e.GetRecord(), connectorv1.RecordChange_RECORD_CHANGE_CANCELED, nil, e.GetActor(), e.GetCanceledAt()), true
	case *ordersv1.OrderTrackingPushFailed:
		return failedReport(e.GetTrackingRecord(), e.GetFailure()), true
	case *ordersv1.OrderConfirmed:
		return &connectorv1.RecordSucceeded{
			Record: e.GetTrackingRecord(), AttemptId: e.GetAttemptId(), ExternalId: e.GetCartFulfillmentId(),
			AttemptedAt: e.GetAttemptedAt(), SucceededAt: e.GetConfirmedAt(),
		}, true
	}
	return nil, false
}

func failedReport(ref *connectorv1.RecordRef, f *ordersv1.Failure) *connectorv1.RecordFailed {
	return &connectorv1.RecordFailed{
		Record: ref, AttemptId: f.GetAttemptId(), Message: f.GetMessage(), Code: f.GetCode(),
		HttpStatus: f.GetHttpStatus(), RetryAfter: f.GetRetryAfter(), AttemptedAt: f.GetAttemptedAt(),
		FailedAt: f.GetFailedAt(),
	}
}

func updated(ref *connectorv1.RecordRef, change connectorv1.RecordChange, fields []string, actor string, at *timestamppb.Timestamp) *connectorv1.RecordUpdated {
	return &connectorv1.RecordUpdated{Record: ref, Change: change, ChangedFields: fields, Actor: actor, UpdatedAt: at}
}
