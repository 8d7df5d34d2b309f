package app

import (
	"context"
	"errors"
	"fmt"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/retryqueue"
)

// RetryQueues reads the retry-queue read model (projections/retryqueue.Reader). Implementations
// are safe for concurrent use and restrict every query to access.
type RetryQueues interface {
	// Pending lists the records retried automatically, by due time.
	Pending(ctx context.Context, access projections.Access, f retryqueue.Filter, page projections.Page) ([]*retryv1.RetrySchedule, string, error)
	// Held lists the records held for manual action, oldest hold first.
	Held(ctx context.Context, access projections.Access, f retryqueue.Filter, page projections.Page) ([]*retryv1.RetrySchedule, string, error)
	// Skipped lists the records whose retries ran out or that were rejected, most recent first.
	Skipped(ctx context.Context, access projections.Access, f retryqueue.Filter, page projections.Page) ([]*retryv1.RetrySchedule, string, error)
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

// QueueFilter narrows a retry queue; the fields name the request's.
type QueueFilter struct {
	// Access is what the caller may see (derived from its API key); required.
	Access projections.Access
	// Account keeps one account's records; it must already be authorized for the caller.
	Account string
	// Connections keeps the records of these connections.
	Connections []string
	// RecordKinds keeps the records of these kinds.
	RecordKinds []connectorv1.RecordKind
	// PageSize caps the page (0: projections.DefaultPageSize; at most MaxPageSize).
	PageSize int
	// PageToken is the previous page's token; empty for the first page.
	PageToken string
}

// Validate reports every problem with the filter, naming the request's fields.
func (f QueueFilter) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &connector.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	var errs []error
	if f.Account != "" && !events.ValidToken(f.Account) {
		errs = append(errs, bad("account_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", f.Account))
	}
	if len(f.Connections) > MaxFilterValues {
		errs = append(errs, bad("connection_ids", "lists %d values, at most %d", len(f.Connections), MaxFilterValues))
	} else {
		for i, c := range f.Connections {
			if !events.ValidToken(c) {
				errs = append(errs, bad(fmt.Sprintf("connection_ids[%d]", i), "%q must be 1-128 characters of A-Z a-z 0-9 _ -", c))
			}
		}
	}
	if len(f.RecordKinds) > MaxFilterValues {
		errs = append(errs, bad("record_kinds", "lists %d values, at most %d", len(f.RecordKinds), MaxFilterValues))
	} else {
		for i, k := range f.RecordKinds {
			if _, ok := connectorv1.RecordKind_name[int32(k)]; !ok || k == connectorv1.RecordKind_RECORD_KIND_UNSPECIFIED {
				errs = append(errs, bad(fmt.Sprintf("record_kinds[%d]", i), "unknown value %d (order, tracking, inventory or product)", k))
			}
		}
	}
	if f.PageSize < 0 || f.PageSize > MaxPageSize {
		errs = append(errs, bad("page_size", "%d must be between 0 and %d", f.PageSize, MaxPageSize))
	}
	return errors.Join(errs...)
}

func (f QueueFilter) query() (retryqueue.Filter, projections.Page) {
	return retryqueue.Filter{Account: f.Account, Connections: f.Connections, RecordKinds: f.RecordKinds},
		projections.Page{Size: f.PageSize, Cursor: f.PageToken}
}

// checkAccess rejects an access that names nothing: the transport failed to derive the caller's
// (a programming error, so not reported as the caller's invalid argument).
func checkAccess(a projections.Access) error {
	if err := a.Validate(); err != nil {
		return errors.New("retry app: the query has no access for its caller")
	}
	return nil
}

// pageTokenError names the request's page_token in a read model's error about its cursor.
func pageTokenError(err error) error {
	var iae *events.InvalidArgumentError
	if errors.As(err, &iae) && iae.Field == "cursor" {
		return &connector.FieldError{Field: "page_token", Reason: iae.Reason}
	}
	return err
}
