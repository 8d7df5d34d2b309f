package alerts_test

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/alerts"
	"github.com/reboundhq/rebound/projections/internal/synth"
	"github.com/reboundhq/rebound/projections/projectiontest"
)

// TestGolden_historiesMatchTheAggregate replays the recorded hub history (the alert aggregate's
// own golden histories among other streams) and compares each alert's latest incarnation with
// the state the aggregate rebuilds from the same events (testdata/aggregates/alert_*.json).
func TestGolden_historiesMatchTheAggregate(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		store := memstore.New(projectiontest.Registry())
		projectiontest.Append(t, store, projectiontest.ReadHistory(t, filepath.Join("..", "testdata", "hub.history.jsonl"), projectiontest.Registry()))
		db := d.Open(t)
		projectiontest.Project(t, db, store, alerts.New())
		r := alerts.NewReader(db)
		files, _ := filepath.Glob(filepath.Join("..", "testdata", "aggregates", "alert_*.json"))
		if len(files) < 4 {
			t.Fatalf("found %d expected alert states", len(files))
		}
		for _, f := range files {
			want := readAlert(t, f)
			got, err := r.Get(context.Background(), want.GetAlertId(), 0)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			projectiontest.EqualProto(t, f, got)
		}
		// new_incarnation keeps its first incarnation as a row of its own.
		first, err := r.Get(context.Background(), "alt_43tgehvvt7iinwyklhcniqxy5a", 1)
		if err != nil {
			t.Fatal(err)
		}
		if first.GetIncarnation() != 1 || first.GetStatus() != alertsv1.AlertStatus_ALERT_STATUS_RESOLVED {
			t.Errorf("incarnation 1: %v", projectiontest.Marshal(first))
		}
		c, err := r.Count(context.Background(), projections.AllAccounts(), alerts.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Total != 5 || c.ByStatus[alertsv1.AlertStatus_ALERT_STATUS_OPEN] != 3 || c.ByStatus[alertsv1.AlertStatus_ALERT_STATUS_DISMISSED] != 1 ||
			c.ByStatus[alertsv1.AlertStatus_ALERT_STATUS_RESOLVED] != 1 {
			t.Errorf("counts %+v", c)
		}
	})
}

func readAlert(t testing.TB, path string) *alertsv1.Alert {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a := &alertsv1.Alert{}
	if err := protojson.Unmarshal(data, a); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a
}

// fixture is a read model filled from a synthetic history, with every alert for brute-force
// comparisons.
type fixture struct {
	db    *projections.DB
	r     *alerts.Reader
	store *memstore.Store
	all   []*alertsv1.Alert
}

func newFixture(t *testing.T, d projectiontest.Database, n int, seed uint64) *fixture {
	t.Helper()
	store := memstore.New(projectiontest.Registry())
	appendSynth(t, store, n, seed)
	db := d.Open(t)
	projectiontest.Project(t, db, store, alerts.New())
	f := &fixture{db: db, r: alerts.NewReader(db), store: store}
	f.all = f.everything(t)
	return f
}

func appendSynth(t testing.TB, store events.Store, n int, seed uint64) {
	gen := synth.Generate(synth.Config{Events: n, Seed: seed, AlertsOnly: true})
	evs := synth.ToEvents(gen, seed)
	for i := range gen {
		if _, err := store.Append(context.Background(), gen[i].Stream, events.ExpectAny(), evs[i]); err != nil {
			t.Fatal(err)
		}
	}
}

