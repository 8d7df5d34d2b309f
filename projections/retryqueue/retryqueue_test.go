package retryqueue_test

import (
	"cmp"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/projections/internal/synth"
	"github.com/reboundhq/rebound/projections/projectiontest"
	"github.com/reboundhq/rebound/projections/retryqueue"
)

// TestGolden_historiesMatchTheAggregate replays the recorded hub history (the RetrySchedule
// aggregate's golden histories among other streams) and compares each schedule with the state
// the aggregate rebuilds from the same events (testdata/aggregates/retry_*.json).
func TestGolden_historiesMatchTheAggregate(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		store := memstore.New(projectiontest.Registry())
		projectiontest.Append(t, store, projectiontest.ReadHistory(t, filepath.Join("..", "testdata", "hub.history.jsonl"), projectiontest.Registry()))
		db := d.Open(t)
		projectiontest.Project(t, db, store, retryqueue.New())
		r := retryqueue.NewReader(db)
		files, _ := filepath.Glob(filepath.Join("..", "testdata", "aggregates", "retry_*.json"))
		if len(files) < 6 {
			t.Fatalf("found %d expected schedules", len(files))
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := &retryv1.RetrySchedule{}
			if err := protojson.Unmarshal(data, want); err != nil {
				t.Fatal(err)
			}
			got, err := r.Get(context.Background(), want.GetScheduleId())
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			projectiontest.EqualProto(t, f, got)
		}
		c, err := r.Count(context.Background(), projections.Access{Account: "merchant-1"}, retryqueue.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		// Scheduled: auth_hold_edit, exhausted_then_resent, rejected_retry_now; skipped: tracking
		// max failures; completed and canceled are in no queue.
		if c != (retryqueue.Counts{Pending: 3, Skipped: 1}) {
			t.Errorf("counts %+v", c)
		}
		skipped, _, err := r.Skipped(context.Background(), projections.Access{Account: "merchant-1"}, retryqueue.Filter{}, projections.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(skipped) != 1 || skipped[0].GetExhaustedReason() != retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_CONSECUTIVE_FAILURES {
			t.Errorf("skipped: %v", skipped)
		}
	})
}

// TestReader_queuesMatchTheSchedules compares each queue, paged, with the stored schedules
// filtered and sorted in Go.
func TestReader_queuesMatchTheSchedules(t *testing.T) {
	t.Parallel()
	projectiontest.ForEachEngine(t, func(t *testing.T, d projectiontest.Database) {
		store := memstore.New(projectiontest.Registry())
		gen := synth.Generate(synth.Config{Events: 4000, Seed: 31})
		evs := synth.ToEvents(gen, 31)
		for i := range gen {
			if _, err := store.Append(context.Background(), gen[i].Stream, events.ExpectAny(), evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		db := d.Open(t)
		projectiontest.Project(t, db, store, retryqueue.New())
		r := retryqueue.NewReader(db)
		all := everything(t, db)
		type list func(context.Context, projections.Access, retryqueue.Filter, projections.Page) ([]*retryv1.RetrySchedule, string, error)
		queues := []struct {
			name     string
			list     list
			statuses []retryv1.RetryStatus
			key      func(*retryv1.RetrySchedule) int64
			desc     bool
		}{
			{"pending", r.Pending, []retryv1.RetryStatus{retryv1.RetryStatus_RETRY_STATUS_SCHEDULED, retryv1.RetryStatus_RETRY_STATUS_WAITING_FOR_SYNC, retryv1.RetryStatus_RETRY_STATUS_PAUSED},
				func(s *retryv1.RetrySchedule) int64 {
					if s.GetNextAttemptAt() == nil {
						return math.MaxInt64
					}
					return s.GetNextAttemptAt().AsTime().UnixNano()
				}, false},
			{"held", r.Held, []retryv1.RetryStatus{retryv1.RetryStatus_RETRY_STATUS_HELD},
				func(s *retryv1.RetrySchedule) int64 { return s.GetHeldSince().AsTime().UnixNano() }, false},
			{"skipped", r.Skipped, []retryv1.RetryStatus{retryv1.RetryStatus_RETRY_STATUS_EXHAUSTED},
				func(s *retryv1.RetrySchedule) int64 { return s.GetEndedAt().AsTime().UnixNano() }, true},
		}
		accesses := []projections.Access{projections.AllAccounts(), {Warehouse: "wh-1"}, {Account: "m-2-2"}, {Account: "lone-1"}}
		filters := []retryqueue.Filter{{}, {RecordKinds: []connectorv1.RecordKind{connectorv1.RecordKind_RECORD_KIND_ORDER}}, {Connections: []string{"m-2-2-c2", "wh-1-c1"}}}
		for _, q := range queues {
			for _, acc := range accesses {
				for _, f := range filters {
					var want []*retryv1.RetrySchedule
					for _, s := range all {
						rec := s.GetRecord()
						if !slices.Contains(q.statuses, s.GetStatus()) ||
							(acc.Account != "" && rec.GetAccountId() != acc.Account) ||
							(acc.Warehouse != "" && projections.ScopeOf(rec.GetAccountId(), rec.GetWarehouseId()) != acc.Warehouse) ||
							(len(f.RecordKinds) > 0 && !slices.Contains(f.RecordKinds, rec.GetRecordKind())) ||
							(len(f.Connections) > 0 && !slices.Contains(f.Connections, rec.GetConnectionId())) {
							continue
						}
						want = append(want, s)
					}
					slices.SortFunc(want, func(x, y *retryv1.RetrySchedule) int {
						c := cmp.Or(cmp.Compare(q.key(x), q.key(y)), strings.Compare(x.GetScheduleId(), y.GetScheduleId()))
						if q.desc {
							return -c
						}
						return c
					})
					var got []*retryv1.RetrySchedule
					cursor := ""
					for {
						page, next, err := q.list(context.Background(), acc, f, projections.Page{Size: 9, Cursor: cursor})
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, page...)
						if next == "" {
							break
						}
						cursor = next
					}
					if len(got) != len(want) {
						t.Errorf("%s %+v %+v: %d schedules, want %d", q.name, acc, f, len(got), len(want))
						continue
					}
					for i := range got {
						if !proto.Equal(got[i], want[i]) {
							t.Errorf("%s %+v %+v: schedule %d is %s, want %s", q.name, acc, f, i, got[i].GetScheduleId(), want[i].GetScheduleId())
							break
						}
					}
				}
			}
		}
		c, err := r.Count(context.Background(), projections.AllAccounts(), retryqueue.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Pending == 0 || c.Held == 0 || c.Skipped == 0 {
			t.Errorf("the history leaves a queue empty: %+v", c)
		}
	})
}

func everything(t testing.TB, db *projections.DB) []*retryv1.RetrySchedule {
	rows, err := db.Query(context.Background(), `SELECT state FROM retry_queue`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*retryv1.RetrySchedule
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			t.Fatal(err)
		}
		s := &retryv1.RetrySchedule{}
		if err := proto.Unmarshal(data, s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}
