package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	alertsservice "github.com/reboundhq/rebound/services/alerts/service"
	ordersservice "github.com/reboundhq/rebound/services/orders/service"
	retryservice "github.com/reboundhq/rebound/services/retry/service"
)

// pipeline is the alerts and retry services running on the bench server behind the ingest
// subjects, as one rebound process runs them.
type pipeline struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	account string
	cancel  context.CancelFunc
	done    chan error

	mu      sync.Mutex
	sent    map[string]time.Time // record key -> when its failure was published
	seen    map[string]int       // record key -> 1 alert raised, 2 retry scheduled (bits)
	latency []time.Duration
	allDone chan struct{}
	want    int
}

// startPipeline runs the ingest handler and the alerts and retry services on one bus.
func startPipeline(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, store *natsstore.Store, log *slog.Logger) (*pipeline, error) {
	in, err := ingest.New(store)
	if err != nil {
		return nil, err
	}
	if _, err := ingest.EnsureStream(ctx, js); err != nil {
		return nil, err
	}
	alerts, err := alertsservice.New(alertsservice.Deps{Store: store, JS: js, Ingester: in, Log: log}, alertsservice.Config{})
	if err != nil {
		return nil, err
	}
	retry, err := retryservice.New(retryservice.Deps{Store: store, JS: js, Log: log}, retryservice.Config{})
	if err != nil {
		return nil, err
	}
	b, err := bus.New(js, benchRegistry(), log, bus.Config{})
	if err != nil {
		return nil, err
	}
	handlers := append([]bus.Handler{ingest.Handler(in, 32)}, alerts.Handlers()...)
	for _, h := range append(handlers, retry.Handlers()...) {
		if err := b.Handle(h); err != nil {
			return nil, err
		}
	}
	p := &pipeline{nc: nc, js: js, account: fmt.Sprintf("bench-%d", time.Now().UnixNano()%1_000_000), done: make(chan error, 3)}
	if err := p.watch(); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for _, run := range []func(context.Context) error{b.Run, alerts.Run, retry.Run} {
		go func() { p.done <- run(runCtx) }()
	}
	return p, nil
}

// benchRegistry knows every event type the figures write.
func benchRegistry() *events.Registry {
	reg := events.NewRegistry(alertsservice.EventTypes()...)
	reg.Include(retryservice.Registry(), ingest.Registry(), ordersservice.Registry())
	return reg
}

