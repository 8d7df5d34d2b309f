package connhealth

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
)

// Name is the projection's persisted name.
const Name = "connection_health"

// Projection is the connection-health projection. Its zero value is ready to use.
type Projection struct{}

var _ projections.Projection = Projection{}

// New returns the connection-health projection.
func New() Projection { return Projection{} }

// EventTypes lists the events the projection reads, for the event store's registry.
func EventTypes() []proto.Message {
	return []proto.Message{
		&alertsv1.ConnectionFailureObserved{}, &alertsv1.ConnectionDown{}, &alertsv1.RecordCoveredByOutage{},
		&alertsv1.ConnectionRecovered{},
		&alertsv1.AlertRaised{}, &alertsv1.AlertOccurred{}, &alertsv1.AlertResolved{},
		&alertsv1.AlertDismissed{}, &alertsv1.AlertReopened{}, &alertsv1.AlertEscalated{},
		&alertsv1.AlertNeedsAttention{}, &alertsv1.AlertCoveredByOutage{}, &alertsv1.AlertUncovered{},
	}
}

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Filters implements projections.Projection: outage and alert events.
func (Projection) Filters() []string { return []string{"evt.outage.>", "evt.alert.>"} }

// Tables implements projections.Projection.
func (Projection) Tables() []string { return []string{tableHealth, tableRecords} }

// Migrations implements projections.Projection.
func (Projection) Migrations() []projections.Migration { return migrations }

type connKey struct{ connection, account string }

type recordKey struct {
	record     string
	kind       int64
	connection string
	account    string
}

// conn is a connection_health row.
type conn struct {
	accountKind, systemKind, status           int64
	warehouse, system                         string
	outageNumber, outageDownAt                int64
	outageAlertID                             string
	outages, coveredTotal, lastRecoveredAt    int64
	openAlerts, failingRecords, lastFailureAt int64
	position                                  int64
	dirty                                     bool
}

// change is what one event does to the read model.
type change struct {
	conn connKey
	// ref, when set, fills in the connection's identity.
	ref  *connectorv1.RecordRef
	cref *alertsv1.ConnectionRef
	// apply changes the row.
	apply func(*conn)
	// open is +1 when an alert opens, -1 when one closes; record is its record, if any.
	open   int64
	record *recordKey
	// pos is the event's global position.
	pos uint64
}

// changeOf returns what rec does, or false when it does nothing here.
func changeOf(rec events.Record) (change, bool) {
	account := rec.Account
	switch e := rec.Message.(type) {
	case *alertsv1.ConnectionFailureObserved:
		r := e.GetRecord().GetRecord()
		failed := nanos(e.GetRecord().GetFailedAt())
		return change{conn: connKey{e.GetConnectionId(), account}, ref: r, apply: func(c *conn) {
			c.lastFailureAt = max(c.lastFailureAt, failed)
		}}, true
	case *alertsv1.ConnectionDown:
		o := e.GetOutage()
		n := int64(len(e.GetCoveredRecords()))
		return change{conn: connKey{e.GetConnection().GetConnectionId(), account}, cref: e.GetConnection(), apply: func(c *conn) {
			c.status = int64(alertsv1.ConnectionStatus_CONNECTION_STATUS_DOWN)
			setOutage(c, o)
			c.coveredTotal = n
		}}, true
	case *alertsv1.RecordCoveredByOutage:
		o := e.GetOutage()
		return change{conn: connKey{e.GetConnection().GetConnectionId(), account}, cref: e.GetConnection(), apply: func(c *conn) {
			if c.status == int64(alertsv1.ConnectionStatus_CONNECTION_STATUS_DOWN) && c.outageNumber == int64(o.GetNumber()) {
				c.coveredTotal++
			}
		}}, true
	case *alertsv1.ConnectionRecovered:
		o := e.GetOutage()
		at := nanos(e.GetRecoveredAt())
		return change{conn: connKey{e.GetConnection().GetConnectionId(), account}, cref: e.GetConnection(), apply: func(c *conn) {
			c.status = int64(alertsv1.ConnectionStatus_CONNECTION_STATUS_UP)
			setOutage(c, o)
			c.coveredTotal = 0
			c.lastRecoveredAt = max(c.lastRecoveredAt, at)
		}}, true
	case *alertsv1.AlertRaised:
		return alertChange(account, e.GetAlert(), e.GetFailure().GetFailedAt(), +1), true
	case *alertsv1.AlertReopened:
		return alertChange(account, e.GetAlert(), e.GetFailure().GetFailedAt(), +1), true
	case *alertsv1.AlertOccurred:
		return alertChange(account, e.GetAlert(), e.GetFailure().GetFailedAt(), 0), true
	case *alertsv1.AlertResolved:
		return alertChange(account, e.GetAlert(), nil, -1), true
	case *alertsv1.AlertDismissed:
		return alertChange(account, e.GetAlert(), nil, -1), true
	}
	return change{}, false
}

