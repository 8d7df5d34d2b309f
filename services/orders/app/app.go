// Package app is the orders service's application layer: one command or query per file, each a
// handler that drives the domain (packages order, shipmap, holds and connection) through
// repositories, the connectors of the configured connections, the classifier, the ingester that
// reports every outcome and the service's clock. Inbound adapters (bus handlers, retry commands,
// the sync scheduler, gRPC) call it; outbound adapters implement its ports.
//
// # Who sends an order when
//
// Deliveries never run in a gRPC call: the commands people and carts give store events, and bus
// handlers of those stored events make the attempts (Deliver), so an attempt decided before a
// crash is made after it (the input is acknowledged only once the attempt's outcome is stored;
// the WMS idempotency key makes a repeated send harmless).
//
// Each attempt has one owner. The orders service makes an order's first attempt (OrderReceived)
// and the attempt after an edit or a resend of an order that has not failed since it was received
// or last cancelled. Once an attempt failed, the failure report started a retry series in the
// retry service, which owns every later attempt: its RetryDue commands (DeliverDue), including
// the immediate one it makes due when the order is edited, resent or released by a ship method
// mapping (RecordUpdated). Sending as well would attempt the order twice (order.RetrySeries).
//
// Commands caused by an event take its envelope and store their events with
// events.CausedBy(envelope), so a redelivered input is recognised per aggregate
// (aggregate.ErrAlreadyApplied) and never applied twice. Errors are classified for the caller:
// validation errors wrap events.ErrInvalidArgument (permanent), wrong-state errors wrap
// domain.ErrWrongState, everything else is infrastructure and retryable.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/orders/domain/connection"
	"github.com/reboundhq/rebound/services/orders/domain/holds"
	"github.com/reboundhq/rebound/services/orders/domain/order"
	"github.com/reboundhq/rebound/services/orders/domain/shipmap"
	"github.com/reboundhq/rebound/services/orders/outbound/cart"
	"github.com/reboundhq/rebound/services/orders/outbound/wms"
)

// Repository loads and saves the aggregates of one type (events/aggregate.Repository).
type Repository[A aggregate.Root] interface {
	// Update runs fn on the aggregate and stores what it raised; see aggregate.Repository.Update. The
	// aggregate may be read only inside fn.
	Update(ctx context.Context, stream events.StreamID, meta events.Metadata, fn func(A) error) error
	// View runs fn on the aggregate as last known, without changing it.
	View(ctx context.Context, stream events.StreamID, fn func(A)) error
	// Read loads the aggregate and its events from the store; events.ErrNotFound when it has none.
	Read(ctx context.Context, stream events.StreamID) (A, events.Loaded, error)
	// Applied reports whether the stream holds events caused by causationID.
	Applied(ctx context.Context, stream events.StreamID, causationID string) (bool, error)
	// Version returns the stream's version as last known.
	Version(ctx context.Context, stream events.StreamID) (uint64, error)
}

// Connections knows the configured connections and builds their connectors
// (outbound/connections.Directory). Implementations are safe for concurrent use.
type Connections interface {
	// Connection returns a connection's configuration (without health); events.ErrNotFound when
	// it is not configured.
	Connection(ctx context.Context, account, id string) (*connectionsv1.Connection, error)
	// List returns every configured connection.
	List(ctx context.Context) ([]*connectionsv1.Connection, error)
	// Configured tells the directory about a configuration this process just stored.
	Configured(c *connectionsv1.Connection)
	// WMS returns the connector of a WMS connection.
	WMS(ctx context.Context, account, id string) (wms.Connector, error)
	// Cart returns the connector of a cart connection.
	Cart(ctx context.Context, account, id string) (cart.Connector, error)
}