// stop stops the services and waits for them.
func (p *pipeline) stop() error {
	p.cancel()
	var errs []error
	for range 3 {
		if err := <-p.done; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// watch subscribes to the bench account's AlertRaised and RetryScheduled events: core NATS
// subscribers see what JetStream stores on their subjects.
func (p *pipeline) watch() error {
	mark := func(bit int) nats.MsgHandler {
		return func(m *nats.Msg) {
			stream, _, err := events.ParseSubject(m.Subject)
			if err != nil {
				return
			}
			key := stream.ID
			if bit == 1 { // an alert's id is not the record key: the header-less way is the payload
				key = alertRecordKey(m.Data)
			}
			p.observe(key, bit)
		}
	}
	if _, err := p.nc.Subscribe(fmt.Sprintf("evt.alert.%s.*.AlertRaised", p.account), mark(1)); err != nil {
		return err
	}
	_, err := p.nc.Subscribe(fmt.Sprintf("evt.retry.%s.*.RetryScheduled", p.account), mark(2))
	return err
}

// alertRecordKey reads the record key of an AlertRaised payload.
func alertRecordKey(data []byte) string {
	var raised alertsv1.AlertRaised
	if err := proto.Unmarshal(data, &raised); err != nil {
		return ""
	}
	return connector.RecordKeyOf(raised.GetAlert().GetRecord())
}

// observe records that one of a failure's two results was stored; the second completes it.
func (p *pipeline) observe(key string, bit int) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	sent, ok := p.sent[key]
	if !ok || p.seen[key]&bit != 0 {
		return
	}
	p.seen[key] |= bit
	if p.seen[key] == 3 {
		p.latency = append(p.latency, now.Sub(sent))
		if len(p.latency) == p.want && p.allDone != nil {
			close(p.allDone)
		}
	}
}

// failure is the report of record i: a 503 from the WMS, on one of many connections so that
// no connection sees enough failing records for an outage.
func (p *pipeline) failure(run string, i int) *connectorv1.RecordFailed {
	now := timestamppb.Now()
	return &connectorv1.RecordFailed{
		Record: &connectorv1.RecordRef{
			AccountId: p.account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
			ConnectionId: fmt.Sprintf("wms-%s-%d", run, i/10), SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
			RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: fmt.Sprintf("%s-%d", run, i), OrderNumber: fmt.Sprintf("#%d", i),
		},
		AttemptId: "a1", Message: "503 Service Unavailable", Code: "SERVICE_UNAVAILABLE", HttpStatus: 503,
		AttemptedAt: now, FailedAt: now,
	}
}

// measure publishes n failures on the ingest subject, one every `every` (0: as fast as
// possible), and waits until each has its alert raised and its retry scheduled. It returns the
// failures per second and each one's latency.
func (p *pipeline) measure(ctx context.Context, run string, n int, every time.Duration) (float64, []time.Duration, error) {
	p.mu.Lock()
	p.sent, p.seen, p.latency, p.want, p.allDone = make(map[string]time.Time, n), make(map[string]int, n), nil, n, make(chan struct{})
	allDone := p.allDone
	p.mu.Unlock()
	start := time.Now()
	for i := range n {
		if every > 0 {
			if wait := time.Until(start.Add(time.Duration(i) * every)); wait > 0 {
				time.Sleep(wait)
			}
		}
		f := p.failure(run, i)
		data, err := proto.Marshal(f)
		if err != nil {
			return 0, nil, err
		}
		p.mu.Lock()
		p.sent[connector.RecordKeyOf(f.GetRecord())] = time.Now()
		p.mu.Unlock()
		if _, err := p.js.PublishAsync(ingest.SubjectFailed, data); err != nil {
			return 0, nil, err
		}
	}
	select {
	case <-allDone:
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	case <-time.After(3*time.Minute + time.Duration(n)*every):
		p.mu.Lock()
		got := len(p.latency)
		p.mu.Unlock()
		return 0, nil, fmt.Errorf("pipeline: %d of %d failures had their alert and retry stored after 3 minutes", got, n)
	}
	elapsed := time.Since(start)
	p.mu.Lock()
	defer p.mu.Unlock()
	lat := slices.Clone(p.latency)
	slices.Sort(lat)
	return float64(n) / elapsed.Seconds(), lat, nil
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// pipelineFigures measures the pipeline's throughput on a burst of n failures, then its latency
// at half that rate.
func pipelineFigures(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, store *natsstore.Store, n int, asyncPub Result) ([]Result, error) {
	p, err := startPipeline(ctx, nc, js, store, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer p.stop()
	run := fmt.Sprint(time.Now().UnixNano() % 1_000_000)
	// Warm up: consumers created, caches and timers primed.
	if _, _, err := p.measure(ctx, run+"w", 200, 0); err != nil {
		return nil, err
	}
	rate, burst, err := p.measure(ctx, run+"b", n, 0)
	if err != nil {
		return nil, err
	}
	half := rate / 2
	paced := max(int(half*10), 200) // about ten seconds at half the rate
	_, lat, err := p.measure(ctx, run+"h", paced, time.Duration(float64(time.Second)/half))
	if err != nil {
		return nil, err
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	name := "end to end: failure published → alert raised + retry scheduled"
	return []Result{
		Result{Name: name, Value: rate, Unit: "failures/s"}.withBaseline(asyncPub, target(0.10)),
		{Name: fmt.Sprintf("%s, p50 latency in a burst of %d", name, n), Value: ms(percentile(burst, 0.50)), Unit: "ms"},
		Result{Name: fmt.Sprintf("%s, p50 latency at half that rate", name), Value: ms(percentile(lat, 0.50)), Unit: "ms"},
		Result{Name: fmt.Sprintf("%s, p99 latency at half that rate", name), Value: ms(percentile(lat, 0.99)), Unit: "ms"}.withCeiling(100),
	}, nil
}