func alertChange(account string, ref *alertsv1.AlertRef, failedAt *timestamppb.Timestamp, open int64) change {
	r := ref.GetRecord()
	failed := nanos(failedAt)
	ch := change{conn: connKey{r.GetConnectionId(), account}, ref: r, open: open, apply: func(c *conn) {
		c.lastFailureAt = max(c.lastFailureAt, failed)
		c.openAlerts = max(0, c.openAlerts+open)
	}}
	if open != 0 && r.GetRecordKind() != connectorv1.RecordKind_RECORD_KIND_UNSPECIFIED {
		ch.record = &recordKey{r.GetRecordId(), int64(r.GetRecordKind()), r.GetConnectionId(), account}
	}
	return ch
}

func setOutage(c *conn, o *alertsv1.OutageRef) {
	c.outageNumber = int64(o.GetNumber())
	c.outageDownAt = nanos(o.GetDownAt())
	c.outageAlertID = o.GetConnectionAlertId()
	c.outages = max(c.outages, int64(o.GetNumber()))
}

// Apply implements projections.Projection.
func (Projection) Apply(ctx context.Context, tx *projections.Tx, recs []events.Record) error {
	changes := make([]change, 0, len(recs))
	conns := make(map[connKey]*conn)
	records := make(map[recordKey]int64) // open alerts per record: stored, then as changed
	var connKeys []connKey
	var recKeys []recordKey
	for _, rec := range recs {
		if rec.Message == nil {
			continue
		}
		ch, ok := changeOf(rec)
		if !ok || ch.conn.connection == "" {
			continue
		}
		ch.pos = rec.Position
		changes = append(changes, ch)
		if _, ok := conns[ch.conn]; !ok {
			conns[ch.conn] = nil
			connKeys = append(connKeys, ch.conn)
		}
		if ch.record != nil {
			if _, ok := records[*ch.record]; !ok {
				records[*ch.record] = 0
				recKeys = append(recKeys, *ch.record)
			}
		}
	}
	if len(changes) == 0 {
		return nil
	}
	if err := loadConns(ctx, tx, connKeys, conns); err != nil {
		return err
	}
	if err := loadRecords(ctx, tx, recKeys, records); err != nil {
		return err
	}
	stored := make(map[recordKey]int64, len(records))
	for k, v := range records {
		stored[k] = v
	}
	for _, ch := range changes {
		c := conns[ch.conn]
		if c == nil {
			c = &conn{status: int64(alertsv1.ConnectionStatus_CONNECTION_STATUS_UP)}
			conns[ch.conn] = c
		}
		identify(c, ch)
		ch.apply(c)
		if ch.record != nil {
			before := records[*ch.record]
			after := max(0, before+ch.open)
			records[*ch.record] = after
			switch {
			case before == 0 && after > 0:
				c.failingRecords++
			case before > 0 && after == 0:
				c.failingRecords = max(0, c.failingRecords-1)
			}
		}
		c.position = int64(ch.pos)
		c.dirty = true
	}
	return write(ctx, tx, connKeys, conns, recKeys, records, stored)
}

// identify fills in the connection's identity from what the event says.
func identify(c *conn, ch change) {
	if r := ch.ref; r != nil {
		c.accountKind, c.warehouse = int64(r.GetAccountKind()), r.GetWarehouseId()
		c.systemKind, c.system = int64(r.GetSystemKind()), r.GetSystem()
	}
	if r := ch.cref; r != nil {
		c.accountKind, c.warehouse = int64(r.GetAccountKind()), r.GetWarehouseId()
		c.systemKind, c.system = int64(r.GetSystemKind()), r.GetSystem()
	}
}

var healthColumns = []string{
	"connection_id", "account_id", "account_kind", "warehouse_id", "scope_id", "system_kind", "system", "status",
	"outage_number", "outage_down_at", "outage_alert_id", "outages", "covered_total", "last_recovered_at",
	"open_alerts", "failing_records", "last_failure_at", "position",
}

var recordColumns = []string{"record_id", "record_kind", "connection_id", "account_id", "open_alerts"}