// Secrets keeps connections' credentials out of the event store (outbound/connections.Secrets).
type Secrets interface {
	// Get returns a connection's credentials; nil when it has none.
	Get(ctx context.Context, account, id string) (*connectionsv1.Credentials, error)
	// Put stores a connection's credentials and returns their revision.
	Put(ctx context.Context, account, id string, c *connectionsv1.Credentials) (uint64, error)
	// Delete removes a connection's credentials.
	Delete(ctx context.Context, account, id string) error
	// Bucket names where they are kept, for the events' references.
	Bucket() string
}

// Reports stores connector reports (connector/ingest.Ingester).
type Reports interface {
	Report(ctx context.Context, msg proto.Message, meta events.Metadata) (ingest.Stored, error)
}

// Health records what the service sees of its connections (outbound/health.Board).
type Health interface {
	Success(account, id string, at time.Time)
	Failure(account, id, message string, at time.Time)
	SyncStarted(account, id string, at time.Time)
	SyncFinished(account, id string, at time.Time, pushed, failed int)
	Get(account, id string) *connectionsv1.ConnectionHealth
}

// SyncState keeps what sync cycles must remember between runs (outbound/syncstate.Store).
type SyncState interface {
	// Cursor returns the position read up to in a WMS connection's shipment feed ("" for none).
	Cursor(ctx context.Context, account, wmsConnectionID string) (string, error)
	// SetCursor stores it.
	SetCursor(ctx context.Context, account, wmsConnectionID, cursor string) error
}

// Clock tells the service's time.
type Clock interface{ Now() time.Time }

// Deps are what the application works with.
type Deps struct {
	Orders      Repository[*order.Order]
	Mappings    Repository[*shipmap.Mappings]
	Holds       Repository[*holds.Index]
	Configs     Repository[*connection.Connection]
	Connections Connections
	Secrets     Secrets
	Reports     Reports
	Classifier  *classify.Classifier
	Health      Health
	Sync        SyncState
	Clock       Clock
	Log         *slog.Logger
	// OrderList answers ListOrders; without it ListOrders fails with ErrNoReadModels.
	OrderList OrderReadModel
	// ConnectionHealth adds the alerts' view of each connection to GetConnection and
	// ListConnections; without it they leave it out (and ListConnections' health filters fail
	// with ErrNoReadModels).
	ConnectionHealth ConnectionHealthModel
}

func (d Deps) validate() error {
	var errs []error
	if d.Orders == nil || d.Mappings == nil || d.Holds == nil || d.Configs == nil {
		errs = append(errs, errors.New("app: the order, mappings, holds and connection repositories are required"))
	}
	if d.Connections == nil || d.Secrets == nil {
		errs = append(errs, errors.New("app: the connection directory and the secrets store are required"))
	}
	if d.Reports == nil {
		errs = append(errs, errors.New("app: a reporter (the ingester) is required"))
	}
	if d.Classifier == nil {
		errs = append(errs, errors.New("app: a classifier is required"))
	}
	if d.Health == nil || d.Sync == nil {
		errs = append(errs, errors.New("app: the health board and the sync state are required"))
	}
	if d.Clock == nil {
		errs = append(errs, errors.New("app: a clock is required"))
	}
	return errors.Join(errs...)
}

// Application is the orders service's commands and queries.
type Application struct {
	Commands Commands
	Queries  Queries
}

// Commands change orders, mappings and connections, or move records to external systems.
type Commands struct {
	SubmitOrder          SubmitOrderHandler
	EditOrder            EditOrderHandler
	ResendToWMS          ResendToWMSHandler
	CancelSending        CancelSendingHandler
	Deliver              DeliverHandler
	DeliverDue           DeliverDueHandler
	SkipOrder            SkipOrderHandler
	CancelForRetry       CancelForRetryHandler
	ReportOrderEvent     ReportOrderEventHandler
	TrackHold            TrackHoldHandler
	ReleaseHolds         ReleaseHoldsHandler
	SetShipMethodMapping SetShipMethodMappingHandler
	RecordShipment       RecordShipmentHandler
	PushTracking         PushTrackingHandler
	PushTrackingDue      PushTrackingDueHandler
	PushInventoryDue     PushInventoryDueHandler
	RunSyncCycle         RunSyncCycleHandler
	UpsertConnection     UpsertConnectionHandler
}

