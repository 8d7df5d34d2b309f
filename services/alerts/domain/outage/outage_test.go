package outage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/outage"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

var classifier = classify.Default()

func order(i int) *connectorv1.RecordRef {
	id := fmt.Sprint(1000 + i)
	return &connectorv1.RecordRef{
		AccountId: "merchant-1", AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
		ConnectionId: "wms-1", SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: id, OrderNumber: "#" + id,
	}
}

func report(ref *connectorv1.RecordRef, status int32, msg string, t time.Time) *connectorv1.RecordFailed {
	return &connectorv1.RecordFailed{Record: ref, AttemptId: fmt.Sprintf("%s@%d", ref.GetRecordId(), t.UnixNano()),
		HttpStatus: status, Message: msg, FailedAt: timestamppb.New(t)}
}

func unavailable(i int, t time.Time) *connectorv1.RecordFailed {
	return report(order(i), 503, "Service Unavailable", t)
}

func unauthorized(i int, t time.Time) *connectorv1.RecordFailed {
	return report(order(i), 401, "Unauthorized", t)
}

func success(i int, t time.Time) *connectorv1.RecordSucceeded {
	return &connectorv1.RecordSucceeded{Record: order(i), AttemptId: fmt.Sprint("ok-", i), SucceededAt: timestamppb.New(t)}
}

