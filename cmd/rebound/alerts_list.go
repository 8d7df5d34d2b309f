package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/alerts"
)

const alertsListArgs = "[--account A] [--warehouse W] [--status S] [--type T] [--class C] [--connection ID] [--record-kind K] [--order-number N] [--sku S] [--needs-attention true|false] [--since T] [--until T] [--sort last-seen|first-seen] [--asc] [--limit N] [--cursor C | --all] [--json]"

// alertsListFlags are the filters of `rebound alerts list`: those of the AlertService list API.
type alertsListFlags struct {
	account, warehouse   string
	statuses, types      listFlag
	classes, connections listFlag
	recordKinds          listFlag
	orderNumber, sku     string
	needsAttention       string
	since, until         string
	sort                 string
	asc, all, json       bool
	limit                int
	cursor               string
	readModels           readModelFlags
}

// runAlertsList reads the alerts read model directly (the process's SQLite file or PostgreSQL):
// ops run it on the box, with or without the gRPC API up.
func runAlertsList(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "alerts list", alertsListArgs)
	var f alertsListFlags
	f.readModels.define(fs)
	fs.StringVar(&f.account, "account", "", "only this account's alerts")
	fs.StringVar(&f.warehouse, "warehouse", "", "only alerts in this warehouse's scope: its own and its merchants'")
	fs.Var(&f.statuses, "status", "only alerts in these statuses (repeat or comma-separate): "+enumChoices(alertsv1.AlertStatus(0).Descriptor()))
	fs.Var(&f.types, "type", "only alerts of these alert types, e.g. wms_unavailable, ship_method_unmapped")
	fs.Var(&f.classes, "class", "only alerts whose latest failure has these classes: "+enumChoices(connectorv1.ErrorClass(0).Descriptor()))
	fs.Var(&f.connections, "connection", "only alerts of these connection ids")
	fs.Var(&f.recordKinds, "record-kind", "only alerts of these record kinds: "+enumChoices(connectorv1.RecordKind(0).Descriptor()))
	fs.StringVar(&f.orderNumber, "order-number", "", "only the alerts of the order with this order number (exact)")
	fs.StringVar(&f.sku, "sku", "", "only the alerts of the product with this SKU (exact)")
	fs.StringVar(&f.needsAttention, "needs-attention", "", "true: only alerts that need a person; false: only those that do not")
	fs.StringVar(&f.since, "since", "", "only alerts whose sort time is at or after this RFC 3339 time, or this long ago (24h)")
	fs.StringVar(&f.until, "until", "", "only alerts whose sort time is before this RFC 3339 time, or this long ago")
	fs.StringVar(&f.sort, "sort", "last-seen", "sort by last-seen or first-seen time, newest first")
	fs.BoolVar(&f.asc, "asc", false, "oldest first")
	fs.IntVar(&f.limit, "limit", projections.DefaultPageSize, fmt.Sprintf("page size, at most %d", projections.MaxPageSize))
	fs.StringVar(&f.cursor, "cursor", "", "the next page: the cursor the previous page printed")
	fs.BoolVar(&f.all, "all", false, "every page, not just one")
	fs.BoolVar(&f.json, "json", false, "one JSON object (rebound.alerts.v1.Alert) per line; the next page's cursor goes to stderr")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: alerts list takes no arguments, only flags (got %q)", errUsage, fs.Args())
	}
	filter, access, order, err := f.build(time.Now())
	if err != nil {
		return err
	}
	db, err := f.readModels.open(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	reader := alerts.NewReader(db)

	page := projections.Page{Size: f.limit, Cursor: f.cursor}
	var list []*alertsv1.Alert
	for {
		got, next, err := reader.List(ctx, access, filter, order, page)
		if err != nil {
			return listError(err, db)
		}
		if f.json {
			if err := printAlertsJSON(env.stdout, got); err != nil {
				return err
			}
		} else {
			list = append(list, got...)
		}
		page.Cursor = next
		if next == "" || !f.all {
			break
		}
	}
	if f.json {
		if page.Cursor != "" {
			fmt.Fprintf(env.stderr, "more alerts: --cursor %s\n", page.Cursor)
		}
		return nil
	}
	counts, err := reader.Count(ctx, access, filter)
	if err != nil {
		return listError(err, db)
	}
	if err := printAlertsTable(env.stdout, list, order); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%d shown of %d matching alerts%s\n", len(list), counts.Total, byStatus(counts))
	if page.Cursor != "" {
		fmt.Fprintf(env.stdout, "next page: --cursor %s\n", page.Cursor)
	}
	return nil
}

