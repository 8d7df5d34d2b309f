package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
)

// Selection is the status a list selects, by its word: a status (new, at_wms, error, skipped,
// canceled, shipped, confirmed) or a combination (new_or_at_wms, shipped_or_confirmed, any).
type Selection string

// The selections.
const (
	SelectAny                Selection = "any"
	SelectNew                Selection = "new"
	SelectAtWMS              Selection = "at_wms"
	SelectError              Selection = "error"
	SelectSkipped            Selection = "skipped"
	SelectCanceled           Selection = "canceled"
	SelectShipped            Selection = "shipped"
	SelectConfirmed          Selection = "confirmed"
	SelectNewOrAtWMS         Selection = "new_or_at_wms"
	SelectShippedOrConfirmed Selection = "shipped_or_confirmed"
)

// where returns the condition a selection puts on the status columns.
func (s Selection) where(c *conds) error {
	status := func(st ordersv1.OrderStatus) {
		c.add("status_group = ? AND status = ?", groupOf(st), int64(st))
	}
	switch s {
	case SelectAny, "":
	case SelectNew:
		status(ordersv1.OrderStatus_ORDER_STATUS_NEW)
	case SelectAtWMS:
		status(ordersv1.OrderStatus_ORDER_STATUS_AT_WMS)
	case SelectError:
		c.add("status_group = ?", int64(groupError))
	case SelectSkipped:
		c.add("status_group = ?", int64(groupSkipped))
	case SelectCanceled:
		c.add("status_group = ?", int64(groupCanceled))
	case SelectShipped:
		status(ordersv1.OrderStatus_ORDER_STATUS_SHIPPED)
	case SelectConfirmed:
		status(ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED)
	case SelectNewOrAtWMS:
		c.add("status_group = ?", int64(groupNewOrAtWMS))
	case SelectShippedOrConfirmed:
		c.add("status_group = ?", int64(groupShippedOrConfirmed))
	default:
		return &events.InvalidArgumentError{Field: "status", Reason: fmt.Sprintf("%q is not one of new, at_wms, error, skipped, canceled, shipped, confirmed, new_or_at_wms, shipped_or_confirmed, any", string(s))}
	}
	return nil
}

// Filter selects orders. Empty fields select everything.
type Filter struct {
	// Account keeps one account's orders (within what the access allows).
	Account string
	// Status selects by status; empty means any.
	Status Selection
	// OrderNumber keeps the order(s) with this order number (exact).
	OrderNumber string
	// Connection keeps orders whose cart or WMS connection is this one.
	Connection string
}

// Reader answers the orders queries. It is safe for concurrent use.
type Reader struct {
	db *projections.DB
}

// NewReader returns a reader of the orders read model in db.
func NewReader(db *projections.DB) *Reader { return &Reader{db: db} }

// ErrNotFound means the read model has no order of that id.
var ErrNotFound = fmt.Errorf("orders: order %w", events.ErrNotFound)

// Get returns one order, whatever the caller's access: the caller checks it against the order's
// account and warehouse (rpc/auth.CheckLoaded).
func (r *Reader) Get(ctx context.Context, orderID string) (*ordersv1.Order, error) {
	var data []byte
	err := r.db.QueryRow(ctx, `SELECT state FROM `+tableOrders+` WHERE order_id = ?`, orderID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, orderID)
	}
	if err != nil {
		return nil, fmt.Errorf("orders: reading %s: %w", orderID, err)
	}
	return decode(data)
}

// List returns one page of the orders access may see that f selects, newest received first, and
// the cursor of the next page ("" on the last one).
func (r *Reader) List(ctx context.Context, access projections.Access, f Filter, page projections.Page) ([]*ordersv1.Order, string, error) {
	limit, err := page.Limit()
	if err != nil {
		return nil, "", err
	}
	acc, args, err := access.Where("account_id", "scope_id")
	if err != nil {
		return nil, "", err
	}
	c := &conds{}
	c.add(acc, args...)
	if err := f.Status.where(c); err != nil {
		return nil, "", err
	}
	if f.Account != "" {
		c.add("account_id = ?", f.Account)
	}
	if f.OrderNumber != "" {
		c.add("order_number = ?", f.OrderNumber)
	}
	if f.Connection != "" {
		c.add("(cart_connection_id = ? OR wms_connection_id = ?)", f.Connection, f.Connection)
	}
	const list = "orders/received/desc"
	if page.Cursor != "" {
		cur, err := projections.DecodeCursor(page.Cursor, list)
		if err != nil {
			return nil, "", err
		}
		if len(cur.Keys) != 1 {
			return nil, "", &events.InvalidArgumentError{Field: "cursor", Reason: "is not a cursor this service returned"}
		}
		c.add("(received_at, order_id) < (?, ?)", cur.Time, cur.Keys[0])
	}
	rows, err := r.db.Query(ctx, `SELECT received_at, order_id, state FROM `+tableOrders+` WHERE `+strings.Join(c.terms, " AND ")+
		` ORDER BY received_at DESC, order_id DESC LIMIT ?`, append(c.args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("orders: listing: %w", err)
	}
	defer rows.Close()
	out := make([]*ordersv1.Order, 0, limit)
	var last projections.Cursor
	for rows.Next() {
		if len(out) == limit {
			return out, last.Encode(), nil
		}
		var (
			t    int64
			id   string
			data []byte
		)
		if err := rows.Scan(&t, &id, &data); err != nil {
			return nil, "", fmt.Errorf("orders: listing: %w", err)
		}
		o, err := decode(data)
		if err != nil {
			return nil, "", err
		}
		out = append(out, o)
		last = projections.Cursor{List: list, Time: t, Keys: []string{id}}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("orders: listing: %w", err)
	}
	return out, "", nil
}

type conds struct {
	terms []string
	args  []any
}

func (c *conds) add(term string, args ...any) {
	c.terms = append(c.terms, term)
	c.args = append(c.args, args...)
}

func decode(data []byte) (*ordersv1.Order, error) {
	o := &ordersv1.Order{}
	if err := proto.Unmarshal(data, o); err != nil {
		return nil, fmt.Errorf("orders: decoding a stored order: %w", err)
	}
	return o, nil
}
