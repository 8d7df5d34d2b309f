package alert

import (
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
)

// AggregateType is the aggregate type of alert streams: evt.alert.<account>.<alert id>.<EventType>.
// A persisted identifier.
const AggregateType = "alert"

// AlertID returns the id of the alert with the fingerprint account + connection + record kind +
// record id + alert type. It is stable: the same fingerprint always has the same id, across
// incarnations.
func AlertID(account, connectionID string, kind connectorv1.RecordKind, recordID, alertType string) string {
	return connector.HashKey("alt", account, connectionID, kind.String(), recordID, alertType)
}

// IDOf returns the id of the alert of alertType on the record ref names.
func IDOf(ref *connectorv1.RecordRef, alertType string) string {
	return AlertID(ref.GetAccountId(), ref.GetConnectionId(), ref.GetRecordKind(), ref.GetRecordId(), alertType)
}

// ConnectionAlertID returns the id of a connection's connection_down alert: the fingerprint has
// no record kind and an empty record id.
func ConnectionAlertID(account, connectionID string) string {
	return AlertID(account, connectionID, connectorv1.RecordKind_RECORD_KIND_UNSPECIFIED, "", classify.TypeConnectionDown)
}

// Stream returns the stream of an alert.
func Stream(account, alertID string) events.StreamID {
	return events.StreamID{AggregateType: AggregateType, Account: account, ID: alertID}
}