// everything reads every stored alert straight from the table.
func (f *fixture) everything(t testing.TB) []*alertsv1.Alert {
	rows, err := f.db.Query(context.Background(), `SELECT state FROM alerts`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*alertsv1.Alert
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			t.Fatal(err)
		}
		a := &alertsv1.Alert{}
		if err := proto.Unmarshal(data, a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// listAll pages through a list.
func (f *fixture) listAll(t testing.TB, access projections.Access, flt alerts.Filter, o alerts.Order, size int) []*alertsv1.Alert {
	t.Helper()
	var out []*alertsv1.Alert
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("too many pages")
		}
		page, next, err := f.r.List(context.Background(), access, flt, o, projections.Page{Size: size, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > size {
			t.Fatalf("a page of %d rows for size %d", len(page), size)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		if len(page) != size {
			t.Fatalf("a page of %d rows before the last page", len(page))
		}
		cursor = next
	}
}

// brute applies the filter and order in Go.
func brute(all []*alertsv1.Alert, access projections.Access, f alerts.Filter, o alerts.Order) []*alertsv1.Alert {
	var out []*alertsv1.Alert
	timeOf := func(by alerts.SortBy) func(a *alertsv1.Alert) int64 {
		return func(a *alertsv1.Alert) int64 {
			if by == alerts.SortFirstSeen {
				return a.GetFirstSeenAt().AsTime().UnixNano()
			}
			return a.GetLastSeenAt().AsTime().UnixNano()
		}
	}
	sortTime, filterTime := timeOf(o.By), timeOf(f.TimeOf)
	for _, a := range all {
		r := a.GetRecord()
		scope := projections.ScopeOf(r.GetAccountId(), r.GetWarehouseId())
		switch {
		case access.Account != "" && r.GetAccountId() != access.Account,
			access.Warehouse != "" && scope != access.Warehouse,
			f.Account != "" && r.GetAccountId() != f.Account,
			len(f.Statuses) > 0 && !slices.Contains(f.Statuses, a.GetStatus()),
			len(f.Types) > 0 && !slices.Contains(f.Types, a.GetAlertType()),
			len(f.Classes) > 0 && !slices.Contains(f.Classes, a.GetErrorClass()),
			len(f.Connections) > 0 && !slices.Contains(f.Connections, r.GetConnectionId()),
			len(f.RecordKinds) > 0 && !slices.Contains(f.RecordKinds, r.GetRecordKind()),
			f.OrderNumber != "" && r.GetOrderNumber() != f.OrderNumber,
			f.SKU != "" && r.GetSku() != f.SKU,
			f.NeedsAttention != nil && a.GetNeedsAttention() != *f.NeedsAttention,
			!f.From.IsZero() && filterTime(a) < f.From.UnixNano(),
			!f.To.IsZero() && filterTime(a) >= f.To.UnixNano():
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y *alertsv1.Alert) int {
		c := cmp.Or(cmp.Compare(sortTime(x), sortTime(y)), strings.Compare(x.GetAlertId(), y.GetAlertId()), cmp.Compare(x.GetIncarnation(), y.GetIncarnation()))
		if !o.Ascending {
			c = -c
		}
		return c
	})
	return out
}

func bruteCounts(list []*alertsv1.Alert) alerts.Counts {
	c := alerts.Counts{ByStatus: map[alertsv1.AlertStatus]int64{}, ByType: map[string]int64{}, ByConnection: map[string]int64{}}
	for _, a := range list {
		c.Total++
		c.ByStatus[a.GetStatus()]++
		c.ByType[a.GetAlertType()]++
		c.ByConnection[a.GetRecord().GetConnectionId()]++
	}
	return c
}

func ids(list []*alertsv1.Alert) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.GetAlertId() + "#" + string(rune('0'+a.GetIncarnation()))
	}
	return out
}

// TestReader_filtersSortsPagesAndCounts compares every list and count with the same filter
// applied in Go to every stored alert.
func TestReader_filtersSortsPagesAndCounts(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		f := newFixture(t, d, 3000, 21)
		if len(f.all) < 300 {
			t.Fatalf("only %d alerts", len(f.all))
		}
		sample := f.all[len(f.all)/2]
		yes, no := true, false
		mid := sample.GetLastSeenAt().AsTime()
		cases := []struct {
			name   string
			access projections.Access
			filter alerts.Filter
			order  alerts.Order
		}{
			{"all", projections.AllAccounts(), alerts.Filter{}, alerts.Order{}},
			{"all first seen ascending", projections.AllAccounts(), alerts.Filter{}, alerts.Order{By: alerts.SortFirstSeen, Ascending: true}},
			{"merchant", projections.Access{Account: "m-1-2"}, alerts.Filter{}, alerts.Order{}},
			{"warehouse sees its merchants", projections.Access{Warehouse: "wh-2"}, alerts.Filter{}, alerts.Order{By: alerts.SortFirstSeen}},
			{"warehouse narrows to one merchant", projections.Access{Warehouse: "wh-2"}, alerts.Filter{Account: "m-2-1"}, alerts.Order{}},
			{"warehouse asks for another's merchant", projections.Access{Warehouse: "wh-2"}, alerts.Filter{Account: "m-1-1"}, alerts.Order{}},
			{"lone merchant", projections.Access{Account: "lone-1", Warehouse: "lone-1"}, alerts.Filter{}, alerts.Order{}},
			{"open", projections.AllAccounts(), alerts.Filter{Statuses: []alertsv1.AlertStatus{alertsv1.AlertStatus_ALERT_STATUS_OPEN}}, alerts.Order{}},
			{"closed in a warehouse", projections.Access{Warehouse: "wh-1"}, alerts.Filter{Statuses: []alertsv1.AlertStatus{alertsv1.AlertStatus_ALERT_STATUS_RESOLVED, alertsv1.AlertStatus_ALERT_STATUS_DISMISSED}}, alerts.Order{Ascending: true}},
			{"type and class", projections.AllAccounts(), alerts.Filter{Types: []string{"auth_failed", "ship_method_unmapped"}, Classes: []connectorv1.ErrorClass{connectorv1.ErrorClass_ERROR_CLASS_AUTH}}, alerts.Order{}},
			{"connection", projections.Access{Account: "m-1-1"}, alerts.Filter{Connections: []string{"m-1-1-c2"}}, alerts.Order{}},
			{"record kind", projections.AllAccounts(), alerts.Filter{RecordKinds: []connectorv1.RecordKind{connectorv1.RecordKind_RECORD_KIND_INVENTORY}}, alerts.Order{}},
			{"order number", projections.AllAccounts(), alerts.Filter{OrderNumber: sample.GetRecord().GetOrderNumber() + firstNonEmpty(sample)}, alerts.Order{}},
			{"sku", projections.Access{Warehouse: "wh-1"}, alerts.Filter{SKU: "SKU-7"}, alerts.Order{}},
			{"needs attention", projections.AllAccounts(), alerts.Filter{NeedsAttention: &yes}, alerts.Order{}},
			{"no attention, open", projections.Access{Account: "m-1-1"}, alerts.Filter{NeedsAttention: &no, Statuses: []alertsv1.AlertStatus{alertsv1.AlertStatus_ALERT_STATUS_OPEN}}, alerts.Order{}},
			{"time range", projections.AllAccounts(), alerts.Filter{From: mid.Add(-2 * time.Hour), To: mid}, alerts.Order{}},
			{"time range first seen", projections.AllAccounts(), alerts.Filter{From: mid.Add(-5 * time.Hour), To: mid, TimeOf: alerts.SortFirstSeen}, alerts.Order{By: alerts.SortFirstSeen, Ascending: true}},
			{"time range last seen, sorted by first seen", projections.Access{Warehouse: "wh-3"}, alerts.Filter{From: mid.Add(-5 * time.Hour), To: mid}, alerts.Order{By: alerts.SortFirstSeen}},
		}
		for _, tc := range cases {
			want := brute(f.all, tc.access, tc.filter, tc.order)
			got := f.listAll(t, tc.access, tc.filter, tc.order, 7)
			if !slices.Equal(ids(got), ids(want)) {
				t.Errorf("%s: listed %d alerts, want %d", tc.name, len(got), len(want))
			}
			for i := range min(len(got), len(want)) {
				if !proto.Equal(got[i], want[i]) {
					t.Errorf("%s: alert %d differs", tc.name, i)
					break
				}
			}
			c, err := f.r.Count(context.Background(), tc.access, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if wc := bruteCounts(want); !equalCounts(c, wc) {
				t.Errorf("%s: counts %+v, want %+v", tc.name, c, wc)
			}
		}
		if len(brute(f.all, projections.AllAccounts(), alerts.Filter{NeedsAttention: &yes}, alerts.Order{})) == 0 {
			t.Error("the history has no alert needing attention; the filter is untested")
		}
	})
}

