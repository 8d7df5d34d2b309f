package alerts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
)

// Filter selects alerts. Empty fields select everything; list fields match any of their values.
type Filter struct {
	// Account keeps one account's alerts (within what the access allows: a warehouse may ask
	// for one of its merchants).
	Account string
	// Statuses keeps alerts in these statuses.
	Statuses []alertsv1.AlertStatus
	// Types keeps alerts of these alert types ("wms_unavailable", ...).
	Types []string
	// Classes keeps alerts whose latest failure has these classes.
	Classes []connectorv1.ErrorClass
	// Connections keeps alerts of these connections.
	Connections []string
	// RecordKinds keeps alerts of these record kinds.
	RecordKinds []connectorv1.RecordKind
	// OrderNumber keeps the alerts of the order with this order number (exact).
	OrderNumber string
	// SKU keeps the alerts of the product with this SKU (exact).
	SKU string
	// NeedsAttention, when set, keeps alerts that need attention (true) or do not (false).
	NeedsAttention *bool
	// From and To, when set, keep alerts whose time (last seen, or first seen when TimeOf says
	// so) is at or after From and before To.
	From, To time.Time
	// TimeOf says which time From and To apply to.
	TimeOf SortBy
}

// SortBy is the time a list is sorted by.
type SortBy int

// Sort keys.
const (
	// SortLastSeen sorts by the latest failure time (the default).
	SortLastSeen SortBy = iota
	// SortFirstSeen sorts by the incarnation's first failure time.
	SortFirstSeen
)

// Order is a list's sort order: newest first unless Ascending.
type Order struct {
	By        SortBy
	Ascending bool
}

func (o Order) column() (string, error) {
	switch o.By {
	case SortLastSeen:
		return "last_seen_at", nil
	case SortFirstSeen:
		return "first_seen_at", nil
	}
	return "", &events.InvalidArgumentError{Field: "sort", Reason: fmt.Sprintf("%d is not a sort key", o.By)}
}

func (o Order) list() string {
	dir := "desc"
	if o.Ascending {
		dir = "asc"
	}
	col, _ := o.column()
	return "alerts/" + col + "/" + dir
}

// Counts are the numbers of alerts a filter selects, in total and per group.
type Counts struct {
	Total        int64
	ByStatus     map[alertsv1.AlertStatus]int64
	ByType       map[string]int64
	ByConnection map[string]int64
}

// Reader answers the alerts queries. It is safe for concurrent use.
type Reader struct {
	db *projections.DB
}

// NewReader returns a reader of the alerts read model in db.
func NewReader(db *projections.DB) *Reader { return &Reader{db: db} }

// ErrNotFound means there is no such alert in the read model.
var ErrNotFound = fmt.Errorf("alerts: alert %w", events.ErrNotFound)

// Get returns one alert incarnation, or the latest one when incarnation is 0, whatever the
// caller's access: the caller checks it against the alert's account and warehouse
// (rpc/auth.CheckLoaded) so that a missing alert and another account's look the same.
func (r *Reader) Get(ctx context.Context, alertID string, incarnation uint32) (*alertsv1.Alert, error) {
	q := `SELECT state FROM ` + tableAlerts + ` WHERE alert_id = ?`
	args := []any{alertID}
	if incarnation > 0 {
		q += ` AND incarnation = ?`
		args = append(args, int64(incarnation))
	}
	q += ` ORDER BY incarnation DESC LIMIT 1`
	var data []byte
	err := r.db.QueryRow(ctx, q, args...).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, alertID)
	}
	if err != nil {
		return nil, fmt.Errorf("alerts: reading alert %s: %w", alertID, err)
	}
	return decode(data)
}

// List returns one page of the alerts access may see that f selects, in order o, and the cursor
// of the next page ("" on the last page). The page's cursor must come from a List with the
// same order.
func (r *Reader) List(ctx context.Context, access projections.Access, f Filter, o Order, page projections.Page) ([]*alertsv1.Alert, string, error) {
	limit, err := page.Limit()
	if err != nil {
		return nil, "", err
	}
	col, err := o.column()
	if err != nil {
		return nil, "", err
	}
	w, err := where(access, f)
	if err != nil {
		return nil, "", err
	}
	cmp, dir := "<", "DESC"
	if o.Ascending {
		cmp, dir = ">", "ASC"
	}
	if page.Cursor != "" {
		c, err := projections.DecodeCursor(page.Cursor, o.list())
		if err != nil {
			return nil, "", err
		}
		if len(c.Keys) != 1 {
			return nil, "", &events.InvalidArgumentError{Field: "cursor", Reason: "is not a cursor this service returned"}
		}
		w.add("("+col+", alert_id, incarnation) "+cmp+" (?, ?, ?)", c.Time, c.Keys[0], c.N)
	}
	q := `SELECT ` + col + `, alert_id, incarnation, state FROM ` + tableAlerts + ` WHERE ` + w.sql() +
		` ORDER BY ` + col + ` ` + dir + `, alert_id ` + dir + `, incarnation ` + dir + ` LIMIT ?`
	rows, err := r.db.Query(ctx, q, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("alerts: listing: %w", err)
	}
	defer rows.Close()
	out := make([]*alertsv1.Alert, 0, limit)
	var last projections.Cursor
	more := false
	for rows.Next() {
		if len(out) == limit {
			more = true
			break
		}
		var (
			t, inc int64
			id     string
			data   []byte
		)
		if err := rows.Scan(&t, &id, &inc, &data); err != nil {
			return nil, "", fmt.Errorf("alerts: listing: %w", err)
		}
		a, err := decode(data)
		if err != nil {
			return nil, "", err
		}
		out = append(out, a)
		last = projections.Cursor{List: o.list(), Time: t, Keys: []string{id}, N: inc}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("alerts: listing: %w", err)
	}
	next := ""
	if more {
		next = last.Encode()
	}
	return out, next, nil
}

