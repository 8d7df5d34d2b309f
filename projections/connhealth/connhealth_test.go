package connhealth_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/alerts"
	"github.com/reboundhq/rebound/projections/connhealth"
	"github.com/reboundhq/rebound/projections/internal/synth"
	"github.com/reboundhq/rebound/projections/projectiontest"
)

func project(t *testing.T, d projectiontest.Database, history string) *connhealth.Reader {
	t.Helper()
	store := memstore.New(projectiontest.Registry())
	projectiontest.Append(t, store, projectiontest.ReadHistory(t, filepath.Join("..", "testdata", history), projectiontest.Registry()))
	db := d.Open(t)
	projectiontest.Project(t, db, store, connhealth.New())
	return connhealth.NewReader(db)
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestGolden_hub: the hub history's connection recovered from its outage; three of its alerts
// are open (the order's new incarnation, the covered auth failure, the connection_down alert),
// on one failing record.
func TestGolden_hub(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		r := project(t, d, "hub.history.jsonl")
		got, err := r.Get(context.Background(), "merchant-1", "wms-1")
		if err != nil {
			t.Fatal(err)
		}
		want := connhealth.Row{
			Health: &alertsv1.ConnectionHealth{
				// The outage stream's events (the latest here) name no warehouse; the latest event
				// says who the connection belongs to.
				Connection: &alertsv1.ConnectionRef{AccountId: "merchant-1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
					ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms"},
				Status:  alertsv1.ConnectionStatus_CONNECTION_STATUS_UP,
				Outage:  &alertsv1.OutageRef{ConnectionId: "wms-1", Number: 1, DownAt: tspb("2026-03-02T09:01:35Z"), ConnectionAlertId: "alt_w3dvqcxgfi4da6mgsdaisq3p24"},
				Outages: 1, LastRecoveredAt: tspb("2026-03-02T09:40:00Z"),
			},
			OpenAlerts: 3, FailingRecords: 1, LastFailureAt: ts("2026-03-13T09:00:00Z"),
		}
		equalRow(t, got, want)
		list, next, err := r.List(context.Background(), projections.Access{Account: "merchant-1"}, connhealth.Filter{Failing: true}, projections.Page{})
		if err != nil || next != "" || len(list) != 1 {
			t.Fatalf("merchant list: %d rows, next %q, %v", len(list), next, err)
		}
		if list, _, _ := r.List(context.Background(), projections.Access{Account: "merchant-2"}, connhealth.Filter{}, projections.Page{}); len(list) != 0 {
			t.Errorf("another merchant sees %d connections", len(list))
		}
		if list, _, _ := r.List(context.Background(), projections.AllAccounts(), connhealth.Filter{Down: true}, projections.Page{}); len(list) != 0 {
			t.Errorf("%d connections down after the recovery", len(list))
		}
	})
}

// TestGolden_outageDown: the connection is down, covering the records the outage listed and the
// three that failed after (seven, as the outage aggregate counts them:
// testdata/aggregates/outage_down.json).
func TestGolden_outageDown(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		r := project(t, d, "outage_down.history.jsonl")
		list, _, err := r.List(context.Background(), projections.Access{Account: "merchant-1"}, connhealth.Filter{Down: true}, projections.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 {
			t.Fatalf("%d connections down, want 1", len(list))
		}
		h := list[0].Health
		if h.GetStatus() != alertsv1.ConnectionStatus_CONNECTION_STATUS_DOWN || h.GetOutage().GetNumber() != 1 || h.GetOutages() != 1 ||
			h.GetCoveredTotal() != 7 || h.GetOutage().GetDownAt().AsTime() != ts("2026-03-02T09:09:00Z") {
			t.Errorf("health: %s", projectiontest.Marshal(h))
		}
	})
}

func tspb(s string) *timestamppb.Timestamp { return timestamppb.New(ts(s)) }

