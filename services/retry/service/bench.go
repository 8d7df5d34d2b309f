package service

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/services/retry/domain"
	"github.com/reboundhq/rebound/services/retry/inbound"
	"github.com/reboundhq/rebound/services/retry/outbound"
)

// DueBench says what MeasureDuePrecision measures.
type DueBench struct {
	// N is the number of retries pending at once.
	N int
	// Spread is the time their first attempts are due over (evenly; due times are whole
	// seconds, so N·1s/Spread of them are due in the same second).
	Spread time.Duration
	// CacheSize is the bench service's repository cache (Config.CacheSize; default 10000). A
	// timer of a schedule that is not cached loads it from the store: from its snapshot and the
	// events after it, or, with DisableSnapshots, from all its events.
	CacheSize int
	// DisableSnapshots runs the bench service without snapshots (Config.DisableSnapshots).
	DisableSnapshots bool
	// Lead is the time from the start of the reports to the first due time; every schedule
	// must be stored by then. Default 3s + N·300µs.
	Lead time.Duration
	// History, when set, gives every schedule a past before the measured failure: each record
	// first fails with a Retry-After of an hour, then History runs (say, storing a million
	// events of other aggregates, as a busy stream receives between two events of one
	// schedule), then the measured failures are reported. Loading a schedule from its events
	// then reads two events far apart in the stream.
	History func(ctx context.Context) error
}

// DuePrecision is how late the RetryDue commands of pending retries reached their owner: the
// time a subscriber of the due stream received each, minus the attempt's due time.
type DuePrecision struct {
	P50, P99, Max time.Duration
	// Due counts the attempts received, each once.
	Due int
	// Early counts commands received before their due time, Duplicates commands received more
	// than once; both are 0 when retries work.
	Early, Duplicates int
	// Reporting is how long reporting the n failures took, and Scheduled how long until every
	// one had its schedule stored and its timer armed (the pending retries).
	Reporting, Scheduled time.Duration
}