// Queries read orders, mappings and connections.
type Queries struct {
	GetOrder               GetOrderHandler
	ListShipMethodMappings ListShipMethodMappingsHandler
	GetConnection          GetConnectionHandler
	ListConnections        ListConnectionsHandler
	ListOrders             ListOrdersHandler
}

// New returns the application over deps.
func New(d Deps) (*Application, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	inv := newInventoryMemory()
	return &Application{
		Commands: Commands{
			SubmitOrder:          SubmitOrderHandler{d},
			EditOrder:            EditOrderHandler{d},
			ResendToWMS:          ResendToWMSHandler{d},
			CancelSending:        CancelSendingHandler{d},
			Deliver:              DeliverHandler{d},
			DeliverDue:           DeliverDueHandler{d},
			SkipOrder:            SkipOrderHandler{d},
			CancelForRetry:       CancelForRetryHandler{d},
			ReportOrderEvent:     ReportOrderEventHandler{d},
			TrackHold:            TrackHoldHandler{d},
			ReleaseHolds:         ReleaseHoldsHandler{d},
			SetShipMethodMapping: SetShipMethodMappingHandler{d},
			RecordShipment:       RecordShipmentHandler{d},
			PushTracking:         PushTrackingHandler{d},
			PushTrackingDue:      PushTrackingDueHandler{d},
			PushInventoryDue:     PushInventoryDueHandler{d: d, inv: inv},
			RunSyncCycle:         RunSyncCycleHandler{d: d, inv: inv},
			UpsertConnection:     UpsertConnectionHandler{d},
		},
		Queries: Queries{
			GetOrder:               GetOrderHandler{d},
			ListShipMethodMappings: ListShipMethodMappingsHandler{d},
			GetConnection:          GetConnectionHandler{d},
			ListConnections:        ListConnectionsHandler{d},
			ListOrders:             ListOrdersHandler{d},
		},
	}, nil
}

// Authorize decides, once a resource is loaded, whether the caller may learn about it: account
// and warehouse are the resource's (or, when found is false, the account asked for and ""). It is
// auth.CheckLoaded for gRPC callers.
type Authorize func(account, warehouse string, found bool) error

// authorized runs check, and returns events.ErrNotFound (naming what) for a missing resource the
// caller may know is missing.
func authorized(check Authorize, account, warehouse string, found bool, what string) error {
	if check == nil {
		return errors.New("app: no authorization check")
	}
	if err := check(account, warehouse, found); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s of account %s: %w", what, account, events.ErrNotFound)
	}
	return nil
}

// applied turns aggregate.ErrAlreadyApplied (a redelivered input) into success.
func applied(err error) error {
	if errors.Is(err, aggregate.ErrAlreadyApplied) {
		return nil
	}
	return err
}

// maxParallel bounds the aggregates one command updates at once.
const maxParallel = 16

// parallel runs fn(0) ... fn(n-1), at most maxParallel at a time, and joins their errors.
func parallel(n int, fn func(i int) error) error {
	if n == 1 {
		return fn(0)
	}
	errs := make([]error, n)
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func fieldErr(field, format string, args ...any) error {
	return &connector.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// token checks an id the caller names.
func token(field, v string) error {
	if !events.ValidToken(v) {
		return fieldErr(field, "%q must be 1-128 characters of A-Z a-z 0-9 _ -", v)
	}
	return nil
}

// outcomeMeta is the metadata of the events recording an attempt's outcome: caused by the
// attempt (its id with a suffix, so that the attempt's own decision, caused by the same retry
// command, does not count as the outcome), so that a repeated outcome is recognised.
func outcomeMeta(correlationID, attemptID string) events.Metadata {
	return events.Metadata{CorrelationID: correlationID, CausationID: attemptID + ":outcome"}
}
