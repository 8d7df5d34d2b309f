// Package app is the alerts service's application layer: one command or query per file, each a
// handler that drives the domain (packages alert, outage and index) through repositories, the
// classifier, the service's clock and the grace timers. Inbound adapters (bus handlers, timers,
// gRPC) call it; outbound adapters implement its ports.
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
	"regexp"
	"sync"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/index"
	"github.com/reboundhq/rebound/services/alerts/domain/outage"
)

// Repository loads and saves the aggregates of one type (events/aggregate.Repository).
type Repository[A aggregate.Root] interface {
	// Update runs fn on the aggregate and stores what it raised; see
	// aggregate.Repository.Update. The aggregate may be read only inside fn.
	Update(ctx context.Context, stream events.StreamID, meta events.Metadata, fn func(A) error) error
	// View runs fn on the aggregate as last known, without changing it.
	View(ctx context.Context, stream events.StreamID, fn func(A)) error
	// Read loads the aggregate and its events; events.ErrNotFound when it has none.
	Read(ctx context.Context, stream events.StreamID) (A, events.Loaded, error)
}

// GraceTimers arms an alert's grace-period timer (outbound/grace).
type GraceTimers interface {
	Schedule(ctx context.Context, stream events.StreamID, at time.Time) error
}

// RecordReports stores connector reports (connector/ingest.Ingester).
type RecordReports interface {
	Updated(ctx context.Context, m *connectorv1.RecordUpdated, meta events.Metadata) (ingest.Stored, error)
}

// Clock tells the service's time.
type Clock interface{ Now() time.Time }

// Deps are what the application works with.
type Deps struct {
	Alerts     Repository[*alert.Alert]
	Detectors  Repository[*outage.Detector]
	Indexes    Repository[*index.Index]
	Classifier *classify.Classifier
	Timers     GraceTimers
	Reports    RecordReports
	Clock      Clock
	Log        *slog.Logger
	// ReadModel answers ListAlerts and CountAlerts; without it they fail with ErrNoReadModels.
	ReadModel AlertReadModel
	// Events is the event store WatchAlerts follows; without it WatchAlerts fails.
	Events EventLog
}

func (d Deps) validate() error {
	var errs []error
	if d.Alerts == nil || d.Detectors == nil || d.Indexes == nil {
		errs = append(errs, errors.New("app: the alert, detector and index repositories are required"))
	}
	if d.Classifier == nil {
		errs = append(errs, errors.New("app: a classifier is required"))
	}
	if d.Timers == nil {
		errs = append(errs, errors.New("app: grace timers are required"))
	}
	if d.Reports == nil {
		errs = append(errs, errors.New("app: a record reporter is required"))
	}
	if d.Clock == nil {
		errs = append(errs, errors.New("app: a clock is required"))
	}
	return errors.Join(errs...)
}

// Application is the alerts service's commands and queries.
type Application struct {
	Commands Commands
	Queries  Queries
}

// Commands change alerts.
type Commands struct {
	RecordFailure       RecordFailureHandler
	RecordSuccess       RecordSuccessHandler
	ApplyConnectionDown ConnectionDownHandler
	CoverRecord         CoverRecordHandler
	ApplyRecovery       ConnectionRecoveredHandler
	EscalateRecord      EscalateRecordHandler
	CheckGrace          CheckGraceHandler
	DismissAlert        DismissAlertHandler
	ResendRecord        ResendRecordHandler
}

// Queries read alerts.
type Queries struct {
	GetAlert    GetAlertHandler
	ListAlerts  ListAlertsHandler
	CountAlerts CountAlertsHandler
	WatchAlerts WatchAlertsHandler
}

// New returns the application over deps.
func New(d Deps) (*Application, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Application{
		Commands: Commands{
			RecordFailure:       RecordFailureHandler{d},
			RecordSuccess:       RecordSuccessHandler{d},
			ApplyConnectionDown: ConnectionDownHandler{d},
			CoverRecord:         CoverRecordHandler{d},
			ApplyRecovery:       ConnectionRecoveredHandler{d},
			EscalateRecord:      EscalateRecordHandler{d},
			CheckGrace:          CheckGraceHandler{d},
			DismissAlert:        DismissAlertHandler{d},
			ResendRecord:        ResendRecordHandler{d},
		},
		Queries: Queries{
			GetAlert:    GetAlertHandler{d},
			ListAlerts:  ListAlertsHandler{d},
			CountAlerts: CountAlertsHandler{d},
			WatchAlerts: WatchAlertsHandler{d},
		},
	}, nil
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

// deadline is an alert's grace deadline, when it has one.
type deadline struct {
	at time.Time
	ok bool
}

func deadlineOf(a *alert.Alert) deadline {
	at, ok := a.GraceDeadline()
	return deadline{at: at, ok: ok}
}

// schedule arms the alert's grace timer when it has a deadline.
func (d Deps) schedule(ctx context.Context, stream events.StreamID, dl deadline) error {
	if !dl.ok {
		return nil
	}
	if err := d.Timers.Schedule(ctx, stream, dl.at); err != nil {
		return fmt.Errorf("scheduling the grace timer of alert %s: %w", stream.ID, err)
	}
	return nil
}

// rearm arms the alert's grace timer for the deadline it has now: after an input was found
// already applied, the process that applied it may have stopped before arming it.
func (d Deps) rearm(ctx context.Context, stream events.StreamID) error {
	var dl deadline
	if err := d.Alerts.View(ctx, stream, func(a *alert.Alert) { dl = deadlineOf(a) }); err != nil {
		return err
	}
	return d.schedule(ctx, stream, dl)
}

func fieldErr(field, format string, args ...any) error {
	return &connector.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Authorize decides, once an alert is loaded, whether the caller may learn about it: account and
// warehouse are the alert's (or, when found is false, the account asked for and ""). It is
// auth.CheckLoaded for gRPC callers.
type Authorize func(account, warehouse string, found bool) error

// checkAlertRef validates the account and alert id a caller names.
func checkAlertRef(account, alertID string) error {
	var errs []error
	if !events.ValidToken(account) {
		errs = append(errs, fieldErr("account_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", account))
	}
	if !events.ValidToken(alertID) {
		errs = append(errs, fieldErr("alert_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", alertID))
	}
	return errors.Join(errs...)
}

// authorized runs check on the loaded alert, and returns events.ErrNotFound for a missing one
// the caller may know is missing.
func authorized(check Authorize, account string, a *alert.Alert) error {
	if check == nil {
		return errors.New("app: no authorization check")
	}
	found := a != nil && a.Exists()
	warehouse := ""
	if found {
		warehouse = a.Snapshot().GetRecord().GetWarehouseId()
	}
	if err := check(account, warehouse, found); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("alert %s of account %s: %w", alertIDOf(a), account, events.ErrNotFound)
	}
	return nil
}

func alertIDOf(a *alert.Alert) string {
	if a == nil {
		return ""
	}
	return a.ID()
}

var alertTypeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
