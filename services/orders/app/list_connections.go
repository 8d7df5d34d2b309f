package app

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
)

// Page sizes of ListConnections.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// ListConnections lists the connections a caller may see.
type ListConnections struct {
	// Account keeps one account's connections; empty keeps every account Allows lets through.
	Account string
	// SystemKind keeps one kind; unspecified keeps both.
	SystemKind connectorv1.SystemKind
	// DownOnly keeps the connections outage detection considers down; FailingOnly those with
	// open alerts. Both need the connection-health read model.
	DownOnly, FailingOnly bool
	PageSize              int
	PageToken             string
	// Allows reports whether the caller may see a connection of account, with warehouse as its
	// warehouse (auth.Filter.Allows for gRPC callers).
	Allows func(account, warehouse string) bool
}

// ConnectionPage is one page of connections.
type ConnectionPage struct {
	Connections []*connectionsv1.Connection
	NextToken   string
}

// ListConnectionsHandler lists connections.
type ListConnectionsHandler struct{ d Deps }

// Validate reports every problem with the query's arguments.
func (q ListConnections) Validate() error {
	var errs []error
	if q.Account != "" {
		errs = append(errs, token("account_id", q.Account))
	}
	if _, ok := connectorv1.SystemKind_name[int32(q.SystemKind)]; !ok {
		errs = append(errs, fieldErr("system_kind", "unknown value %d", q.SystemKind))
	}
	if q.PageSize < 0 || q.PageSize > MaxPageSize {
		errs = append(errs, fieldErr("page_size", "%d must be between 0 and %d", q.PageSize, MaxPageSize))
	}
	if _, err := decodeToken(q.PageToken); err != nil {
		errs = append(errs, fieldErr("page_token", "is not a token this service returned"))
	}
	return errors.Join(errs...)
}

// Handle returns the connections sorted by account and id, with their health (and, with the
// connection-health read model, the alerts' view of it).
func (h ListConnectionsHandler) Handle(ctx context.Context, q ListConnections) (ConnectionPage, error) {
	if err := q.Validate(); err != nil {
		return ConnectionPage{}, err
	}
	if q.Allows == nil {
		return ConnectionPage{}, errors.New("app: no authorization filter")
	}
	filtered := q.DownOnly || q.FailingOnly
	if filtered && h.d.ConnectionHealth == nil {
		return ConnectionPage{}, fmt.Errorf("list connections by health: %w", ErrNoReadModels)
	}
	all, err := h.d.Connections.List(ctx)
	if err != nil {
		return ConnectionPage{}, err
	}
	after, _ := decodeToken(q.PageToken)
	var keep []*connectionsv1.Connection
	for _, c := range all {
		s := c.GetSettings()
		switch {
		case q.Account != "" && s.GetAccountId() != q.Account,
			q.SystemKind != connectorv1.SystemKind_SYSTEM_KIND_UNSPECIFIED && s.GetSystemKind() != q.SystemKind,
			!q.Allows(s.GetAccountId(), s.GetWarehouseId()),
			after != "" && sortKey(c) <= after:
			continue
		}
		keep = append(keep, c)
	}
	slices.SortFunc(keep, func(a, b *connectionsv1.Connection) int { return cmp.Compare(sortKey(a), sortKey(b)) })
	size := q.PageSize
	if size == 0 {
		size = DefaultPageSize
	}
	var page ConnectionPage
	for _, c := range keep {
		s := c.GetSettings()
		health, err := h.d.alertHealth(ctx, s.GetAccountId(), s.GetConnectionId())
		if err != nil {
			return ConnectionPage{}, err
		}
		if (q.DownOnly && health.GetStatus() != alertsv1.ConnectionStatus_CONNECTION_STATUS_DOWN) ||
			(q.FailingOnly && health.GetOpenAlerts() == 0) {
			continue
		}
		if len(page.Connections) == size {
			page.NextToken = base64.RawURLEncoding.EncodeToString([]byte(sortKey(page.Connections[size-1])))
			break
		}
		v := h.d.view(ctx, proto.CloneOf(c))
		v.AlertHealth = health
		page.Connections = append(page.Connections, v)
	}
	return page, nil
}

func sortKey(c *connectionsv1.Connection) string {
	return c.GetSettings().GetAccountId() + "\x00" + c.GetSettings().GetConnectionId()
}

func decodeToken(t string) (string, error) {
	if t == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || !strings.Contains(string(b), "\x00") {
		return "", errors.New("bad token")
	}
	return string(b), nil
}
