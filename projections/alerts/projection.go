package alerts

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
)

// Name is the projection's persisted name.
const Name = "alerts"

// Projection is the alerts read model's projection. Its zero value is ready to use.
type Projection struct{}

var _ projections.Projection = Projection{}

// New returns the alerts projection.
func New() Projection { return Projection{} }

// EventTypes lists the events the projection reads, for the event store's registry.
func EventTypes() []proto.Message {
	return []proto.Message{
		&alertsv1.AlertRaised{}, &alertsv1.AlertOccurred{}, &alertsv1.AlertResolved{},
		&alertsv1.AlertDismissed{}, &alertsv1.AlertReopened{}, &alertsv1.AlertEscalated{},
		&alertsv1.AlertNeedsAttention{}, &alertsv1.AlertCoveredByOutage{}, &alertsv1.AlertUncovered{},
	}
}

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Filters implements projections.Projection: every alert event.
func (Projection) Filters() []string { return []string{"evt.alert.>"} }

// Tables implements projections.Projection.
func (Projection) Tables() []string { return []string{tableAlerts, tableCounts} }

// Migrations implements projections.Projection.
func (Projection) Migrations() []projections.Migration { return migrations }

// key identifies a row.
type key struct {
	id          string
	incarnation uint32
}

// row is a row being changed by a batch.
type row struct {
	st       *alertsv1.Alert
	position uint64
	// before is the row's count group as stored before the batch (valid when stored).
	before groupKey
	stored bool
	// dirty says the batch changed the row.
	dirty bool
}

// groupKey is a row of alert_counts.
type groupKey struct {
	scope, account, connection, alertType string
	class, status, attention              int64
}

func groupOf(st *alertsv1.Alert) groupKey {
	r := st.GetRecord()
	return groupKey{
		scope: projections.ScopeOf(r.GetAccountId(), r.GetWarehouseId()), account: r.GetAccountId(),
		connection: r.GetConnectionId(), alertType: st.GetAlertType(), class: int64(st.GetErrorClass()),
		status: int64(st.GetStatus()), attention: boolInt(st.GetNeedsAttention()),
	}
}

// Apply implements projections.Projection: it loads the rows the batch changes, folds the events
// into them in memory, and writes each changed row once, with the count deltas.
func (Projection) Apply(ctx context.Context, tx *projections.Tx, recs []events.Record) error {
	rows := make(map[key]*row, len(recs))
	order := make([]key, 0, len(recs))
	// Rows to load: those an event changes that the batch did not raise itself.
	var load []string
	wanted := make(map[key]bool)
	for _, rec := range recs {
		ref := refOf(rec.Message)
		if ref == nil {
			continue
		}
		k := key{ref.GetAlertId(), ref.GetIncarnation()}
		if _, raised := rec.Message.(*alertsv1.AlertRaised); raised {
			wanted[k] = false
			continue
		}
		if _, seen := wanted[k]; !seen {
			wanted[k] = true
			load = append(load, k.id)
		}
	}
	if len(load) > 0 {
		if err := loadRows(ctx, tx, load, wanted, rows); err != nil {
			return err
		}
	}
	for _, rec := range recs {
		ref := refOf(rec.Message)
		if ref == nil {
			continue
		}
		k := key{ref.GetAlertId(), ref.GetIncarnation()}
		r := rows[k]
		if r == nil {
			r = &row{}
			rows[k] = r
		}
		if !r.dirty {
			r.dirty = true
			order = append(order, k)
		}
		r.st = fold(r.st, rec.Message)
		r.position = rec.Position
	}
	return write(ctx, tx, rows, order)
}