func firstNonEmpty(a *alertsv1.Alert) string {
	if a.GetRecord().GetOrderNumber() != "" {
		return ""
	}
	return "#m-1-1-1001"
}

func equalCounts(a, b alerts.Counts) bool {
	eq := func(x, y map[string]int64) bool {
		for k, v := range x {
			if y[k] != v {
				return false
			}
		}
		for k, v := range y {
			if x[k] != v {
				return false
			}
		}
		return true
	}
	st := func(m map[alertsv1.AlertStatus]int64) map[string]int64 {
		out := map[string]int64{}
		for k, v := range m {
			out[k.String()] = v
		}
		return out
	}
	return a.Total == b.Total && eq(st(a.ByStatus), st(b.ByStatus)) && eq(a.ByType, b.ByType) && eq(a.ByConnection, b.ByConnection)
}

// TestReader_pagesStayStableWhileAlertsArrive lists page by page while new alerts are applied
// between pages: the listing still holds every alert that existed at the start exactly once.
func TestReader_pagesStayStableWhileAlertsArrive(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		f := newFixture(t, d, 1500, 22)
		before := ids(brute(f.all, projections.AllAccounts(), alerts.Filter{}, alerts.Order{}))
		seen := map[string]int{}
		cursor := ""
		for i := 0; ; i++ {
			page, next, err := f.r.List(context.Background(), projections.AllAccounts(), alerts.Filter{}, alerts.Order{}, projections.Page{Size: 50, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids(page) {
				seen[id]++
			}
			if next == "" {
				break
			}
			cursor = next
			if i == 2 {
				// New alerts arrive between pages, at times all over the listing.
				appendNewAlerts(t, f.store, f.all, 300, 99)
				projectiontest.Project(t, f.db, f.store, alerts.New())
			}
		}
		for _, id := range before {
			if seen[id] == 0 {
				t.Errorf("alert %s missing from the listing", id)
			}
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("alert %s listed %d times", id, n)
			}
		}
	})
}

