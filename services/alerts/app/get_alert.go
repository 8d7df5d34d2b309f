package app

import (
	"context"
	"errors"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

// MaxHistory is the most events GetAlert returns at once.
const MaxHistory = 1000

// GetAlert reads one alert and its history.
type GetAlert struct {
	Account string
	AlertID string
	// FromVersion is the first version of the history to return (0 or 1: from the start).
	FromVersion uint64
	// Limit caps the history (0: MaxHistory; at most MaxHistory).
	Limit int
	// Authorize checks the caller against the loaded alert.
	Authorize Authorize
}

// Validate reports every problem with the query's arguments.
func (q GetAlert) Validate() error {
	errs := []error{checkAlertRef(q.Account, q.AlertID)}
	if q.Limit < 0 || q.Limit > MaxHistory {
		errs = append(errs, fieldErr("history_limit", "%d must be between 0 and %d", q.Limit, MaxHistory))
	}
	return errors.Join(errs...)
}

// Fingerprint names an alert by its record and type; the account comes with the request.
type Fingerprint struct {
	ConnectionID string
	RecordKind   connectorv1.RecordKind
	RecordID     string
	AlertType    string
}

// AlertID returns the id of the alert the fingerprint names in account, checking its fields
// (errors name them under prefix, e.g. "fingerprint").
func (f Fingerprint) AlertID(prefix, account string) (string, error) {
	var errs []error
	if !events.ValidToken(f.ConnectionID) {
		errs = append(errs, fieldErr(prefix+".connection_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", f.ConnectionID))
	}
	if !alertTypeRE.MatchString(f.AlertType) {
		errs = append(errs, fieldErr(prefix+".alert_type", "%q must be a snake_case alert type", f.AlertType))
	}
	if _, ok := connectorv1.RecordKind_name[int32(f.RecordKind)]; !ok {
		errs = append(errs, fieldErr(prefix+".record_kind", "unknown value %d", f.RecordKind))
	}
	if f.AlertType == classify.TypeConnectionDown {
		if f.RecordKind != connectorv1.RecordKind_RECORD_KIND_UNSPECIFIED || f.RecordID != "" {
			errs = append(errs, fieldErr(prefix+".record_id", "a connection_down alert has no record: leave record_kind and record_id empty"))
		}
	} else {
		if f.RecordKind == connectorv1.RecordKind_RECORD_KIND_UNSPECIFIED {
			errs = append(errs, fieldErr(prefix+".record_kind", "is required (order, tracking, inventory or product)"))
		}
		if f.RecordID == "" || len(f.RecordID) > 256 {
			errs = append(errs, fieldErr(prefix+".record_id", "is required, at most 256 bytes"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return alert.AlertID(account, f.ConnectionID, f.RecordKind, f.RecordID, f.AlertType), nil
}

// AlertView is an alert's state and a page of its history.
type AlertView struct {
	Alert   *alertsv1.Alert
	Version uint64
	History []events.Record
	// NextVersion is the version to ask for next when the history was cut; 0 when complete.
	NextVersion uint64
}

// GetAlertHandler reads alerts from the event store.
type GetAlertHandler struct{ d Deps }

// Handle loads the alert (one read of its stream) and folds it.
func (h GetAlertHandler) Handle(ctx context.Context, q GetAlert) (AlertView, error) {
	if err := q.Validate(); err != nil {
		return AlertView{}, err
	}
	a, loaded, err := h.d.Alerts.Read(ctx, alert.Stream(q.Account, q.AlertID))
	if err != nil && !errors.Is(err, events.ErrNotFound) {
		return AlertView{}, err
	}
	if err := authorized(q.Authorize, q.Account, a); err != nil {
		return AlertView{}, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = MaxHistory
	}
	v := AlertView{Alert: a.Snapshot(), Version: loaded.State.Version}
	v.History, v.NextVersion = events.HistoryPage(loaded.Events, q.FromVersion, limit)
	return v, nil
}
