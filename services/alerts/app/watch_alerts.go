package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

// EventLog reads the event store in global order (events.Store).
type EventLog interface {
	// Read calls fn for every event at or after opts.From that matches opts.Filters, following
	// new ones while opts.Follow, until ctx ends; see events.Store.Read.
	Read(ctx context.Context, opts events.ReadOptions, fn func(context.Context, events.Record) error) error
	// LastPosition returns the global position of the newest event.
	LastPosition(ctx context.Context) (uint64, error)
}

// WatchAlerts asks for the alert events of what the caller may see, live or from a position.
type WatchAlerts struct {
	// Allows reports whether the caller may see an alert of account whose record's warehouse is
	// warehouse (auth.Filter.Allows for gRPC callers); required.
	Allows func(account, warehouse string) bool
	// Account, when set, watches one account's alerts; it must already be authorized for the
	// caller.
	Account string
	// Resume says the watch starts after position After; otherwise it starts with the events
	// stored from now on.
	Resume bool
	// After is the position to resume after, when Resume (0: from the first event).
	After uint64
	// AlertTypes, Classes, Connections and RecordKinds keep the events of alerts with one of
	// their values; empty keeps all.
	AlertTypes  []string
	Classes     []connectorv1.ErrorClass
	Connections []string
	RecordKinds []connectorv1.RecordKind
	// EventTypes keeps these alert events, by full or short name; empty keeps all.
	EventTypes []string
}

// Validate reports every problem with the query's arguments, naming the request's fields.
func (q WatchAlerts) Validate() error {
	var errs []error
	if q.Account != "" && !events.ValidToken(q.Account) {
		errs = append(errs, fieldErr("account_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", q.Account))
	}
	errs = append(errs, checkValues("alert_types", q.AlertTypes, checkAlertType)...)
	errs = append(errs, checkValues("error_classes", q.Classes, checkClass)...)
	errs = append(errs, checkValues("connection_ids", q.Connections, checkToken)...)
	errs = append(errs, checkValues("record_kinds", q.RecordKinds, checkRecordKind)...)
	errs = append(errs, checkValues("event_types", q.EventTypes, func(t string) error {
		if full, ok := alertEvents[events.ShortType(t)]; !ok || (t != events.ShortType(t) && t != full) {
			return fmt.Errorf("%q is not an alert event (%s)", t, strings.Join(slices.Sorted(maps.Keys(alertEvents)), ", "))
		}
		return nil
	})...)
	return errors.Join(errs...)
}

// alertEvents maps the short names of the alert events to their full names.
var alertEvents = func() map[string]string {
	out := map[string]string{}
	for _, m := range alert.EventTypes() {
		full := events.TypeName(m)
		out[events.ShortType(full)] = full
	}
	return out
}()

// subjects returns the subject filters the watch reads: the account's (or every account's)
// alert subjects, narrowed to the event types asked for.
func (q WatchAlerts) subjects() []string {
	account := q.Account
	if account == "" {
		account = "*"
	}
	prefix := events.SubjectPrefix + "." + alert.AggregateType + "." + account + "."
	if len(q.EventTypes) == 0 {
		return []string{prefix + ">"}
	}
	var out []string
	for _, t := range q.EventTypes {
		s := prefix + "*." + events.ShortType(t)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// matches reports whether the caller sees the event of the alert ref on account, and the
// query's filters keep it.
func (q WatchAlerts) matches(account string, ref *alertsv1.AlertRef) bool {
	rec := ref.GetRecord()
	switch {
	case !q.Allows(account, rec.GetWarehouseId()),
		len(q.AlertTypes) > 0 && !slices.Contains(q.AlertTypes, ref.GetAlertType()),
		len(q.Classes) > 0 && !slices.Contains(q.Classes, ref.GetErrorClass()),
		len(q.Connections) > 0 && !slices.Contains(q.Connections, rec.GetConnectionId()),
		len(q.RecordKinds) > 0 && !slices.Contains(q.RecordKinds, rec.GetRecordKind()):
		return false
	}
	return true
}

// AlertChange is one alert event a watch delivers.
type AlertChange struct {
	// Record is the stored event, with its global position.
	Record events.Record
	// Alert identifies the alert the event is about.
	Alert *alertsv1.AlertRef
}

// WatchAlertsHandler streams alert events from the event store.
type WatchAlertsHandler struct{ d Deps }

// Handle validates the query, calls started with the position the watch starts after (the
// store's last position for a live watch), then calls emit for every matching alert event, in
// the store's order, until ctx ends (it then returns an error wrapping ctx's) or emit or the
// store fails (it returns that error).
func (h WatchAlertsHandler) Handle(ctx context.Context, q WatchAlerts, started func(position uint64) error, emit func(AlertChange) error) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if q.Allows == nil {
		return errors.New("app: WatchAlerts needs an authorization filter")
	}
	if h.d.Events == nil {
		return errors.New("app: WatchAlerts needs the event log")
	}
	last, err := h.d.Events.LastPosition(ctx)
	if err != nil {
		return fmt.Errorf("watch alerts: %w", err)
	}
	start := last
	if q.Resume {
		if q.After > last {
			return fieldErr("after_position", "%d is ahead of the event store", q.After)
		}
		start = q.After
	}
	if err := started(start); err != nil {
		return err
	}
	opts := events.ReadOptions{From: start + 1, Filters: q.subjects(), Follow: true}
	return h.d.Events.Read(ctx, opts, func(_ context.Context, rec events.Record) error {
		m, ok := rec.Message.(interface{ GetAlert() *alertsv1.AlertRef })
		if !ok || m.GetAlert() == nil || !q.matches(rec.Account, m.GetAlert()) {
			return nil
		}
		return emit(AlertChange{Record: rec, Alert: m.GetAlert()})
	})
}