// Count returns how many alerts access may see that f selects, in total and by status, type
// and connection. Filters on order number, SKU, record kind and time count the alerts
// themselves; the others read the maintained counts.
func (r *Reader) Count(ctx context.Context, access projections.Access, f Filter) (Counts, error) {
	table, n := tableCounts, "CAST(SUM(n) AS BIGINT)"
	if f.OrderNumber != "" || f.SKU != "" || len(f.RecordKinds) > 0 || !f.From.IsZero() || !f.To.IsZero() {
		table, n = tableAlerts, "COUNT(*)"
	}
	w, err := where(access, f)
	if err != nil {
		return Counts{}, err
	}
	rows, err := r.db.Query(ctx, `SELECT status, alert_type, connection_id, `+n+` FROM `+table+` WHERE `+w.sql()+
		` GROUP BY status, alert_type, connection_id`, w.args...)
	if err != nil {
		return Counts{}, fmt.Errorf("alerts: counting: %w", err)
	}
	defer rows.Close()
	c := Counts{ByStatus: map[alertsv1.AlertStatus]int64{}, ByType: map[string]int64{}, ByConnection: map[string]int64{}}
	for rows.Next() {
		var (
			status, count         int64
			alertType, connection string
		)
		if err := rows.Scan(&status, &alertType, &connection, &count); err != nil {
			return Counts{}, fmt.Errorf("alerts: counting: %w", err)
		}
		c.Total += count
		c.ByStatus[alertsv1.AlertStatus(status)] += count
		c.ByType[alertType] += count
		c.ByConnection[connection] += count
	}
	if err := rows.Err(); err != nil {
		return Counts{}, fmt.Errorf("alerts: counting: %w", err)
	}
	return c, nil
}

// conds is a WHERE clause being built.
type conds struct {
	terms []string
	args  []any
}

func (c *conds) add(term string, args ...any) {
	c.terms = append(c.terms, term)
	c.args = append(c.args, args...)
}

func (c *conds) sql() string { return strings.Join(c.terms, " AND ") }

func in[T any](c *conds, col string, vals []T, conv func(T) any) {
	switch len(vals) {
	case 0:
	case 1:
		c.add(col+" = ?", conv(vals[0]))
	default:
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = conv(v)
		}
		c.add(col+" IN ("+projections.Placeholders(len(vals))+")", args...)
	}
}

// where builds the conditions of a filter. The counts table has no times, order numbers, SKUs
// or record kinds: Count reads the alerts table when those are set.
func where(access projections.Access, f Filter) (*conds, error) {
	acc, args, err := access.Where("account_id", "scope_id")
	if err != nil {
		return nil, err
	}
	timeCol, err := Order{By: f.TimeOf}.column()
	if err != nil {
		return nil, err
	}
	if len(f.Statuses)+len(f.Types)+len(f.Classes)+len(f.Connections)+len(f.RecordKinds) > 1000 {
		return nil, &events.InvalidArgumentError{Field: "filter", Reason: "lists more than 1000 values"}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, &events.InvalidArgumentError{Field: "filter.to", Reason: "is not after filter.from"}
	}
	c := &conds{}
	c.add(acc, args...)
	if f.Account != "" {
		c.add("account_id = ?", f.Account)
	}
	in(c, "status", f.Statuses, func(v alertsv1.AlertStatus) any { return int64(v) })
	in(c, "alert_type", f.Types, func(v string) any { return v })
	in(c, "error_class", f.Classes, func(v connectorv1.ErrorClass) any { return int64(v) })
	in(c, "connection_id", f.Connections, func(v string) any { return v })
	in(c, "record_kind", f.RecordKinds, func(v connectorv1.RecordKind) any { return int64(v) })
	if f.OrderNumber != "" {
		// The second term lets both engines use the partial index on order numbers.
		c.add("order_number = ? AND order_number <> ''", f.OrderNumber)
	}
	if f.SKU != "" {
		c.add("sku = ? AND sku <> ''", f.SKU)
	}
	if f.NeedsAttention != nil {
		c.add("needs_attention = ?", boolInt(*f.NeedsAttention))
	}
	if !f.From.IsZero() {
		c.add(timeCol+" >= ?", f.From.UnixNano())
	}
	if !f.To.IsZero() {
		c.add(timeCol+" < ?", f.To.UnixNano())
	}
	return c, nil
}

func decode(data []byte) (*alertsv1.Alert, error) {
	a := &alertsv1.Alert{}
	if err := proto.Unmarshal(data, a); err != nil {
		return nil, fmt.Errorf("alerts: decoding a stored alert: %w", err)
	}
	return a, nil
}
