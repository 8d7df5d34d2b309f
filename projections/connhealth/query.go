package connhealth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
)

// Row is one connection's health.
type Row struct {
	// Health is the connection's outage-detection state: the connection, up or down, the current
	// (or last) outage, outages so far, records the current outage covers and the last recovery.
	// The sliding window's records are not kept here.
	Health *alertsv1.ConnectionHealth
	// OpenAlerts counts the connection's open alerts (connection_down included).
	OpenAlerts int64
	// FailingRecords counts the connection's records with at least one open alert.
	FailingRecords int64
	// LastFailureAt is the latest failure seen on the connection (zero when none).
	LastFailureAt time.Time
}

// Filter narrows the list. Empty fields select everything.
type Filter struct {
	// Account keeps one account's connections (within what the access allows).
	Account string
	// Down keeps connections in an outage.
	Down bool
	// Failing keeps connections with open alerts.
	Failing bool
}

// Reader answers the connection-health queries. It is safe for concurrent use.
type Reader struct {
	db *projections.DB
}

// NewReader returns a reader of the connection-health read model in db.
func NewReader(db *projections.DB) *Reader { return &Reader{db: db} }

// ErrNotFound means the read model knows nothing of the connection.
var ErrNotFound = fmt.Errorf("connhealth: connection %w", events.ErrNotFound)

const selectColumns = `connection_id, account_id, account_kind, warehouse_id, system_kind, system, status,
	outage_number, outage_down_at, outage_alert_id, outages, covered_total, last_recovered_at, open_alerts,
	failing_records, last_failure_at`

// Get returns one connection's health, whatever the caller's access: the caller checks it
// against the connection's account (rpc/auth.CheckLoaded).
func (r *Reader) Get(ctx context.Context, account, connectionID string) (Row, error) {
	row, err := scan(r.db.QueryRow(ctx, `SELECT `+selectColumns+` FROM `+tableHealth+` WHERE connection_id = ? AND account_id = ?`, connectionID, account))
	if errors.Is(err, sql.ErrNoRows) {
		return Row{}, fmt.Errorf("%w: %s/%s", ErrNotFound, account, connectionID)
	}
	if err != nil {
		return Row{}, fmt.Errorf("connhealth: reading %s/%s: %w", account, connectionID, err)
	}
	return row, nil
}

// List returns one page of the connections access may see that f selects, by account and
// connection id, and the cursor of the next page ("" on the last one).
func (r *Reader) List(ctx context.Context, access projections.Access, f Filter, page projections.Page) ([]Row, string, error) {
	limit, err := page.Limit()
	if err != nil {
		return nil, "", err
	}
	acc, args, err := access.Where("account_id", "scope_id")
	if err != nil {
		return nil, "", err
	}
	terms := []string{acc}
	if f.Account != "" {
		terms = append(terms, "account_id = ?")
		args = append(args, f.Account)
	}
	if f.Down {
		terms = append(terms, "status = ?")
		args = append(args, int64(alertsv1.ConnectionStatus_CONNECTION_STATUS_DOWN))
	}
	if f.Failing {
		terms = append(terms, "open_alerts > 0")
	}
	const list = "connections"
	if page.Cursor != "" {
		c, err := projections.DecodeCursor(page.Cursor, list)
		if err != nil {
			return nil, "", err
		}
		if len(c.Keys) != 2 {
			return nil, "", &events.InvalidArgumentError{Field: "cursor", Reason: "is not a cursor this service returned"}
		}
		terms = append(terms, "(account_id, connection_id) > (?, ?)")
		args = append(args, c.Keys[0], c.Keys[1])
	}
	rows, err := r.db.Query(ctx, `SELECT `+selectColumns+` FROM `+tableHealth+` WHERE `+strings.Join(terms, " AND ")+
		` ORDER BY account_id, connection_id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("connhealth: listing: %w", err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		if len(out) == limit {
			last := out[len(out)-1].Health.GetConnection()
			return out, projections.Cursor{List: list, Keys: []string{last.GetAccountId(), last.GetConnectionId()}}.Encode(), nil
		}
		row, err := scan(rows)
		if err != nil {
			return nil, "", fmt.Errorf("connhealth: listing: %w", err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("connhealth: listing: %w", err)
	}
	return out, "", nil
}

func scan(s interface{ Scan(...any) error }) (Row, error) {
	var (
		connection, account, warehouse, system, alertID                 string
		accountKind, systemKind, status, number, downAt, outages, total int64
		recovered, open, failing, lastFailure                           int64
	)
	if err := s.Scan(&connection, &account, &accountKind, &warehouse, &systemKind, &system, &status,
		&number, &downAt, &alertID, &outages, &total, &recovered, &open, &failing, &lastFailure); err != nil {
		return Row{}, err
	}
	h := &alertsv1.ConnectionHealth{
		Connection: &alertsv1.ConnectionRef{
			AccountId: account, AccountKind: connectorv1.AccountKind(accountKind), WarehouseId: warehouse,
			ConnectionId: connection, SystemKind: connectorv1.SystemKind(systemKind), System: system,
		},
		Status:          alertsv1.ConnectionStatus(status),
		Outages:         uint32(outages),
		CoveredTotal:    uint32(total),
		LastRecoveredAt: ts(recovered),
	}
	if number > 0 {
		h.Outage = &alertsv1.OutageRef{ConnectionId: connection, Number: uint32(number), DownAt: ts(downAt), ConnectionAlertId: alertID}
	}
	row := Row{Health: h, OpenAlerts: open, FailingRecords: failing}
	if lastFailure != 0 {
		row.LastFailureAt = time.Unix(0, lastFailure).UTC()
	}
	return row, nil
}

func ts(n int64) *timestamppb.Timestamp {
	if n == 0 {
		return nil
	}
	return timestamppb.New(time.Unix(0, n).UTC())
}