func equalRow(t testing.TB, got, want connhealth.Row) {
	t.Helper()
	if !proto.Equal(got.Health, want.Health) || got.OpenAlerts != want.OpenAlerts || got.FailingRecords != want.FailingRecords || !got.LastFailureAt.Equal(want.LastFailureAt) {
		t.Errorf("row:\n%s\nopen %d failing %d last failure %s\nwant:\n%s\nopen %d failing %d last failure %s",
			projectiontest.Marshal(got.Health), got.OpenAlerts, got.FailingRecords, got.LastFailureAt,
			projectiontest.Marshal(want.Health), want.OpenAlerts, want.FailingRecords, want.LastFailureAt)
	}
}

// TestReader_countsMatchTheAlerts compares each connection's open alerts and failing records with
// the alerts read model built from the same synthetic history.
func TestReader_countsMatchTheAlerts(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		store := memstore.New(projectiontest.Registry())
		gen := synth.Generate(synth.Config{Events: 5000, Seed: 41})
		evs := synth.ToEvents(gen, 41)
		for i := range gen {
			if _, err := store.Append(context.Background(), gen[i].Stream, events.ExpectAny(), evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		db := d.Open(t)
		projectiontest.Project(t, db, store, connhealth.New(), alerts.New())
		ar := alerts.NewReader(db)
		open, _, err := ar.List(context.Background(), projections.AllAccounts(), alerts.Filter{Statuses: []alertsv1.AlertStatus{alertsv1.AlertStatus_ALERT_STATUS_OPEN}}, alerts.Order{}, projections.Page{Size: projections.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		type key struct{ account, connection string }
		wantOpen := map[key]int64{}
		failing := map[key]map[string]bool{}
		for _, a := range allOpen(t, ar, open) {
			r := a.GetRecord()
			k := key{r.GetAccountId(), r.GetConnectionId()}
			wantOpen[k]++
			if r.GetRecordKind() != connectorv1.RecordKind_RECORD_KIND_UNSPECIFIED {
				if failing[k] == nil {
					failing[k] = map[string]bool{}
				}
				failing[k][r.GetRecordKind().String()+"/"+r.GetRecordId()] = true
			}
		}
		var rows []connhealth.Row
		cursor := ""
		for {
			page, next, err := connhealth.NewReader(db).List(context.Background(), projections.AllAccounts(), connhealth.Filter{}, projections.Page{Size: 7, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(rows) < 20 {
			t.Fatalf("only %d connections", len(rows))
		}
		downs := 0
		for _, row := range rows {
			c := row.Health.GetConnection()
			k := key{c.GetAccountId(), c.GetConnectionId()}
			if row.OpenAlerts != wantOpen[k] || row.FailingRecords != int64(len(failing[k])) {
				t.Errorf("%v: open %d failing %d, the alerts say %d and %d", k, row.OpenAlerts, row.FailingRecords, wantOpen[k], len(failing[k]))
			}
			if row.Health.GetStatus() == alertsv1.ConnectionStatus_CONNECTION_STATUS_DOWN {
				downs++
			}
			if c.GetSystem() == "" || c.GetSystemKind() == connectorv1.SystemKind_SYSTEM_KIND_UNSPECIFIED {
				t.Errorf("%v has no system", k)
			}
		}
		if downs == 0 {
			t.Error("no connection is down at the end of the history; the outage path is untested")
		}
	})
}

// allOpen pages through the open alerts.
func allOpen(t testing.TB, r *alerts.Reader, _ []*alertsv1.Alert) []*alertsv1.Alert {
	t.Helper()
	var out []*alertsv1.Alert
	cursor := ""
	for {
		page, next, err := r.List(context.Background(), projections.AllAccounts(), alerts.Filter{Statuses: []alertsv1.AlertStatus{alertsv1.AlertStatus_ALERT_STATUS_OPEN}}, alerts.Order{}, projections.Page{Size: projections.MaxPageSize, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}
