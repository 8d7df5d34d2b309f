package connector

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
)

// Aggregate types of the streams connector reports are stored in. Persisted identifiers.
const (
	// RecordAggregate holds a record's RecordFailed, RecordSucceeded and RecordUpdated reports:
	// evt.record.<account>.<record key>.<EventType>.
	RecordAggregate = "record"
	// ConnectionAggregate holds a connection's SyncCycleStarted reports:
	// evt.connection.<account>.<connection id>.SyncCycleStarted.
	ConnectionAggregate = "connection"
)

// RecordKey returns the stable key of a record: a hash of its connection, kind and id, usable as
// a subject token whatever characters the connector's id has. The same record always has the
// same key; the human references stay in the payload.
func RecordKey(connectionID string, kind connectorv1.RecordKind, recordID string) string {
	return hashKey("rec", connectionID, kind.String(), recordID)
}

// RecordKeyOf returns the key of the record ref names.
func RecordKeyOf(ref *connectorv1.RecordRef) string {
	return RecordKey(ref.GetConnectionId(), ref.GetRecordKind(), ref.GetRecordId())
}

// RecordStream returns the stream a record's reports are stored in.
func RecordStream(ref *connectorv1.RecordRef) events.StreamID {
	return events.StreamID{AggregateType: RecordAggregate, Account: ref.GetAccountId(), ID: RecordKeyOf(ref)}
}

// ConnectionStream returns the stream a connection's sync cycles are stored in.
func ConnectionStream(account, connectionID string) events.StreamID {
	return events.StreamID{AggregateType: ConnectionAggregate, Account: account, ID: connectionID}
}

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// hashKey hashes parts (separated so that ("ab","c") and ("a","bc") differ) into a 26-character
// lower-case token with the given prefix.
func hashKey(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0x1f})
	}
	sum := h.Sum(nil)
	return prefix + "_" + strings.ToLower(keyEncoding.EncodeToString(sum[:16]))
}

// HashKey is hashKey for other packages that derive ids from several values (alert
// fingerprints, for one).
func HashKey(prefix string, parts ...string) string { return hashKey(prefix, parts...) }
