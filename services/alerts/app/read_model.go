package app

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
	alertsrm "github.com/reboundhq/rebound/projections/alerts"
)

// AlertReadModel answers the Alerts tab's queries (projections/alerts.Reader). Implementations
// are safe for concurrent use and restrict every query to access.
type AlertReadModel interface {
	// List returns one page of the alerts access may see that f selects, in order o, and the
	// next page's cursor ("" on the last page).
	List(ctx context.Context, access projections.Access, f alertsrm.Filter, o alertsrm.Order, page projections.Page) ([]*alertsv1.Alert, string, error)
	// Count returns how many alerts access may see that f selects, in total and per group.
	Count(ctx context.Context, access projections.Access, f alertsrm.Filter) (alertsrm.Counts, error)
}

// ErrNoReadModels means the process runs without the read models, so list queries cannot be
// answered. The service registers it as FailedPrecondition.
var ErrNoReadModels = errors.New("read models not configured")

// Limits of the list queries.
const (
	// MaxPageSize is the largest page a list returns.
	MaxPageSize = projections.MaxPageSize
	// MaxFilterValues is the most values one repeated filter field may list.
	MaxFilterValues = 100
)

// checkPageSize validates a requested page size.
func checkPageSize(size int) error {
	if size < 0 || size > MaxPageSize {
		return fieldErr("page_size", "%d must be between 0 and %d", size, MaxPageSize)
	}
	return nil
}

// pageTokenError names the request's page_token in a read model's error about its cursor.
func pageTokenError(err error) error {
	var iae *events.InvalidArgumentError
	if errors.As(err, &iae) && iae.Field == "cursor" {
		return fieldErr("page_token", "%s", iae.Reason)
	}
	return err
}

// checkValues validates a repeated filter field: at most MaxFilterValues values, each passing
// check.
func checkValues[T any](field string, vals []T, check func(T) error) []error {
	if len(vals) > MaxFilterValues {
		return []error{fieldErr(field, "lists %d values, at most %d", len(vals), MaxFilterValues)}
	}
	var errs []error
	for i, v := range vals {
		if err := check(v); err != nil {
			errs = append(errs, fieldErr(fmt.Sprintf("%s[%d]", field, i), "%v", err))
		}
	}
	return errs
}

// definedEnum checks that v is a value of the enum whose names are names, other than 0
// (unspecified).
func definedEnum[E ~int32](names map[int32]string) func(E) error {
	return func(v E) error {
		if v == 0 {
			return errors.New("must not be unspecified")
		}
		if _, ok := names[int32(v)]; !ok {
			return fmt.Errorf("unknown value %d", v)
		}
		return nil
	}
}

func checkToken(v string) error {
	if !events.ValidToken(v) {
		return fmt.Errorf("%q must be 1-128 characters of A-Z a-z 0-9 _ -", v)
	}
	return nil
}

func checkAlertType(v string) error {
	if !alertTypeRE.MatchString(v) {
		return fmt.Errorf("%q must be a snake_case alert type", v)
	}
	return nil
}

// checkRef validates an exact human reference (order number, SKU).
func checkRef(field, v string) error {
	if len(v) > connector.MaxRefLen || !utf8.ValidString(v) {
		return fieldErr(field, "must be valid UTF-8 of at most %d bytes", connector.MaxRefLen)
	}
	return nil
}

var (
	checkStatus     = definedEnum[alertsv1.AlertStatus](alertsv1.AlertStatus_name)
	checkClass      = definedEnum[connectorv1.ErrorClass](connectorv1.ErrorClass_name)
	checkRecordKind = definedEnum[connectorv1.RecordKind](connectorv1.RecordKind_name)
)

// validateAlertFilter reports every problem with a filter of the Alerts tab; errors name the
// fields under prefix (e.g. "filter").
func validateAlertFilter(prefix string, f alertsrm.Filter) error {
	var errs []error
	if f.Account != "" && !events.ValidToken(f.Account) {
		errs = append(errs, fieldErr(prefix+".account_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", f.Account))
	}
	errs = append(errs, checkValues(prefix+".statuses", f.Statuses, checkStatus)...)
	errs = append(errs, checkValues(prefix+".alert_types", f.Types, checkAlertType)...)
	errs = append(errs, checkValues(prefix+".error_classes", f.Classes, checkClass)...)
	errs = append(errs, checkValues(prefix+".connection_ids", f.Connections, checkToken)...)
	errs = append(errs, checkValues(prefix+".record_kinds", f.RecordKinds, checkRecordKind)...)
	errs = append(errs, checkRef(prefix+".order_number", f.OrderNumber), checkRef(prefix+".sku", f.SKU))
	if f.TimeOf != alertsrm.SortLastSeen && f.TimeOf != alertsrm.SortFirstSeen {
		errs = append(errs, fieldErr(prefix+".time_field", "unknown value %d", f.TimeOf))
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		errs = append(errs, fieldErr(prefix+".to_time", "%s is not after from_time %s", f.To.Format("2006-01-02T15:04:05.999999999Z07:00"), f.From.Format("2006-01-02T15:04:05.999999999Z07:00")))
	}
	return errors.Join(errs...)
}

// checkAccess rejects an access that names nothing: the transport failed to derive the caller's
// (a programming error, so not reported as the caller's invalid argument).
func checkAccess(a projections.Access) error {
	if err := a.Validate(); err != nil {
		return errors.New("app: the query has no access for its caller")
	}
	return nil
}
