package retryqueue

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
)

// Name is the projection's persisted name.
const Name = "retry_queue"

// Projection is the retry-queue projection. Its zero value is ready to use.
type Projection struct{}

var _ projections.Projection = Projection{}

// New returns the retry-queue projection.
func New() Projection { return Projection{} }

// EventTypes lists the events the projection reads, for the event store's registry.
func EventTypes() []proto.Message {
	return []proto.Message{
		&retryv1.RetryScheduled{}, &retryv1.RetryWaitingForSync{}, &retryv1.RetryAttemptDue{},
		&retryv1.RetryHeld{}, &retryv1.RetryReleased{}, &retryv1.RetryWindowRestarted{},
		&retryv1.RetryPaused{}, &retryv1.RetryResumed{}, &retryv1.RetryCompleted{},
		&retryv1.RetryExhausted{}, &retryv1.RetryCanceled{},
	}
}

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Filters implements projections.Projection: every retry schedule event.
func (Projection) Filters() []string { return []string{"evt.retry.>"} }

// Tables implements projections.Projection.
func (Projection) Tables() []string { return []string{tableQueue} }

// Migrations implements projections.Projection.
func (Projection) Migrations() []projections.Migration { return migrations }

type key struct{ account, id string }

type row struct {
	s        *schedule
	position uint64
	dirty    bool
}

// Apply implements projections.Projection.
func (Projection) Apply(ctx context.Context, tx *projections.Tx, recs []events.Record) error {
	rows := make(map[key]*row)
	var order []key
	var load []key
	seen := make(map[key]bool)
	for _, rec := range recs {
		if rec.Message == nil || rec.AggregateType != "retry" {
			continue
		}
		k := key{rec.Account, rec.AggregateID}
		if !seen[k] {
			seen[k] = true
			load = append(load, k)
		}
	}
	if err := loadRows(ctx, tx, load, rows); err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.Message == nil || rec.AggregateType != "retry" {
			continue
		}
		k := key{rec.Account, rec.AggregateID}
		r := rows[k]
		if r == nil {
			r = &row{s: &schedule{id: rec.AggregateID}}
			rows[k] = r
		}
		if !r.s.apply(rec.Message) {
			continue
		}
		if !r.dirty {
			r.dirty = true
			order = append(order, k)
		}
		r.position = rec.Position
	}
	values := make([]any, 0, len(order)*len(columns))
	for _, k := range order {
		r := rows[k]
		st := r.s.snapshot()
		data, err := marshal.Marshal(st)
		if err != nil {
			return fmt.Errorf("encoding schedule %s: %w", k.id, err)
		}
		q, sortAt := r.s.queue()
		rr := st.GetRecord()
		values = append(values, k.id, k.account, rr.GetWarehouseId(), projections.ScopeOf(k.account, rr.GetWarehouseId()),
			rr.GetConnectionId(), int64(rr.GetRecordKind()), rr.GetRecordId(), rr.GetOrderNumber(), rr.GetSku(),
			int64(st.GetStatus()), int64(q), sortAt, int64(r.s.phase), boolInt(r.s.paused), nanosOf(r.s.nextAttemptAt),
			int64(r.position), data)
	}
	return tx.Upsert(ctx, projections.Upsert{Table: tx.Table(tableQueue), Columns: columns, Key: 2}, values)
}

var columns = []string{
	"schedule_id", "account_id", "warehouse_id", "scope_id", "connection_id", "record_kind", "record_id",
	"order_number", "sku", "status", "queue", "sort_at", "phase", "paused", "next_attempt_raw", "position", "state",
}

var marshal = proto.MarshalOptions{Deterministic: true}

// loadRows reads the stored schedules of keys.
func loadRows(ctx context.Context, tx *projections.Tx, keys []key, into map[key]*row) error {
	return projections.Chunks(keys, 500, func(keys []key) error {
		args := make([]any, len(keys))
		for i, k := range keys {
			args[i] = k.id
		}
		rs, err := tx.Query(ctx, `SELECT account_id, schedule_id, phase, paused, next_attempt_raw, position, state FROM `+tx.Table(tableQueue)+
			` WHERE schedule_id IN (`+projections.Placeholders(len(keys))+`)`, args...)
		if err != nil {
			return fmt.Errorf("loading retry schedules: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			var (
				account, id              string
				ph, paused, nextRaw, pos int64
				data                     []byte
			)
			if err := rs.Scan(&account, &id, &ph, &paused, &nextRaw, &pos, &data); err != nil {
				return fmt.Errorf("loading retry schedules: %w", err)
			}
			st := &retryv1.RetrySchedule{}
			if err := proto.Unmarshal(data, st); err != nil {
				return fmt.Errorf("loading retry schedules: decoding %s: %w", id, err)
			}
			into[key{account, id}] = &row{s: restore(st, phase(ph), paused != 0, nextRaw), position: uint64(pos)}
		}
		return rs.Err()
	})
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
