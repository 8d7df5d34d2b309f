package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
)

// sampleFailure is the payload every figure uses: a realistic RecordFailed.
func sampleFailure(account, id string) *connectorv1.RecordFailed {
	return &connectorv1.RecordFailed{
		Record: &connectorv1.RecordRef{
			AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: "wh-1",
			ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
			RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id, OrderNumber: "#" + id,
		},
		AttemptId: "attempt-1", Message: "503 Service Unavailable: the WMS is in maintenance", Code: "SERVICE_UNAVAILABLE",
		HttpStatus: 503, AttemptedAt: timestamppb.Now(), FailedAt: timestamppb.Now(),
	}
}

// storeAppend appends single events with their expected state from `writers` goroutines, each
// on an aggregate of its own, for d.
func storeAppend(ctx context.Context, store events.Store, writers int, d time.Duration) (Result, error) {
	var (
		n       atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		firstEr error
	)
	run := time.Now().UnixNano()
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			stream := events.StreamID{AggregateType: "bench", Account: "bench", ID: fmt.Sprintf("append-%d-%d", run, w)}
			st := events.State{}
			msg := sampleFailure("bench", stream.ID)
			for time.Now().Before(deadline) {
				var err error
				st, err = store.Append(ctx, stream, events.ExpectState(st), events.NewEvent(msg, events.Metadata{}))
				if err != nil {
					errOnce.Do(func() { firstEr = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if firstEr != nil {
		return Result{}, fmt.Errorf("store append: %w", firstEr)
	}
	return Result{Name: fmt.Sprintf("store single-event conditional append, %d aggregates", writers),
		Value: float64(n.Load()) / time.Since(start).Seconds(), Unit: "events/s"}, nil
}

// storeLoad loads one aggregate of `size` events repeatedly for d.
func storeLoad(ctx context.Context, store events.Store, size int, d time.Duration) (Result, error) {
	stream := events.StreamID{AggregateType: "bench", Account: "bench", ID: fmt.Sprintf("load-%d", time.Now().UnixNano())}
	evs := make([]events.Event, size)
	for i := range evs {
		evs[i] = events.NewEvent(sampleFailure("bench", stream.ID), events.Metadata{CorrelationID: "bench"})
	}
	if _, err := store.Append(ctx, stream, events.ExpectNoStream(), evs...); err != nil {
		return Result{}, fmt.Errorf("store load setup: %w", err)
	}
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		loaded, err := store.Load(ctx, stream, 0)
		if err != nil {
			return Result{}, fmt.Errorf("store load: %w", err)
		}
		if len(loaded.Events) != size {
			return Result{}, fmt.Errorf("store load: %d events, want %d", len(loaded.Events), size)
		}
		n += len(loaded.Events)
	}
	return Result{Name: fmt.Sprintf("store load of a %d-event aggregate (decoded)", size),
		Value: float64(n) / time.Since(start).Seconds(), Unit: "events/s"}, nil
}

// storeRead reads every event from the first with the store's global read.
func storeRead(ctx context.Context, store events.Store) (Result, error) {
	n := 0
	start := time.Now()
	err := store.Read(ctx, events.ReadOptions{}, func(context.Context, events.Record) error {
		n++
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("store read: %w", err)
	}
	return Result{Name: "store global read from the first event (decoded)", Value: float64(n) / time.Since(start).Seconds(), Unit: "events/s"}, nil
}