func newDetector(t *testing.T, cfg outage.Config) *outage.Detector {
	t.Helper()
	d, err := outage.New(outage.Stream("merchant-1", "wms-1"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func fail(t *testing.T, d *outage.Detector, r *connectorv1.RecordFailed, now time.Time, want outage.Outcome) {
	t.Helper()
	got, err := d.RecordFailure(r, classifier.Classify(r), now)
	if err != nil {
		t.Fatalf("RecordFailure(%s): %v", r.GetRecord().GetRecordId(), err)
	}
	if got != want {
		t.Fatalf("RecordFailure(%s at %v) = %v, want %v", r.GetRecord().GetRecordId(), r.GetFailedAt().AsTime(), got, want)
	}
}

func succeed(t *testing.T, d *outage.Detector, s *connectorv1.RecordSucceeded, now time.Time, want outage.Outcome) {
	t.Helper()
	got, err := d.RecordSuccess(s, now)
	if err != nil || got != want {
		t.Fatalf("RecordSuccess = %v, %v; want %v", got, err, want)
	}
}

// goDown fails records 0..n-1 of wms-1 a second apart from start; the last one crosses a
// threshold of n.
func goDown(t *testing.T, d *outage.Detector, n int, start time.Time, mk func(int, time.Time) *connectorv1.RecordFailed) {
	t.Helper()
	for i := range n {
		want := outage.Counted
		if i == n-1 {
			want = outage.WentDown
		}
		when := start.Add(time.Duration(i) * time.Second)
		fail(t, d, mk(i, when), when, want)
	}
}

func eventTypes(d *outage.Detector) []string {
	var out []string
	for _, m := range d.Changes() {
		out = append(out, events.ShortType(events.TypeName(m)))
	}
	return out
}

func last[T proto.Message](t *testing.T, d *outage.Detector) T {
	t.Helper()
	ch := d.Changes()
	m, ok := ch[len(ch)-1].(T)
	if !ok {
		t.Fatalf("last event is %T", ch[len(ch)-1])
	}
	return m
}

// replayed folds every event d raised into a fresh detector and checks it rebuilds the same
// state.
func replayed(t *testing.T, d *outage.Detector) {
	t.Helper()
	fresh := newDetector(t, outage.Config{})
	for i, m := range d.Changes() {
		if err := fresh.Apply(events.Record{Event: events.Event{Envelope: events.Envelope{EventType: events.TypeName(m), Version: uint64(i + 1)}, Message: m}}); err != nil {
			t.Fatalf("replaying event %d: %v", i+1, err)
		}
	}
	if !proto.Equal(fresh.Snapshot(), d.Snapshot()) {
		t.Fatalf("replay differs:\nlive   %v\nreplay %v", d.Snapshot(), fresh.Snapshot())
	}
}

func TestRecordFailure_thresholdRaisesConnectionDown(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		mk    func(int, time.Time) *connectorv1.RecordFailed
		class connectorv1.ErrorClass
	}{
		{"transient", unavailable, connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT},
		{"auth", unauthorized, connectorv1.ErrorClass_ERROR_CLASS_AUTH},
		{"mixed", func(i int, t time.Time) *connectorv1.RecordFailed {
			if i%2 == 0 {
				return unauthorized(i, t)
			}
			return unavailable(i, t)
		}, connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDetector(t, outage.Config{})
			goDown(t, d, outage.DefaultThreshold, at(0), tc.mk)
			if n := len(d.Changes()); n != outage.DefaultThreshold+1 {
				t.Fatalf("%d events, want %d ConnectionFailureObserved and a ConnectionDown", n, outage.DefaultThreshold)
			}
			down := last[*alertsv1.ConnectionDown](t, d)
			if got := len(down.GetCoveredRecords()); got != outage.DefaultThreshold {
				t.Fatalf("ConnectionDown covers %d records", got)
			}
			for i, r := range down.GetCoveredRecords() {
				if r.GetRecord().GetRecordId() != order(i).GetRecordId() || r.GetRecordKey() != connector.RecordKeyOf(order(i)) ||
					r.GetAlertId() != alert.IDOf(order(i), r.GetAlertType()) {
					t.Fatalf("covered[%d] = %v", i, r)
				}
			}
			wantDownAt := at(time.Duration(outage.DefaultThreshold-1) * time.Second)
			o := down.GetOutage()
			if o.GetNumber() != 1 || o.GetConnectionId() != "wms-1" || !o.GetDownAt().AsTime().Equal(wantDownAt) ||
				o.GetConnectionAlertId() != alert.ConnectionAlertID("merchant-1", "wms-1") || down.GetErrorClass() != tc.class ||
				down.GetThreshold() != 20 || down.GetWindow().AsDuration() != 5*time.Minute || down.GetConnection().GetSystem() != "sandbox-wms" {
				t.Fatalf("ConnectionDown: %v", down)
			}
			if !d.Down() || d.Snapshot().GetStatus() != alertsv1.ConnectionStatus_CONNECTION_STATUS_DOWN || len(d.Snapshot().GetWindowRecords()) != 0 {
				t.Fatalf("state: %v", d.Snapshot())
			}
			replayed(t, d)
		})
	}
}

func TestRecordFailure_onlyTransientAndAuthCount(t *testing.T) {
	t.Parallel()
	d := newDetector(t, outage.Config{Threshold: 2})
	for i, r := range []*connectorv1.RecordFailed{
		report(order(0), 422, "Ship method 'X' is not mapped", at(0)),
		report(order(1), 429, "Too Many Requests", at(0)),
		report(order(2), 400, "Bad Request", at(0)),
		report(order(3), 0, "Address validation failed: ZIP code is invalid", at(0)),
	} {
		fail(t, d, r, at(time.Duration(i)), outage.Ignored)
	}
	if len(d.Changes()) != 0 || d.Snapshot() != nil {
		t.Fatalf("non-counting failures raised %v", eventTypes(d))
	}
}

func TestRecordFailure_windowSlides(t *testing.T) {
	t.Parallel()
	d := newDetector(t, outage.Config{})
	for i := range 19 {
		fail(t, d, unavailable(i, at(0)), at(0), outage.Counted)
	}
	// Five minutes and a second later the first 19 have left the window: one record counts.
	fail(t, d, unavailable(19, at(5*time.Minute+time.Second)), at(5*time.Minute+time.Second), outage.Counted)
	if w := d.Snapshot().GetWindowRecords(); len(w) != 1 || d.Down() {
		t.Fatalf("window holds %d records, down %v; want 1, up", len(w), d.Down())
	}
	// A failure from before the window does not count.
	fail(t, d, unavailable(20, at(500*time.Millisecond)), at(6*time.Minute), outage.Ignored)
	// Records failing across the window's span still reach the threshold.
	for i := 21; i < 39; i++ {
		when := at(5*time.Minute + time.Duration(i-20)*10*time.Second)
		fail(t, d, unavailable(i, when), when, outage.Counted)
	}
	when := at(5*time.Minute + 19*10*time.Second)
	fail(t, d, unavailable(39, when), when, outage.WentDown)
	if got := len(last[*alertsv1.ConnectionDown](t, d).GetCoveredRecords()); got != 20 {
		t.Fatalf("ConnectionDown covers %d, want 20", got)
	}
	replayed(t, d)
}

func TestRecordFailure_sameRecordCountsOnce(t *testing.T) {
	t.Parallel()
	d := newDetector(t, outage.Config{})
	fail(t, d, unavailable(0, at(0)), at(0), outage.Counted)
	fail(t, d, unavailable(0, at(time.Minute)), at(time.Minute), outage.Ignored) // within half a window
	fail(t, d, unavailable(0, at(3*time.Minute)), at(3*time.Minute), outage.Counted)
	w := d.Snapshot().GetWindowRecords()
	if len(w) != 1 || !w[0].GetFailedAt().AsTime().Equal(at(3*time.Minute)) {
		t.Fatalf("window %v, want the record once, at its refreshed time", w)
	}
	for i := 1; i < 19; i++ {
		fail(t, d, unavailable(i, at(4*time.Minute)), at(4*time.Minute), outage.Counted)
	}
	// 19 distinct records, however often record 0 failed.
	if d.Down() || len(d.Snapshot().GetWindowRecords()) != 19 {
		t.Fatalf("down %v with %d records", d.Down(), len(d.Snapshot().GetWindowRecords()))
	}
}

func TestRecordFailure_whileDownJoinsTheOutage(t *testing.T) {
	t.Parallel()
	d := newDetector(t, outage.Config{})
	goDown(t, d, 20, at(0), unavailable)
	n := len(d.Changes())
	fail(t, d, unavailable(3, at(time.Minute)), at(time.Minute), outage.Ignored) // already covered
	fail(t, d, unauthorized(100, at(2*time.Minute)), at(2*time.Minute), outage.Covered)
	fail(t, d, unavailable(100, at(3*time.Minute)), at(3*time.Minute), outage.Ignored)
	fail(t, d, report(order(101), 422, "SKU 'X' not found", at(3*time.Minute)), at(3*time.Minute), outage.Ignored)
	if ev := eventTypes(d)[n:]; !slices.Equal(ev, []string{"RecordCoveredByOutage"}) {
		t.Fatalf("events %v", ev)
	}
	c := last[*alertsv1.RecordCoveredByOutage](t, d)
	if !c.GetListed() || c.GetOutage().GetNumber() != 1 || c.GetRecord().GetAlertId() != alert.IDOf(order(100), "auth_failed") ||
		c.GetConnection().GetConnectionId() != "wms-1" {
		t.Fatalf("RecordCoveredByOutage: %v", c)
	}
	if s := d.Snapshot(); s.GetCoveredTotal() != 21 || len(s.GetCoveredRecords()) != 21 {
		t.Fatalf("covered %d listed of %d", len(s.GetCoveredRecords()), s.GetCoveredTotal())
	}
	replayed(t, d)
}

func TestRecordSuccess_endsTheOutage(t *testing.T) {
	t.Parallel()
	d := newDetector(t, outage.Config{})
	succeed(t, d, success(0, at(0)), at(0), outage.Ignored) // up: nothing to end
	goDown(t, d, 20, at(time.Minute), unavailable)
	fail(t, d, unavailable(50, at(5*time.Minute)), at(5*time.Minute), outage.Covered)
	downAt := d.Outage().GetDownAt().AsTime()
	succeed(t, d, success(7, downAt.Add(-time.Second)), at(6*time.Minute), outage.Ignored) // older than the outage
	succeed(t, d, success(7, at(time.Hour)), at(time.Hour+time.Second), outage.Recovered)

	rec := last[*alertsv1.ConnectionRecovered](t, d)
	if len(rec.GetCoveredRecords()) != 21 || rec.GetCoveredTotal() != 21 || rec.GetCoveredTruncated() ||
		!rec.GetRecoveredAt().AsTime().Equal(at(time.Hour)) || rec.GetRecoveredBy().GetRecordId() != order(7).GetRecordId() ||
		rec.GetAttemptId() != "ok-7" || rec.GetOutage().GetNumber() != 1 || rec.GetCoveredRecords()[20].GetRecord().GetRecordId() != order(50).GetRecordId() {
		t.Fatalf("ConnectionRecovered: %v", rec)
	}
	s := d.Snapshot()
	if d.Down() || s.GetCoveredTotal() != 0 || len(s.GetCoveredRecords()) != 0 || !s.GetLastRecoveredAt().AsTime().Equal(at(time.Hour)) || s.GetOutages() != 1 {
		t.Fatalf("state after recovery: %v", s)
	}
	succeed(t, d, success(8, at(2*time.Hour)), at(2*time.Hour), outage.Ignored)
	// A second outage gets the next number.
	goDown(t, d, 20, at(3*time.Hour), unavailable)
	if n := d.Outage().GetNumber(); n != 2 {
		t.Fatalf("second outage numbered %d", n)
	}
	replayed(t, d)
}

func TestRecordFailure_listsAtMostMaxListed(t *testing.T) {
	t.Parallel()
	d := newDetector(t, outage.Config{Threshold: 2, MaxListed: 3})
	goDown(t, d, 2, at(0), unavailable)
	for i := 2; i < 6; i++ {
		fail(t, d, unavailable(i, at(time.Minute)), at(time.Minute), outage.Covered)
	}
	succeed(t, d, success(0, at(time.Hour)), at(time.Hour), outage.Recovered)
	rec := last[*alertsv1.ConnectionRecovered](t, d)
	if len(rec.GetCoveredRecords()) != 3 || rec.GetCoveredTotal() != 6 || !rec.GetCoveredTruncated() {
		t.Fatalf("listed %d of %d, truncated %v; want 3 of 6, truncated", len(rec.GetCoveredRecords()), rec.GetCoveredTotal(), rec.GetCoveredTruncated())
	}
	replayed(t, d)
}

func TestCommands_refuseOtherConnections(t *testing.T) {
	t.Parallel()
	d := newDetector(t, outage.Config{})
	other := unavailable(0, at(0))
	other.Record.ConnectionId = "wms-2"
	foreign := unavailable(0, at(0))
	foreign.Record.AccountId = "merchant-2"
	bad := unavailable(0, at(0))
	bad.FailedAt = nil
	cases := []struct {
		name  string
		err   error
		field string
	}{
		{"another connection", errOf(d.RecordFailure(other, classifier.Classify(other), at(0))), "record.connection_id"},
		{"another account", errOf(d.RecordFailure(foreign, classifier.Classify(foreign), at(0))), "record.account_id"},
		{"invalid report", errOf(d.RecordFailure(bad, classifier.Classify(bad), at(0))), "failed_at"},
		{"no classification", errOf(d.RecordFailure(unavailable(0, at(0)), classify.Result{}, at(0))), "result.alert_type"},
		{"no time", errOf(d.RecordSuccess(success(0, at(0)), time.Time{})), "now"},
	}
	for _, tc := range cases {
		var fe *connector.FieldError
		if !errors.Is(tc.err, events.ErrInvalidArgument) || !errors.As(tc.err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: err = %v, want an invalid %s", tc.name, tc.err, tc.field)
		}
	}
}

func errOf(_ outage.Outcome, err error) error { return err }

func TestConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg outage.Config
		ok  bool
	}{
		{outage.Config{}, true},
		{outage.DefaultConfig(), true},
		{outage.Config{Threshold: 1}, false},
		{outage.Config{Window: -time.Second}, false},
		{outage.Config{Threshold: 50, MaxListed: 10}, false},
		{outage.Config{MaxListed: 20000}, false},
		{outage.Config{Threshold: 2000}, true}, // MaxListed defaults to at least the threshold
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v", tc.cfg, err)
		}
	}
}

