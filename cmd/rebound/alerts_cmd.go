package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
)

const alertsArgs = "show <alert id> --account <account> [--as-of <time|position>] [--json] | list [filters] [--json]"

func init() {
	register(command{
		name: "alerts", args: alertsArgs,
		summary: "show one alert as of a time (rebuilt from its events), or list alerts like the API",
		run: func(ctx context.Context, env *environment, args []string) error {
			return subcommand(ctx, env, "alerts", args, map[string]func(context.Context, *environment, []string) error{
				"show": runAlertsShow,
				"list": runAlertsList,
			})
		},
	})
}

const alertsShowArgs = "<alert id> --account <account> [--as-of <RFC 3339 time | position>] [--json]"

// runAlertsShow loads an alert's stream, folds the events recorded at or before --as-of with the
// alert domain, and prints the state.
func runAlertsShow(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "alerts show", alertsShowArgs)
	var nf natsFlags
	nf.define(fs)
	account := fs.String("account", "", "the alert's account (required)")
	asOf := fs.String("as-of", "", "the state rebuilt from the events recorded at or before this RFC 3339 time, or at or before this global position; default: every event")
	asJSON := fs.Bool("json", false, "print one JSON object: the alert (rebound.alerts.v1.Alert) with as_of, version and position")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: alerts show: want <alert id>, got %d arguments", errUsage, fs.NArg())
	}
	if *account == "" {
		return fmt.Errorf("%w: alerts show: --account is required (the alert's account)", errUsage)
	}
	stream := alert.Stream(*account, fs.Arg(0))
	if err := stream.Validate(); err != nil {
		var inv *events.InvalidArgumentError
		if errors.As(err, &inv) && inv.Field == "account" {
			return fmt.Errorf("%w: alerts show: --account %v", errUsage, inv.Reason)
		}
		return fmt.Errorf("%w: alerts show: alert id: %v", errUsage, err)
	}
	var at *point
	if *asOf != "" {
		p, err := parsePoint("as-of", *asOf, time.Now())
		if err != nil {
			return err
		}
		at = &p
	}

	store, nc, err := nf.openStore(ctx, "rebound-alerts-show")
	if err != nil {
		return err
	}
	defer nc.Close()
	loaded, err := store.Load(ctx, stream, 0)
	if errors.Is(err, events.ErrNotFound) {
		return fmt.Errorf("no alert %s in account %s (no events on %s)", stream.ID, stream.Account, events.StreamSubject(stream))
	}
	if err != nil {
		return err
	}
	cut := loaded.Events
	if at != nil {
		n := 0
		for n < len(cut) && at.covers(cut[n].Position, cut[n].RecordedAt) {
			n++
		}
		if n == 0 {
			first := cut[0]
			return fmt.Errorf("alert %s did not exist at %s: its first event (%s) was recorded at %s, position %d",
				stream.ID, at, events.ShortType(first.EventType), first.RecordedAt.UTC().Format(time.RFC3339Nano), first.Position)
		}
		cut = cut[:n]
	}
	factory, err := alert.NewFactory(alert.DefaultConfig())
	if err != nil {
		return err
	}
	repo, err := aggregate.NewRepository(store, factory, aggregate.Config{})
	if err != nil {
		return err
	}
	root, err := repo.Fold(stream, cut)
	if err != nil {
		return fmt.Errorf("rebuilding alert %s: %w", stream.ID, err)
	}
	view := alertView{
		stream: stream, state: root.Snapshot(), asOf: at, last: cut[len(cut)-1],
		version: cut[len(cut)-1].Version, current: loaded.State.Version,
	}
	if view.state == nil {
		return fmt.Errorf("alert %s has events but was never raised", stream.ID)
	}
	if *asJSON {
		return view.printJSON(env.stdout)
	}
	return view.printText(env.stdout)
}

// alertView is an alert's state as of a point in its history.
type alertView struct {
	stream  events.StreamID
	state   *alertsv1.Alert
	asOf    *point
	last    events.Record // the last event folded
	version uint64        // its version
	current uint64        // the stream's current version
}

// alertShowJSON is the --json form of `alerts show`. Its field names are part of the ops
// interface.
type alertShowJSON struct {
	Account        string          `json:"account"`
	AlertID        string          `json:"alert_id"`
	AsOf           *time.Time      `json:"as_of,omitempty"`
	AsOfPosition   uint64          `json:"as_of_position,omitempty"`
	Version        uint64          `json:"version"`
	CurrentVersion uint64          `json:"current_version"`
	Position       uint64          `json:"position"`
	RecordedAt     time.Time       `json:"recorded_at"`
	LastEventType  string          `json:"last_event_type"`
	Alert          json.RawMessage `json:"alert"`
}