// MeasureDuePrecision measures retries end to end: it runs a retry service of its own (own
// account, handler names and timer kind, so it neither sees nor disturbs other data) on deps,
// reports n order failures whose first attempts are due (through Retry-After) evenly over
// spread, after a lead time long enough to store them all, and measures how late each first
// attempt's RetryDue reaches a subscriber of the due stream, which then reports the attempt a
// success as an owner would (ending the schedule). While the first ones are due, up to n retries are
// pending. Its consumers are deleted afterwards; its events stay in the store under its account.
// It returns an error when not every command arrived within a minute of the last due time.
func MeasureDuePrecision(ctx context.Context, deps Deps, b DueBench) (DuePrecision, error) {
	var p DuePrecision
	n, spread := b.N, b.Spread
	if n <= 0 || spread < 0 {
		return p, fmt.Errorf("retry bench: MeasureDuePrecision needs n > 0 and spread >= 0, got %d and %s", n, spread)
	}
	suffix := strconv.FormatUint(rand.Uint64()%(1<<40), 36)
	account := "bench-retry-" + suffix
	// Retry-After (at least the lead time) decides each first attempt's due time, as it is
	// longer than the interval. The bench acts as the owner and reports every attempt a
	// success, which ends its schedule; only first attempts are measured.
	policies, err := ParsePolicies([]byte("kinds: {order: {interval: 2s, jitter: 0, max_age: 1d}}"))
	if err != nil {
		return p, err
	}
	cfg := Config{
		Policies:         &policies,
		HandlerPrefix:    "retry-bench-" + suffix,
		TimerKind:        "retry-bench-" + suffix,
		OnlyAccount:      account,
		CacheSize:        b.CacheSize,
		DisableSnapshots: b.DisableSnapshots,
	}
	svc, err := New(deps, cfg)
	if err != nil {
		return p, err
	}
	evbus, err := bus.New(deps.JS, Registry(), deps.Log, bus.Config{})
	if err != nil {
		return p, err
	}
	for _, h := range svc.Handlers() {
		if err := evbus.Handle(h); err != nil {
			return p, err
		}
	}
	if err := errors.Join(svc.index.Ensure(ctx), svc.due.Ensure(ctx), svc.timers.Ensure(ctx)); err != nil {
		return p, err
	}
	if svc.snaps != nil {
		if err := svc.snaps.Ensure(ctx); err != nil {
			return p, err
		}
	}

	names := inbound.NamesWithPrefix(cfg.HandlerPrefix)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _ = evbus.Run(ctx) })
	wg.Go(func() { _ = svc.Run(ctx) })
	defer func() {
		cancel()
		wg.Wait()
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer ccancel()
		for _, name := range []string{names.Records, names.Sync, names.Outage, names.Due} {
			_ = deps.JS.DeleteConsumer(cctx, "EVENTS", name)
			_ = deps.JS.DeleteConsumer(cctx, bus.PoisonStream, name)
		}
		_ = deps.JS.DeleteConsumer(cctx, "TIMERS", "timer-"+cfg.TimerKind)
	}()

	in, err := ingest.New(deps.Store)
	if err != nil {
		return p, err
	}

	// Receive the commands of the bench account, and report each attempt a success.
	var (
		mu        sync.Mutex
		late      = make([]time.Duration, 0, n)
		received  = make(map[string]bool, n)
		done      = make(chan struct{})
		successes = make(chan *retryv1.RetryDue, n)
		owners    sync.WaitGroup
	)
	for range 16 {
		owners.Go(func() {
			for d := range successes {
				now := time.Now()
				_, _ = in.Success(ctx, &connectorv1.RecordSucceeded{Record: d.GetRecord(), AttemptId: d.GetAttemptId(),
					AttemptedAt: timestamppb.New(now), SucceededAt: timestamppb.New(now)}, events.Metadata{})
			}
		})
	}
	defer func() {
		close(successes)
		owners.Wait()
	}()
	cons, err := deps.JS.OrderedConsumer(ctx, outbound.DefaultDueStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{domain.DueSubjectPrefix + ".wms.order"},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return p, err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		at := time.Now()
		if m.Headers().Get(outbound.HeaderAccountID) != account {
			return
		}
		var d retryv1.RetryDue
		if proto.Unmarshal(m.Data(), &d) != nil || d.GetWindow() != 1 || d.GetAttempt() != 1 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if received[d.GetAttemptId()] {
			p.Duplicates++
			return
		}
		received[d.GetAttemptId()] = true
		select {
		case successes <- &d:
		default:
		}
		l := at.Sub(d.GetDueAt().AsTime())
		if l < 0 {
			p.Early++
		}
		late = append(late, l)
		if len(late) == n {
			close(done)
		}
	})
	if err != nil {
		return p, err
	}
	defer cc.Stop()
	select {
	case <-evbus.Running():
	case <-ctx.Done():
		return p, ctx.Err()
	}

	// report reports a failure of every record, failure i with a Retry-After until due(i).
	report := func(attempt string, due func(i int) time.Time) error {
		var (
			rwg    sync.WaitGroup
			errMu  sync.Mutex
			repErr error
			next   = make(chan int)
		)
		for range 16 {
			rwg.Go(func() {
				for i := range next {
					now := time.Now()
					f := &connectorv1.RecordFailed{
						Record: &connectorv1.RecordRef{
							AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, ConnectionId: "bench-wms",
							SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "bench-wms",
							RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: "o" + strconv.Itoa(i),
						},
						AttemptId: attempt, Message: "Too Many Requests", HttpStatus: 429,
						RetryAfter: durationpb.New(due(i).Sub(now)), AttemptedAt: timestamppb.New(now), FailedAt: timestamppb.New(now),
					}
					if _, err := in.Failure(ctx, f, events.Metadata{}); err != nil {
						errMu.Lock()
						repErr = errors.Join(repErr, err)
						errMu.Unlock()
					}
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		rwg.Wait()
		if repErr != nil {
			return fmt.Errorf("retry bench: reporting failures: %w", repErr)
		}
		return nil
	}

	if b.History != nil {
		// An earlier failure of every record, due in an hour, then what happens in between.
		later := time.Now().Add(time.Hour)
		if err := report("early", func(int) time.Time { return later }); err != nil {
			return p, err
		}
		if err := svc.waitScheduled(ctx, deps.JS, names.Records, account, n, later.Add(time.Minute), time.Now().Add(time.Minute)); err != nil {
			return p, err
		}
		if err := b.History(ctx); err != nil {
			return p, fmt.Errorf("retry bench: history: %w", err)
		}
	}

	// Report the failures: the first attempt of failure i is due at first + i·spread/(n-1).
	start := time.Now()
	lead := b.Lead
	if lead <= 0 {
		lead = 3*time.Second + time.Duration(n)*300*time.Microsecond
	}
	first := start.Add(lead)
	err = report("a0", func(i int) time.Time {
		if n == 1 {
			return first
		}
		return first.Add(spread * time.Duration(i) / time.Duration(n-1))
	})
	p.Reporting = time.Since(start)
	if err != nil {
		return p, err
	}
	if err := svc.waitScheduled(ctx, deps.JS, names.Records, account, n, first.Add(spread+time.Second), first); err == nil {
		p.Scheduled = time.Since(start)
	}
	if time.Now().After(first) {
		return p, fmt.Errorf("retry bench: storing %d schedules took %s, longer than the lead time; the measurement would be wrong", n, time.Since(start))
	}

	deadline := time.NewTimer(time.Until(first.Add(spread + time.Minute)))
	defer deadline.Stop()
	var waitErr error
	select {
	case <-done:
	case <-deadline.C:
		waitErr = errors.New("retry bench: not every RetryDue arrived within a minute of its due time")
	case <-ctx.Done():
		waitErr = ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	p.Due = len(late)
	if len(late) > 0 {
		sorted := slices.Clone(late)
		slices.Sort(sorted)
		p.P50 = sorted[len(sorted)*50/100]
		p.P99 = sorted[min(len(sorted)*99/100, len(sorted)-1)]
		p.Max = sorted[len(sorted)-1]
	}
	return p, waitErr
}

// waitScheduled waits until the records handler (its consumer on EVENTS) handled every failure
// reported, then checks that the timers of n schedules of account are pending, each due before
// dueBefore. It gives up at until. (It asks for the consumer's state, not for the timers', while
// it waits: listing the timers' subjects is a large answer, and asking for it in a loop would
// load the server the bench measures.)
func (s *Service) waitScheduled(ctx context.Context, js jetstream.JetStream, consumer, account string, n int, dueBefore, until time.Time) error {
	for {
		cons, err := js.Consumer(ctx, "EVENTS", consumer)
		if err != nil {
			return err
		}
		if ci := cons.CachedInfo(); ci.NumPending == 0 && ci.NumAckPending == 0 {
			break
		}
		if time.Now().After(until) {
			return errors.New("retry bench: the schedules were not all stored in time")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	st, err := s.timers.Stream(ctx)
	if err != nil {
		return err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(s.timers.ScheduleFilter(account)))
	if err != nil {
		return err
	}
	pending := 0
	for subject := range info.State.Subjects {
		// <prefix>.sched.<kind>.<key>.<unix second>
		sec, err := strconv.ParseInt(subject[strings.LastIndexByte(subject, '.')+1:], 10, 64)
		if err == nil && time.Unix(sec, 0).Before(dueBefore) {
			pending++
		}
	}
	if pending < n {
		return fmt.Errorf("retry bench: %d of %d schedules have their timer", pending, n)
	}
	return nil
}