// TestReader_refusesBadInput checks what the gRPC layer turns into InvalidArgument.
func TestReader_refusesBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, projectiontest.NewSQLite(t), 400, 23)
	ctx := context.Background()
	_, next, err := f.r.List(ctx, projections.AllAccounts(), alerts.Filter{}, alerts.Order{}, projections.Page{Size: 5})
	if err != nil || next == "" {
		t.Fatalf("first page: %v, next %q", err, next)
	}
	for name, call := range map[string]func() error{
		"zero access": func() error {
			_, _, err := f.r.List(ctx, projections.Access{}, alerts.Filter{}, alerts.Order{}, projections.Page{})
			return err
		},
		"zero access count": func() error { _, err := f.r.Count(ctx, projections.Access{}, alerts.Filter{}); return err },
		"garbage cursor": func() error {
			_, _, err := f.r.List(ctx, projections.AllAccounts(), alerts.Filter{}, alerts.Order{}, projections.Page{Cursor: "%%%"})
			return err
		},
		"cursor of another order": func() error {
			_, _, err := f.r.List(ctx, projections.AllAccounts(), alerts.Filter{}, alerts.Order{Ascending: true}, projections.Page{Cursor: next})
			return err
		},
		"negative page size": func() error {
			_, _, err := f.r.List(ctx, projections.AllAccounts(), alerts.Filter{}, alerts.Order{}, projections.Page{Size: -1})
			return err
		},
		"inverted time range": func() error {
			now := time.Now()
			_, err := f.r.Count(ctx, projections.AllAccounts(), alerts.Filter{From: now, To: now.Add(-time.Hour)})
			return err
		},
	} {
		if err := call(); !errors.Is(err, events.ErrInvalidArgument) {
			t.Errorf("%s: %v, want an ErrInvalidArgument", name, err)
		}
	}
	if _, err := f.r.Get(ctx, "alt_nope", 0); !errors.Is(err, events.ErrNotFound) {
		t.Errorf("Get of a missing alert: %v", err)
	}
	page, next, err := f.r.List(ctx, projections.AllAccounts(), alerts.Filter{}, alerts.Order{}, projections.Page{Size: 10_000})
	if err != nil || len(page) != min(len(f.all), projections.MaxPageSize) || (next != "") != (len(f.all) > projections.MaxPageSize) {
		t.Errorf("a page size above the maximum gave %d rows of %d (next %q, %v)", len(page), len(f.all), next, err)
	}
}

// appendNewAlerts appends up to n AlertRaised events of alerts the store does not hold yet.
func appendNewAlerts(t testing.TB, store events.Store, existing []*alertsv1.Alert, n int, seed uint64) {
	t.Helper()
	have := map[string]bool{}
	for _, a := range existing {
		have[a.GetAlertId()] = true
	}
	gen := synth.Generate(synth.Config{Events: 20 * n, Seed: seed, AlertsOnly: true, Records: 5000})
	evs := synth.ToEvents(gen, seed)
	added := 0
	for i := range gen {
		raised, ok := gen[i].Message.(*alertsv1.AlertRaised)
		if !ok || have[raised.GetAlert().GetAlertId()] || raised.GetAlert().GetIncarnation() != 1 {
			continue
		}
		have[raised.GetAlert().GetAlertId()] = true
		if _, err := store.Append(context.Background(), gen[i].Stream, events.ExpectAny(), evs[i]); err != nil {
			t.Fatal(err)
		}
		if added++; added == n {
			return
		}
	}
	if added < n/2 {
		t.Fatalf("only %d new alerts", added)
	}
}