func TestRepository_detectsThroughTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New(events.NewRegistry(outage.EventTypes()...))
	factory, err := outage.NewFactory(outage.Config{Threshold: 5})
	if err != nil {
		t.Fatal(err)
	}
	var repos []*aggregate.Repository[*outage.Detector]
	for range 2 {
		repo, err := aggregate.NewRepository(store, factory, aggregate.Config{CacheSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		repos = append(repos, repo)
	}
	stream := outage.Stream("merchant-1", "wms-1")
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		outcomes = map[outage.Outcome]int{}
	)
	for i := range 12 {
		wg.Go(func() {
			r := unavailable(i, at(time.Duration(i)*time.Second))
			var out outage.Outcome
			if err := repos[i%2].Update(ctx, stream, events.Metadata{}, func(d *outage.Detector) error {
				var err error
				out, err = d.RecordFailure(r, classifier.Classify(r), at(time.Minute))
				return err
			}); err != nil {
				t.Errorf("failure %d: %v", i, err)
			}
			mu.Lock()
			outcomes[out]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if outcomes[outage.WentDown] != 1 || outcomes[outage.Counted] != 4 || outcomes[outage.Covered] != 7 {
		t.Fatalf("outcomes %v; want 4 counted, 1 went down, 7 covered", outcomes)
	}
	root, _, err := repos[0].Read(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if s := root.Snapshot(); !root.Down() || s.GetCoveredTotal() != 12 {
		t.Fatalf("loaded %v", s)
	}
}
