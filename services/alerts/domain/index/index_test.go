package index_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/index"
	"github.com/reboundhq/rebound/services/alerts/domain/internal/golden"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func order(id string) *connectorv1.RecordRef {
	return &connectorv1.RecordRef{
		AccountId: "merchant-1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: "wh-1",
		ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id, OrderNumber: "#" + id,
	}
}

func TestTrack_listsEachTypeOnce(t *testing.T) {
	t.Parallel()
	r := order("1001")
	x := index.New(index.Stream(r))
	for _, typ := range []string{"timeout", "ship_method_unmapped", "timeout"} {
		if err := x.Track(r, typ, alert.IDOf(r, typ), t0); err != nil {
			t.Fatal(err)
		}
	}
	want := []index.Entry{{AlertID: alert.IDOf(r, "timeout"), AlertType: "timeout"}, {AlertID: alert.IDOf(r, "ship_method_unmapped"), AlertType: "ship_method_unmapped"}}
	if got := x.Entries(); !slices.Equal(got, want) || len(x.Changes()) != 2 {
		t.Fatalf("entries %v with %d events, want %v in 2", got, len(x.Changes()), want)
	}
	// Replaying the events rebuilds the same index.
	fresh := index.New(index.Stream(r))
	for i, m := range x.Changes() {
		if err := fresh.Apply(events.Record{Event: events.Event{Envelope: events.Envelope{EventType: events.TypeName(m), Version: uint64(i + 1)}, Message: m}}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(fresh.Entries(), want) {
		t.Fatalf("replayed %v, want %v", fresh.Entries(), want)
	}
	if err := x.Track(order("1002"), "timeout", alert.IDOf(order("1002"), "timeout"), t0); err == nil {
		t.Fatal("tracking another record's alert: want an error")
	}
}

// TestGolden_historyRebuildsTheSameEntries replays a recorded index history (never regenerated).
func TestGolden_historyRebuildsTheSameEntries(t *testing.T) {
	t.Parallel()
	r := order("1001")
	stream := index.Stream(r)
	recs, err := golden.ReadHistory(filepath.Join("testdata", "two_types.history.jsonl"), events.NewRegistry(index.EventTypes()...), stream)
	if err != nil {
		t.Fatal(err)
	}
	x := index.New(stream)
	for _, rec := range recs {
		if err := x.Apply(rec); err != nil {
			t.Fatal(err)
		}
	}
	want := []index.Entry{
		{AlertID: "alt_w7wjerungpvws6fn37brgz2tzu", AlertType: "wms_unavailable"},
		{AlertID: "alt_43tgehvvt7iinwyklhcniqxy5a", AlertType: "ship_method_unmapped"},
	}
	if got := x.Entries(); !slices.Equal(got, want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
}