// build checks the flags and turns them into the read model's filter, access and order. Every
// problem names its flag.
func (f *alertsListFlags) build(now time.Time) (alerts.Filter, projections.Access, alerts.Order, error) {
	var (
		filter alerts.Filter
		errs   []string
	)
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	access := projections.Access{All: true, Warehouse: f.warehouse}
	if f.account != "" && !events.ValidToken(f.account) {
		bad("--account %q must be 1-128 characters of A-Z a-z 0-9 _ -", f.account)
	}
	if f.warehouse != "" && !events.ValidToken(f.warehouse) {
		bad("--warehouse %q must be 1-128 characters of A-Z a-z 0-9 _ -", f.warehouse)
	}
	filter.Account = f.account
	for _, s := range f.statuses {
		if n, ok := parseEnum(alertsv1.AlertStatus(0).Descriptor(), s); ok {
			filter.Statuses = append(filter.Statuses, alertsv1.AlertStatus(n))
		} else {
			bad("--status %q is not one of %s", s, enumChoices(alertsv1.AlertStatus(0).Descriptor()))
		}
	}
	for _, s := range f.classes {
		if n, ok := parseEnum(connectorv1.ErrorClass(0).Descriptor(), s); ok {
			filter.Classes = append(filter.Classes, connectorv1.ErrorClass(n))
		} else {
			bad("--class %q is not one of %s", s, enumChoices(connectorv1.ErrorClass(0).Descriptor()))
		}
	}
	for _, s := range f.recordKinds {
		if n, ok := parseEnum(connectorv1.RecordKind(0).Descriptor(), s); ok {
			filter.RecordKinds = append(filter.RecordKinds, connectorv1.RecordKind(n))
		} else {
			bad("--record-kind %q is not one of %s", s, enumChoices(connectorv1.RecordKind(0).Descriptor()))
		}
	}
	filter.Types = f.types
	filter.Connections = f.connections
	filter.OrderNumber, filter.SKU = f.orderNumber, f.sku
	switch strings.ToLower(f.needsAttention) {
	case "":
	case "true", "yes", "1":
		v := true
		filter.NeedsAttention = &v
	case "false", "no", "0":
		v := false
		filter.NeedsAttention = &v
	default:
		bad("--needs-attention %q is not true or false", f.needsAttention)
	}
	var order alerts.Order
	switch f.sort {
	case "last-seen", "last_seen":
		order.By = alerts.SortLastSeen
	case "first-seen", "first_seen":
		order.By = alerts.SortFirstSeen
	default:
		bad("--sort %q is not last-seen or first-seen", f.sort)
	}
	order.Ascending = f.asc
	filter.TimeOf = order.By
	var err error
	if filter.From, err = sinceTime("since", f.since, now); err != nil {
		bad("%v", err)
	}
	if filter.To, err = sinceTime("until", f.until, now); err != nil {
		bad("%v", err)
	}
	if !filter.From.IsZero() && !filter.To.IsZero() && !filter.From.Before(filter.To) {
		bad("--until %s is not after --since %s", filter.To.Format(time.RFC3339), filter.From.Format(time.RFC3339))
	}
	if f.limit <= 0 || f.limit > projections.MaxPageSize {
		bad("--limit %d must be 1 to %d", f.limit, projections.MaxPageSize)
	}
	if f.all && f.cursor != "" {
		bad("--all and --cursor do not go together")
	}
	if f.all {
		f.limit = projections.MaxPageSize
	}
	if len(errs) > 0 {
		return filter, access, order, fmt.Errorf("%w: %s", errUsage, strings.Join(errs, "; "))
	}
	return filter, access, order, nil
}

// sinceTime reads an RFC 3339 time or a duration ago ("24h" is a day before now).
func sinceTime(flagName, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--%s %q: a duration ago must be positive", flagName, s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q is neither an RFC 3339 time nor a duration like 24h", flagName, s)
	}
	return t, nil
}

// listError explains what the read model refused: a bad cursor names --cursor; a missing table
// says the read model is not there yet.
func listError(err error, db *projections.DB) error {
	var inv *events.InvalidArgumentError
	if errors.As(err, &inv) {
		flagName := map[string]string{"cursor": "--cursor", "page_size": "--limit", "filter.to": "--until", "filter": "the filters"}[inv.Field]
		if flagName == "" {
			flagName = inv.Field
		}
		return fmt.Errorf("%w: %s %s", errUsage, flagName, inv.Reason)
	}
	return fmt.Errorf("reading the alerts read model in %s (has Rebound run the projections there?): %w", db, err)
}

func printAlertsJSON(w io.Writer, list []*alertsv1.Alert) error {
	for _, a := range list {
		b, err := protojson.Marshal(a)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}

func printAlertsTable(w io.Writer, list []*alertsv1.Alert, order alerts.Order) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	timeHeader := "LAST SEEN"
	if order.By == alerts.SortFirstSeen {
		timeHeader = "FIRST SEEN"
	}
	fmt.Fprintf(tw, "%s\tSTATUS\tATTENTION\tACCOUNT\tTYPE\tCLASS\tCONNECTION\tRECORD\tN\tALERT ID\tLAST MESSAGE\n", timeHeader)
	for _, a := range list {
		t := a.GetLastSeenAt()
		if order.By == alerts.SortFirstSeen {
			t = a.GetFirstSeenAt()
		}
		attention := "-"
		if a.GetNeedsAttention() {
			attention = enumShort(a.GetNeedsAttentionReason())
		}
		status := enumShort(a.GetStatus())
		if a.GetCoveredByOutage() {
			status += " (outage)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n",
			t.AsTime().UTC().Format("2006-01-02 15:04:05"), status, attention, a.GetRecord().GetAccountId(),
			a.GetAlertType(), enumShort(a.GetErrorClass()), a.GetRecord().GetConnectionId(), recordShort(a),
			a.GetOccurrences(), a.GetAlertId(), clip(a.GetLastFailure().GetMessage(), 60))
	}
	return tw.Flush()
}

// recordShort names an alert's record in a table cell: "order #1001", "product SKU-1".
func recordShort(a *alertsv1.Alert) string {
	r := a.GetRecord()
	switch {
	case r.GetRecordId() == "":
		return "(connection)"
	case r.GetOrderNumber() != "":
		return enumShort(r.GetRecordKind()) + " " + r.GetOrderNumber()
	case r.GetSku() != "":
		return enumShort(r.GetRecordKind()) + " " + r.GetSku()
	}
	return enumShort(r.GetRecordKind()) + " " + r.GetRecordId()
}

// clip shortens s to n runes on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// byStatus is the count line's breakdown: " (open 3, resolved 1)".
func byStatus(c alerts.Counts) string {
	if len(c.ByStatus) == 0 {
		return ""
	}
	keys := make([]alertsv1.AlertStatus, 0, len(c.ByStatus))
	for k := range c.ByStatus {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", enumShort(k), c.ByStatus[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
