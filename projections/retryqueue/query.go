package retryqueue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
)

// Filter narrows a queue. Empty fields select everything.
type Filter struct {
	// Account keeps one account's records (within what the access allows).
	Account string
	// Connections keeps records of these connections.
	Connections []string
	// RecordKinds keeps records of these kinds (the "Show Skipped Orders" list asks for orders).
	RecordKinds []connectorv1.RecordKind
}

// Reader answers the retry-queue queries. It is safe for concurrent use.
type Reader struct {
	db *projections.DB
}

// NewReader returns a reader of the retry-queue read model in db.
func NewReader(db *projections.DB) *Reader { return &Reader{db: db} }

// ErrNotFound means the read model has no schedule of that id.
var ErrNotFound = fmt.Errorf("retryqueue: schedule %w", events.ErrNotFound)

// Get returns one schedule by its id (the record key), whatever the caller's access: the caller
// checks it against the record's account and warehouse (rpc/auth.CheckLoaded).
func (r *Reader) Get(ctx context.Context, scheduleID string) (*retryv1.RetrySchedule, error) {
	var data []byte
	err := r.db.QueryRow(ctx, `SELECT state FROM `+tableQueue+` WHERE schedule_id = ? LIMIT 1`, scheduleID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, scheduleID)
	}
	if err != nil {
		return nil, fmt.Errorf("retryqueue: reading %s: %w", scheduleID, err)
	}
	return decode(data)
}

// Pending lists the records the retry service will retry by itself, by due time (earliest
// first); records waiting for a sync cycle, or paused without a timer, come last.
func (r *Reader) Pending(ctx context.Context, access projections.Access, f Filter, page projections.Page) ([]*retryv1.RetrySchedule, string, error) {
	return r.list(ctx, queuePending, false, access, f, page)
}

// Held lists the records held for manual action, oldest hold first.
func (r *Reader) Held(ctx context.Context, access projections.Access, f Filter, page projections.Page) ([]*retryv1.RetrySchedule, string, error) {
	return r.list(ctx, queueHeld, false, access, f, page)
}

// Skipped lists the records whose retries were exhausted or that were rejected, most recently
// skipped first; each carries the reason (exhausted_reason, last_failure).
func (r *Reader) Skipped(ctx context.Context, access projections.Access, f Filter, page projections.Page) ([]*retryv1.RetrySchedule, string, error) {
	return r.list(ctx, queueSkipped, true, access, f, page)
}

// Counts are the sizes of the queues.
type Counts struct {
	Pending, Held, Skipped int64
}

// Count returns the size of each queue for what access may see that f selects.
func (r *Reader) Count(ctx context.Context, access projections.Access, f Filter) (Counts, error) {
	w, err := where(access, f)
	if err != nil {
		return Counts{}, err
	}
	rows, err := r.db.Query(ctx, `SELECT queue, COUNT(*) FROM `+tableQueue+` WHERE `+w.sql()+` AND queue > 0 GROUP BY queue`, w.args...)
	if err != nil {
		return Counts{}, fmt.Errorf("retryqueue: counting: %w", err)
	}
	defer rows.Close()
	var c Counts
	for rows.Next() {
		var q, n int64
		if err := rows.Scan(&q, &n); err != nil {
			return Counts{}, fmt.Errorf("retryqueue: counting: %w", err)
		}
		switch q {
		case queuePending:
			c.Pending = n
		case queueHeld:
			c.Held = n
		case queueSkipped:
			c.Skipped = n
		}
	}
	return c, rows.Err()
}

func (r *Reader) list(ctx context.Context, queue int64, desc bool, access projections.Access, f Filter, page projections.Page) ([]*retryv1.RetrySchedule, string, error) {
	limit, err := page.Limit()
	if err != nil {
		return nil, "", err
	}
	w, err := where(access, f)
	if err != nil {
		return nil, "", err
	}
	w.add("queue = ?", queue)
	listName := fmt.Sprintf("retry/%d", queue)
	cmp, dir := ">", "ASC"
	if desc {
		cmp, dir = "<", "DESC"
	}
	if page.Cursor != "" {
		c, err := projections.DecodeCursor(page.Cursor, listName)
		if err != nil {
			return nil, "", err
		}
		if len(c.Keys) != 1 {
			return nil, "", &events.InvalidArgumentError{Field: "cursor", Reason: "is not a cursor this service returned"}
		}
		w.add("(sort_at, schedule_id) "+cmp+" (?, ?)", c.Time, c.Keys[0])
	}
	rows, err := r.db.Query(ctx, `SELECT sort_at, schedule_id, state FROM `+tableQueue+` WHERE `+w.sql()+
		` ORDER BY sort_at `+dir+`, schedule_id `+dir+` LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("retryqueue: listing: %w", err)
	}
	defer rows.Close()
	out := make([]*retryv1.RetrySchedule, 0, limit)
	var last projections.Cursor
	more := false
	for rows.Next() {
		if len(out) == limit {
			more = true
			break
		}
		var (
			t    int64
			id   string
			data []byte
		)
		if err := rows.Scan(&t, &id, &data); err != nil {
			return nil, "", fmt.Errorf("retryqueue: listing: %w", err)
		}
		s, err := decode(data)
		if err != nil {
			return nil, "", err
		}
		out = append(out, s)
		last = projections.Cursor{List: listName, Time: t, Keys: []string{id}}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("retryqueue: listing: %w", err)
	}
	if !more {
		return out, "", nil
	}
	return out, last.Encode(), nil
}

type conds struct {
	terms []string
	args  []any
}

func (c *conds) add(term string, args ...any) {
	c.terms = append(c.terms, term)
	c.args = append(c.args, args...)
}

func (c *conds) sql() string { return strings.Join(c.terms, " AND ") }

func where(access projections.Access, f Filter) (*conds, error) {
	acc, args, err := access.Where("account_id", "scope_id")
	if err != nil {
		return nil, err
	}
	if len(f.Connections)+len(f.RecordKinds) > 1000 {
		return nil, &events.InvalidArgumentError{Field: "filter", Reason: "lists more than 1000 values"}
	}
	c := &conds{}
	c.add(acc, args...)
	if f.Account != "" {
		c.add("account_id = ?", f.Account)
	}
	if len(f.Connections) > 0 {
		a := make([]any, len(f.Connections))
		for i, v := range f.Connections {
			a[i] = v
		}
		c.add("connection_id IN ("+projections.Placeholders(len(a))+")", a...)
	}
	if len(f.RecordKinds) > 0 {
		a := make([]any, len(f.RecordKinds))
		for i, v := range f.RecordKinds {
			a[i] = int64(v)
		}
		c.add("record_kind IN ("+projections.Placeholders(len(a))+")", a...)
	}
	return c, nil
}

func decode(data []byte) (*retryv1.RetrySchedule, error) {
	s := &retryv1.RetrySchedule{}
	if err := proto.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("retryqueue: decoding a stored schedule: %w", err)
	}
	return s, nil
}
