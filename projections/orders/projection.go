package orders

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
)

// Name is the projection's persisted name.
const Name = "orders"

// Projection is the orders projection. Its zero value is ready to use.
type Projection struct{}

var _ projections.Projection = Projection{}

// New returns the orders projection.
func New() Projection { return Projection{} }

// EventTypes lists the events the projection reads, for the event store's registry.
func EventTypes() []proto.Message {
	return []proto.Message{
		&ordersv1.OrderReceived{}, &ordersv1.OrderEdited{}, &ordersv1.OrderDeliveryAttempted{},
		&ordersv1.OrderAcceptedByWMS{}, &ordersv1.OrderDeliveryFailed{}, &ordersv1.OrderHeld{},
		&ordersv1.OrderReleased{}, &ordersv1.OrderResendRequested{}, &ordersv1.OrderSendingCanceled{},
		&ordersv1.OrderSkipped{}, &ordersv1.OrderShipped{}, &ordersv1.OrderConfirmed{},
		&ordersv1.OrderTrackingPushFailed{},
	}
}

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Filters implements projections.Projection: every order event.
func (Projection) Filters() []string { return []string{"evt.order.>"} }

// Tables implements projections.Projection.
func (Projection) Tables() []string { return []string{tableOrders} }

// Migrations implements projections.Projection.
func (Projection) Migrations() []projections.Migration { return migrations }

type row struct {
	st       *ordersv1.Order
	position uint64
	dirty    bool
}

// Apply implements projections.Projection.
func (Projection) Apply(ctx context.Context, tx *projections.Tx, recs []events.Record) error {
	rows := make(map[string]*row)
	var load []string
	for _, rec := range recs {
		if rec.Message == nil || !isOrderEvent(rec.Message) {
			continue
		}
		if _, received := rec.Message.(*ordersv1.OrderReceived); received {
			rows[rec.AggregateID] = nil
			continue
		}
		if _, seen := rows[rec.AggregateID]; !seen {
			rows[rec.AggregateID] = nil
			load = append(load, rec.AggregateID)
		}
	}
	if err := loadRows(ctx, tx, load, rows); err != nil {
		return err
	}
	var order []string
	for _, rec := range recs {
		if rec.Message == nil || !isOrderEvent(rec.Message) {
			continue
		}
		id := rec.AggregateID
		r := rows[id]
		if r == nil {
			r = &row{}
			rows[id] = r
		}
		st := fold(r.st, rec.Message)
		if st == nil {
			continue // an event before OrderReceived: nothing to show
		}
		r.st, r.position = st, rec.Position
		if !r.dirty {
			r.dirty = true
			order = append(order, id)
		}
	}
	values := make([]any, 0, len(order)*len(columns))
	for _, id := range order {
		r := rows[id]
		st := r.st
		data, err := marshal.Marshal(st)
		if err != nil {
			return fmt.Errorf("encoding order %s: %w", id, err)
		}
		values = append(values, id, st.GetAccountId(), st.GetWarehouseId(), projections.ScopeOf(st.GetAccountId(), st.GetWarehouseId()),
			st.GetCart().GetConnectionId(), st.GetWms().GetConnectionId(), st.GetOrderNumber(), int64(st.GetStatus()),
			groupOf(st.GetStatus()), nanos(st.GetReceivedAt()), nanos(st.GetUpdatedAt()), int64(r.position), data)
	}
	return tx.Upsert(ctx, projections.Upsert{Table: tx.Table(tableOrders), Columns: columns, Key: 1}, values)
}

var columns = []string{
	"order_id", "account_id", "warehouse_id", "scope_id", "cart_connection_id", "wms_connection_id", "order_number",
	"status", "status_group", "received_at", "updated_at", "position", "state",
}

var marshal = proto.MarshalOptions{Deterministic: true}

func loadRows(ctx context.Context, tx *projections.Tx, ids []string, into map[string]*row) error {
	return projections.Chunks(ids, 500, func(ids []string) error {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		rs, err := tx.Query(ctx, `SELECT order_id, position, state FROM `+tx.Table(tableOrders)+` WHERE order_id IN (`+projections.Placeholders(len(ids))+`)`, args...)
		if err != nil {
			return fmt.Errorf("loading orders: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			var (
				id   string
				pos  int64
				data []byte
			)
			if err := rs.Scan(&id, &pos, &data); err != nil {
				return fmt.Errorf("loading orders: %w", err)
			}
			st := &ordersv1.Order{}
			if err := proto.Unmarshal(data, st); err != nil {
				return fmt.Errorf("loading orders: decoding %s: %w", id, err)
			}
			into[id] = &row{st: st, position: uint64(pos)}
		}
		return rs.Err()
	})
}

// Status groups (stored: never renumber).
const (
	groupNewOrAtWMS         = 1
	groupError              = 2
	groupSkipped            = 3
	groupCanceled           = 4
	groupShippedOrConfirmed = 5
)

func groupOf(s ordersv1.OrderStatus) int64 {
	switch s {
	case ordersv1.OrderStatus_ORDER_STATUS_NEW, ordersv1.OrderStatus_ORDER_STATUS_AT_WMS:
		return groupNewOrAtWMS
	case ordersv1.OrderStatus_ORDER_STATUS_ERROR:
		return groupError
	case ordersv1.OrderStatus_ORDER_STATUS_SKIPPED:
		return groupSkipped
	case ordersv1.OrderStatus_ORDER_STATUS_CANCELED:
		return groupCanceled
	case ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED:
		return groupShippedOrConfirmed
	}
	return 0
}

func nanos(ts *timestamppb.Timestamp) int64 {
	if !ts.IsValid() {
		return 0
	}
	return ts.AsTime().UnixNano()
}