// loadRows reads the stored rows of the alert ids, keeping the incarnations wanted.
func loadRows(ctx context.Context, tx *projections.Tx, ids []string, wanted map[key]bool, into map[key]*row) error {
	return projections.Chunks(ids, 500, func(ids []string) error {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		rs, err := tx.Query(ctx, `SELECT incarnation, position, state FROM `+tx.Table(tableAlerts)+` WHERE alert_id IN (`+projections.Placeholders(len(ids))+`)`, args...)
		if err != nil {
			return fmt.Errorf("loading alerts: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			var (
				inc, pos int64
				data     []byte
			)
			if err := rs.Scan(&inc, &pos, &data); err != nil {
				return fmt.Errorf("loading alerts: %w", err)
			}
			st := &alertsv1.Alert{}
			if err := proto.Unmarshal(data, st); err != nil {
				return fmt.Errorf("loading alerts: decoding a stored alert: %w", err)
			}
			k := key{st.GetAlertId(), uint32(inc)}
			if !wanted[k] {
				continue
			}
			into[k] = &row{st: st, position: uint64(pos), before: groupOf(st), stored: true}
		}
		return rs.Err()
	})
}

// alertColumns are the alerts table's columns in the order write gives them.
var alertColumns = []string{
	"alert_id", "incarnation", "account_id", "scope_id", "connection_id", "record_kind", "order_number",
	"sku", "alert_type", "error_class", "status", "needs_attention", "first_seen_at", "last_seen_at",
	"position", "state",
}

var countColumns = []string{"scope_id", "account_id", "connection_id", "alert_type", "error_class", "status", "needs_attention", "n"}

var marshal = proto.MarshalOptions{Deterministic: true}

// write upserts the changed rows and applies the count deltas.
func write(ctx context.Context, tx *projections.Tx, rows map[key]*row, order []key) error {
	values := make([]any, 0, len(order)*len(alertColumns))
	deltas := make(map[groupKey]int64)
	for _, k := range order {
		r := rows[k]
		st := r.st
		data, err := marshal.Marshal(st)
		if err != nil {
			return fmt.Errorf("encoding alert %s: %w", k.id, err)
		}
		rec := st.GetRecord()
		values = append(values,
			k.id, int64(k.incarnation), rec.GetAccountId(), projections.ScopeOf(rec.GetAccountId(), rec.GetWarehouseId()),
			rec.GetConnectionId(), int64(rec.GetRecordKind()), rec.GetOrderNumber(), rec.GetSku(), st.GetAlertType(),
			int64(st.GetErrorClass()), int64(st.GetStatus()), boolInt(st.GetNeedsAttention()), nanos(st.GetFirstSeenAt()),
			nanos(st.GetLastSeenAt()), int64(r.position), data,
		)
		after := groupOf(st)
		if r.stored {
			if r.before == after {
				continue
			}
			deltas[r.before]--
		}
		deltas[after]++
	}
	if err := tx.Upsert(ctx, projections.Upsert{Table: tx.Table(tableAlerts), Columns: alertColumns, Key: 2}, values); err != nil {
		return err
	}
	if len(deltas) == 0 {
		return nil
	}
	cvals := make([]any, 0, len(deltas)*len(countColumns))
	decreased := false
	for g, d := range deltas {
		if d == 0 {
			continue
		}
		decreased = decreased || d < 0
		cvals = append(cvals, g.scope, g.account, g.connection, g.alertType, g.class, g.status, g.attention, d)
	}
	if len(cvals) > 0 {
		if err := tx.Upsert(ctx, projections.Upsert{Table: tx.Table(tableCounts), Columns: countColumns, Key: 7, Add: []string{"n"}}, cvals); err != nil {
			return err
		}
	}
	if decreased {
		if _, err := tx.Exec(ctx, `DELETE FROM `+tx.Table(tableCounts)+` WHERE n = 0`); err != nil {
			return fmt.Errorf("deleting empty alert counts: %w", err)
		}
	}
	return nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// nanos returns a timestamp as Unix nanoseconds; 0 when unset.
func nanos(ts *timestamppb.Timestamp) int64 {
	if !ts.IsValid() {
		return 0
	}
	return ts.AsTime().UnixNano()
}