func (v alertView) printJSON(w io.Writer) error {
	body, err := protojson.Marshal(v.state)
	if err != nil {
		return err
	}
	out := alertShowJSON{
		Account: v.stream.Account, AlertID: v.stream.ID, Version: v.version, CurrentVersion: v.current,
		Position: v.last.Position, RecordedAt: v.last.RecordedAt.UTC(), LastEventType: v.last.EventType, Alert: body,
	}
	if v.asOf != nil {
		if v.asOf.isTime() {
			t := v.asOf.time.UTC()
			out.AsOf = &t
		} else {
			out.AsOfPosition = v.asOf.position
		}
	}
	line, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

func (v alertView) printText(w io.Writer) error {
	s := v.state
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", label, fmt.Sprintf(format, args...))
	}

	row("alert", "%s (incarnation %d) in account %s", s.GetAlertId(), s.GetIncarnation(), v.stream.Account)
	status := enumShort(s.GetStatus())
	if s.GetNeedsAttention() {
		status += fmt.Sprintf(", needs attention (%s) since %s", enumShort(s.GetNeedsAttentionReason()), ts(s.GetNeedsAttentionAt()))
	}
	if s.GetCoveredByOutage() {
		status += fmt.Sprintf(", covered by outage %d of connection %s since %s", s.GetOutage().GetNumber(), s.GetOutage().GetConnectionId(), ts(s.GetCoveredAt()))
	}
	row("status", "%s", status)
	kind := "type " + s.GetAlertType() + ", class " + enumShort(s.GetErrorClass())
	if s.GetImmediate() {
		kind += ", notified immediately"
	}
	row("kind", "%s", kind)
	row("record", "%s", recordText(s))
	row("seen", "%d occurrences, first %s, last %s, opened %s", s.GetOccurrences(), ts(s.GetFirstSeenAt()), ts(s.GetLastSeenAt()), ts(s.GetOpenedAt()))
	if f := s.GetLastFailure(); f != nil {
		msg := f.GetMessage()
		if f.GetCode() != "" {
			msg = f.GetCode() + ": " + msg
		}
		if f.GetHttpStatus() != 0 {
			msg = fmt.Sprintf("HTTP %d %s", f.GetHttpStatus(), msg)
		}
		row("last failure", "%s (attempt %s, rule %s, at %s)", msg, f.GetAttemptId(), f.GetRuleId(), ts(f.GetFailedAt()))
	}
	if s.GetEscalated() {
		row("escalated", "%s: %s", ts(s.GetEscalatedAt()), s.GetEscalationReason())
	}
	if s.GetReopenCount() > 0 {
		row("reopened", "%d times, last at %s", s.GetReopenCount(), ts(s.GetReopenedAt()))
	}
	if s.GetResolvedAt() != nil {
		row("resolved", "%s (%s, attempt %s)", ts(s.GetResolvedAt()), enumShort(s.GetResolutionCause()), s.GetResolvedBy())
	}
	if s.GetDismissedAt() != nil {
		reason := s.GetDismissReason()
		if reason == "" {
			reason = "no reason given"
		}
		row("dismissed", "%s by %s (%s)", ts(s.GetDismissedAt()), s.GetDismissedBy(), reason)
	}
	asOf := "now"
	if v.asOf != nil {
		asOf = v.asOf.String()
	}
	row("as of", "%s: version %d of %d, last event %s at position %d recorded %s", asOf, v.version, v.current,
		events.ShortType(v.last.EventType), v.last.Position, v.last.RecordedAt.UTC().Format(time.RFC3339Nano))
	return tw.Flush()
}

// recordText describes an alert's record: "order #1001 (id 1001) on connection wms-1 (wms
// sandbox-wms), warehouse wh-1".
func recordText(s *alertsv1.Alert) string {
	r := s.GetRecord()
	var b strings.Builder
	if r.GetRecordId() == "" {
		b.WriteString("the whole connection")
	} else {
		b.WriteString(enumShort(r.GetRecordKind()))
		switch {
		case r.GetOrderNumber() != "":
			fmt.Fprintf(&b, " %s (id %s)", r.GetOrderNumber(), r.GetRecordId())
		case r.GetSku() != "":
			fmt.Fprintf(&b, " SKU %s (id %s)", r.GetSku(), r.GetRecordId())
		default:
			fmt.Fprintf(&b, " %s", r.GetRecordId())
		}
	}
	fmt.Fprintf(&b, " on connection %s (%s %s)", r.GetConnectionId(), enumShort(r.GetSystemKind()), r.GetSystem())
	if r.GetWarehouseId() != "" {
		fmt.Fprintf(&b, ", warehouse %s", r.GetWarehouseId())
	}
	return b.String()
}

// ts formats a protobuf time for people; "-" when unset.
func ts(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format("2006-01-02 15:04:05.000Z")
}
