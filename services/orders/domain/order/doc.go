// Package order is the Order aggregate: one order received from a cart and delivered to a WMS,
// stored as evt.order.<account>.<order id>.<EventType>, the order id being ID(account, cart
// connection, order number).
//
// # Lifecycle
//
// Statuses, as clients see them (StatusWord): new, at_wms, error (held), skipped, canceled,
// shipped, confirmed.
//
//   - Receive records an order a cart submitted (OrderReceived, status new). A resubmission with
//     the same payload (ship-to address, ship method code, lines) changes nothing; a changed
//     payload is an edit (OrderEdited, source cart).
//   - AttemptDelivery starts an attempt with an attempt id (NextAttemptID for the service's own
//     attempts, RetryDue.attempt_id for retries) and the ship method the order's cart code
//     resolves to (shipmap.Mappings.Resolve). An unmapped code holds the order before anything
//     is sent (OrderDeliveryFailed with code SHIP_METHOD_UNMAPPED and sent=false, OrderHeld with
//     reason ship_method_unmapped); otherwise OrderDeliveryAttempted, and the app sends it.
//   - RecordAccepted records the WMS's acceptance (OrderAcceptedByWMS, status at_wms), also a
//     duplicate answer to a repeated idempotency key.
//   - RecordFailure records a failed attempt (OrderDeliveryFailed) with its classification: a
//     manual-action failure holds the order (OrderHeld, status error), a rejected one skips it
//     (OrderSkipped, reason rejected); any other failure leaves it new, waiting for the retry
//     service's next RetryDue.
//   - Edit (a person) changes the payload; an edit of a held or skipped order releases it
//     (OrderEdited, OrderReleased, status new). RequestResend sends a held, skipped or cancelled
//     order again (OrderResendRequested, status new). CancelSending stops further attempts
//     (OrderSendingCanceled, status canceled). ReleaseShipMethod releases an order held on
//     ship_method_unmapped once its code is mapped (OrderReleased). Skip records that retries ran
//     out (OrderSkipped, status skipped).
//   - Ship records the WMS's shipment (OrderShipped, status shipped; an order the WMS ships
//     without having acknowledged it is accepted first). RecordTrackingPushed records that the
//     cart accepted the tracking (OrderConfirmed, status confirmed); RecordTrackingPushFailure a
//     failed push (OrderTrackingPushFailed).
//
// # Attempts
//
// One attempt is in flight at a time (Pending). Its outcome is recorded with its id; a failure of
// any other attempt is stale (the order was edited, resent or cancelled meanwhile) and changes
// nothing, while an acceptance is always recorded: the WMS has the order. Edits, resends and
// cancellations end the attempt in flight.
//
// RetrySeries tells who owns the next attempt: once an attempt failed (since the order was received
// or last cancelled), its report started a retry series and the retry service makes the attempts
// due, also right after an edit, a resend or a mapping release; until then the orders service
// sends the order itself.
//
// # Connector reports
//
// Every delivery outcome is also a connector report (ConnectorReport): OrderDeliveryFailed is a
// RecordFailed and OrderAcceptedByWMS a RecordSucceeded of the order record (account, WMS
// connection, ORDER, order id); OrderEdited, OrderResendRequested, OrderSendingCanceled and a
// release by a ship method mapping are RecordUpdated; OrderTrackingPushFailed and OrderConfirmed
// are RecordFailed and RecordSucceeded of the tracking record (account, cart connection,
// TRACKING, order id). The events carry their record, so the report needs nothing else.
//
// # Errors
//
// Bad input is a *connector.FieldError naming the field (errors.Is events.ErrInvalidArgument). A
// command a person gives in the wrong state (edit an order at the WMS, cancel a shipped one) is a
// *domain.StateError (errors.Is domain.ErrWrongState). Commands that come from the bus or the
// connectors (outcomes, Skip, ReleaseShipMethod) are tolerant: what does not apply any more
// changes nothing, so redeliveries and late answers are harmless.
package order