func write(ctx context.Context, tx *projections.Tx, connKeys []connKey, conns map[connKey]*conn, recKeys []recordKey, records, stored map[recordKey]int64) error {
	values := make([]any, 0, len(connKeys)*len(healthColumns))
	for _, k := range connKeys {
		c := conns[k]
		if c == nil || !c.dirty {
			continue
		}
		values = append(values, k.connection, k.account, c.accountKind, c.warehouse, projections.ScopeOf(k.account, c.warehouse),
			c.systemKind, c.system, c.status, c.outageNumber, c.outageDownAt, c.outageAlertID, c.outages, c.coveredTotal,
			c.lastRecoveredAt, c.openAlerts, c.failingRecords, c.lastFailureAt, c.position)
	}
	if err := tx.Upsert(ctx, projections.Upsert{Table: tx.Table(tableHealth), Columns: healthColumns, Key: 2}, values); err != nil {
		return err
	}
	var upserts []any
	for _, k := range recKeys {
		n := records[k]
		switch {
		case n > 0 && n != stored[k]:
			upserts = append(upserts, k.record, k.kind, k.connection, k.account, n)
		case n == 0 && stored[k] > 0:
			if _, err := tx.Exec(ctx, `DELETE FROM `+tx.Table(tableRecords)+` WHERE record_id = ? AND record_kind = ? AND connection_id = ? AND account_id = ?`,
				k.record, k.kind, k.connection, k.account); err != nil {
				return fmt.Errorf("deleting a record without open alerts: %w", err)
			}
		}
	}
	if len(upserts) == 0 {
		return nil
	}
	return tx.Upsert(ctx, projections.Upsert{Table: tx.Table(tableRecords), Columns: recordColumns, Key: 4}, upserts)
}

func loadConns(ctx context.Context, tx *projections.Tx, keys []connKey, into map[connKey]*conn) error {
	ids := make([]any, 0, len(keys))
	seen := make(map[string]bool)
	for _, k := range keys {
		if !seen[k.connection] {
			seen[k.connection] = true
			ids = append(ids, k.connection)
		}
	}
	return projections.Chunks(ids, 500, func(ids []any) error {
		rs, err := tx.Query(ctx, `SELECT connection_id, account_id, account_kind, warehouse_id, system_kind, system, status,
			outage_number, outage_down_at, outage_alert_id, outages, covered_total, last_recovered_at, open_alerts,
			failing_records, last_failure_at, position FROM `+tx.Table(tableHealth)+` WHERE connection_id IN (`+projections.Placeholders(len(ids))+`)`, ids...)
		if err != nil {
			return fmt.Errorf("loading connections: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			var k connKey
			c := &conn{}
			if err := rs.Scan(&k.connection, &k.account, &c.accountKind, &c.warehouse, &c.systemKind, &c.system, &c.status,
				&c.outageNumber, &c.outageDownAt, &c.outageAlertID, &c.outages, &c.coveredTotal, &c.lastRecoveredAt,
				&c.openAlerts, &c.failingRecords, &c.lastFailureAt, &c.position); err != nil {
				return fmt.Errorf("loading connections: %w", err)
			}
			if _, wanted := into[k]; wanted {
				into[k] = c
			}
		}
		return rs.Err()
	})
}

func loadRecords(ctx context.Context, tx *projections.Tx, keys []recordKey, into map[recordKey]int64) error {
	ids := make([]any, 0, len(keys))
	seen := make(map[string]bool)
	for _, k := range keys {
		if !seen[k.record] {
			seen[k.record] = true
			ids = append(ids, k.record)
		}
	}
	return projections.Chunks(ids, 500, func(ids []any) error {
		rs, err := tx.Query(ctx, `SELECT record_id, record_kind, connection_id, account_id, open_alerts FROM `+tx.Table(tableRecords)+
			` WHERE record_id IN (`+projections.Placeholders(len(ids))+`)`, ids...)
		if err != nil {
			return fmt.Errorf("loading failing records: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			var k recordKey
			var n int64
			if err := rs.Scan(&k.record, &k.kind, &k.connection, &k.account, &n); err != nil {
				return fmt.Errorf("loading failing records: %w", err)
			}
			if _, wanted := into[k]; wanted {
				into[k] = n
			}
		}
		return rs.Err()
	})
}

func nanos(ts *timestamppb.Timestamp) int64 {
	if !ts.IsValid() {
		return 0
	}
	return ts.AsTime().UnixNano()
}
