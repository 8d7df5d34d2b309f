// Package synth generates consistent synthetic event histories — alerts, retry schedules and
// connection outages of many accounts — for the read models' tests and benchmarks. The same seed
// gives the same history.
package synth

import (
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
)

// Event is one generated event and its stream.
type Event struct {
	Stream  events.StreamID
	Message proto.Message
	At      time.Time
}

// Config shapes a history.
type Config struct {
	// Events is how many events to generate.
	Events int
	// Warehouses, MerchantsPerWarehouse and LoneMerchants shape the accounts: merchants of a
	// warehouse carry its id; lone merchants have none. Defaults 3, 4, 2.
	Warehouses, MerchantsPerWarehouse, LoneMerchants int
	// Records is how many distinct records each connection has; default 50.
	Records int
	// AlertsOnly generates only alert events (no retry or outage events).
	AlertsOnly bool
	// Seed makes the history; the same seed gives the same history.
	Seed uint64
}

// Generate returns a history.
func Generate(cfg Config) []Event {
	g := New(cfg)
	out := make([]Event, 0, cfg.Events)
	for range cfg.Events {
		out = append(out, g.Next())
	}
	return out
}

// Generator produces a history event by event, keeping only the state it needs to stay
// consistent (so a million events need no million-event slice).
type Generator struct{ g *gen }

// New returns a generator; cfg.Events is ignored (call Next as often as needed).
func New(cfg Config) *Generator {
	if cfg.Warehouses == 0 {
		cfg.Warehouses = 3
	}
	if cfg.MerchantsPerWarehouse == 0 {
		cfg.MerchantsPerWarehouse = 4
	}
	if cfg.LoneMerchants == 0 {
		cfg.LoneMerchants = 2
	}
	if cfg.Records == 0 {
		cfg.Records = 50
	}
	g := &gen{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), alerts: map[string]*alertState{}, retries: map[string]*retryState{}}
	g.accounts()
	return &Generator{g: g}
}

// Next returns the next event.
func (x *Generator) Next() Event {
	g := x.g
	for len(g.out) == 0 {
		g.step()
	}
	e := g.out[0]
	g.out[0] = Event{}
	g.out = g.out[1:]
	if len(g.out) == 0 {
		g.out = g.out[:0:0]
	}
	return e
}

// ToEvents turns generated events into events to append, with deterministic ids.
func ToEvents(evs []Event, seed uint64) []events.Event {
	out := make([]events.Event, len(evs))
	for i, e := range evs {
		ev := events.NewEvent(e.Message, events.Metadata{})
		ev.EventID = events.DeterministicEventID("synth", fmt.Sprint(seed), fmt.Sprint(i))
		ev.OccurredAt = e.At
		out[i] = ev
	}
	return out
}

type connection struct {
	ref     *connectorv1.RecordRef // account and connection fields
	down    bool
	outages uint32
	downAt  *timestamppb.Timestamp
	covered uint32
}

type alertState struct {
	ref         *alertsv1.AlertRef
	open        bool
	occurrences uint32
	reopens     uint32
	attention   bool
	escalated   bool
	firstSeen   *timestamppb.Timestamp
}

type retryState struct {
	record  *connectorv1.RecordRef
	id      string
	window  uint32
	attempt uint32
	active  bool
}

type gen struct {
	cfg     Config
	rnd     *rand.Rand
	now     time.Time
	conns   []*connection
	alerts  map[string]*alertState
	open    []string // alert ids, possibly closed meanwhile
	retries map[string]*retryState
	orders  []*orderState
	out     []Event
	attempt int
}

func (g *gen) accounts() {
	add := func(account string, kind connectorv1.AccountKind, warehouse string) {
		for i, sys := range []struct {
			kind connectorv1.SystemKind
			name string
		}{{connectorv1.SystemKind_SYSTEM_KIND_WMS, "sandbox-wms"}, {connectorv1.SystemKind_SYSTEM_KIND_CART, "shopify"}} {
			g.conns = append(g.conns, &connection{ref: &connectorv1.RecordRef{
				AccountId: account, AccountKind: kind, WarehouseId: warehouse,
				ConnectionId: fmt.Sprintf("%s-c%d", account, i+1), SystemKind: sys.kind, System: sys.name,
			}})
		}
	}
	for w := range g.cfg.Warehouses {
		wh := fmt.Sprintf("wh-%d", w+1)
		add(wh, connectorv1.AccountKind_ACCOUNT_KIND_WAREHOUSE, "")
		for m := range g.cfg.MerchantsPerWarehouse {
			add(fmt.Sprintf("m-%d-%d", w+1, m+1), connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, wh)
		}
	}
	for m := range g.cfg.LoneMerchants {
		add(fmt.Sprintf("lone-%d", m+1), connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, "")
	}
}

var alertTypes = []struct {
	name  string
	class connectorv1.ErrorClass
}{
	{"wms_unavailable", connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT},
	{"rate_limited", connectorv1.ErrorClass_ERROR_CLASS_RATE_LIMITED},
	{"auth_failed", connectorv1.ErrorClass_ERROR_CLASS_AUTH},
	{"ship_method_unmapped", connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION},
	{"address_invalid", connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION},
	{"validation_failed", connectorv1.ErrorClass_ERROR_CLASS_REJECTED},
}

func (g *gen) emit(aggregate, account, id string, msg proto.Message) {
	g.out = append(g.out, Event{Stream: events.StreamID{AggregateType: aggregate, Account: account, ID: id}, Message: msg, At: g.now})
}

func (g *gen) ts() *timestamppb.Timestamp { return timestamppb.New(g.now) }

func (g *gen) record(c *connection) *connectorv1.RecordRef {
	r := proto.CloneOf(c.ref)
	n := g.rnd.IntN(g.cfg.Records)
	if c.ref.GetSystemKind() == connectorv1.SystemKind_SYSTEM_KIND_WMS {
		r.RecordKind = connectorv1.RecordKind_RECORD_KIND_ORDER
		r.RecordId = fmt.Sprintf("o%d", n)
		r.OrderNumber = fmt.Sprintf("#%s-%d", c.ref.GetAccountId(), 1000+n)
	} else {
		r.RecordKind = connectorv1.RecordKind_RECORD_KIND_INVENTORY
		r.RecordId = fmt.Sprintf("i%d", n)
		r.Sku = fmt.Sprintf("SKU-%d", n)
	}
	return r
}

func (g *gen) step() {
	g.now = g.now.Add(time.Duration(1+g.rnd.IntN(30)) * time.Second)
	switch x := g.rnd.IntN(100); {
	case x < 45:
		g.failure()
	case x < 60:
		g.success()
	case x < 66:
		g.closeOne(true)
	case x < 74:
		g.attention()
	case x < 78:
		g.escalate()
	case x < 88 && !g.cfg.AlertsOnly:
		g.attemptDue()
	case x < 94 && !g.cfg.AlertsOnly:
		g.order()
	case !g.cfg.AlertsOnly:
		g.outage()
	default:
		g.failure()
	}
}

func (g *gen) failure() {
	c := g.conns[g.rnd.IntN(len(g.conns))]
	rec := g.record(c)
	t := alertTypes[g.rnd.IntN(len(alertTypes))]
	id := fmt.Sprintf("alt_%s_%s_%s_%s", rec.GetAccountId(), rec.GetConnectionId(), rec.GetRecordId(), t.name)
	g.attempt++
	f := &alertsv1.Failure{AttemptId: fmt.Sprintf("att-%d", g.attempt), Message: "Service said no: " + t.name,
		Code: t.name, HttpStatus: 400 + int32(g.rnd.IntN(200)), RuleId: "rule-" + t.name, FailedAt: g.ts()}
	a := g.alerts[id]
	ref := &alertsv1.AlertRef{AlertId: id, Record: rec, AlertType: t.name, ErrorClass: t.class, Immediate: t.class == connectorv1.ErrorClass_ERROR_CLASS_AUTH}
	switch {
	case a == nil || (!a.open && g.rnd.IntN(2) == 0):
		inc := uint32(1)
		if a != nil {
			inc = a.ref.GetIncarnation() + 1
		}
		ref.Incarnation = inc
		a = &alertState{ref: ref, open: true, occurrences: 1, firstSeen: f.GetFailedAt()}
		g.alerts[id] = a
		g.open = append(g.open, id)
		g.emit("alert", rec.GetAccountId(), id, &alertsv1.AlertRaised{Alert: ref, Failure: f, RaisedAt: g.ts()})
		if c.down && (t.class == connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT || t.class == connectorv1.ErrorClass_ERROR_CLASS_AUTH) {
			g.emit("alert", rec.GetAccountId(), id, &alertsv1.AlertCoveredByOutage{Alert: ref, Outage: g.outageRef(c), CoveredAt: g.ts()})
		}
	case a.open:
		ref.Incarnation = a.ref.GetIncarnation()
		a.occurrences++
		g.emit("alert", rec.GetAccountId(), id, &alertsv1.AlertOccurred{Alert: ref, Failure: f, Occurrences: a.occurrences, LastSeenAt: g.ts(), RecordedAt: g.ts()})
	default:
		ref.Incarnation = a.ref.GetIncarnation()
		a.open, a.attention, a.escalated = true, false, false
		a.occurrences++
		a.reopens++
		g.open = append(g.open, id)
		g.emit("alert", rec.GetAccountId(), id, &alertsv1.AlertReopened{Alert: ref, Failure: f, PreviousStatus: alertsv1.AlertStatus_ALERT_STATUS_RESOLVED,
			ClosedAt: g.ts(), ReopenCount: a.reopens, Occurrences: a.occurrences, ReopenedAt: g.ts()})
	}
	a.ref = ref
	if g.cfg.AlertsOnly {
		return
	}
	g.retryFailure(rec, t.class, t.name, f)
	if t.class == connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT || t.class == connectorv1.ErrorClass_ERROR_CLASS_AUTH {
		g.emit("outage", rec.GetAccountId(), rec.GetConnectionId(), &alertsv1.ConnectionFailureObserved{ConnectionId: rec.GetConnectionId(),
			Record:      &alertsv1.FailingRecord{Record: rec, RecordKey: rec.GetRecordId(), AlertId: id, AlertType: t.name, ErrorClass: t.class, FailedAt: g.ts()},
			WindowStart: timestamppb.New(g.now.Add(-5 * time.Minute))})
	}
}

func (g *gen) window(r *retryState) *retryv1.RetryWindow {
	return &retryv1.RetryWindow{Number: r.window, StartedAt: g.ts(), FirstFailureAt: g.ts(), Deadline: timestamppb.New(g.now.Add(15 * 24 * time.Hour).Truncate(time.Second)),
		Attempts: r.attempt, ConsecutiveFailures: 1, Policy: &retryv1.RetryPolicy{Mode: retryv1.PolicyMode_POLICY_MODE_TIMER, Interval: durationpb.New(time.Hour), Jitter: 0.1,
			MaxAge: durationpb.New(15 * 24 * time.Hour), MaxConsecutiveFailures: 100}}
}

func (g *gen) retryFailure(rec *connectorv1.RecordRef, class connectorv1.ErrorClass, alertType string, af *alertsv1.Failure) {
	id := "rec_" + rec.GetConnectionId() + "_" + rec.GetRecordId()
	r := g.retries[id]
	if r == nil {
		r = &retryState{record: rec, id: id}
		g.retries[id] = r
	}
	if !r.active {
		r.window++
		r.attempt = 0
		r.active = true
	}
	f := &retryv1.Failure{AttemptId: af.GetAttemptId(), Message: af.GetMessage(), Code: af.GetCode(), HttpStatus: af.GetHttpStatus(), FailedAt: af.GetFailedAt(), Class: class, AlertType: alertType}
	switch class {
	case connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION:
		g.emit("retry", rec.GetAccountId(), id, &retryv1.RetryHeld{Record: rec, Failure: f, Window: g.window(r), HeldAt: g.ts()})
	case connectorv1.ErrorClass_ERROR_CLASS_REJECTED:
		r.active = false
		g.emit("retry", rec.GetAccountId(), id, &retryv1.RetryExhausted{Record: rec, Failure: f, Window: g.window(r), Reason: retryv1.ExhaustedReason_EXHAUSTED_REASON_REJECTED, ExhaustedAt: g.ts()})
	default:
		next := timestamppb.New(g.now.Add(time.Hour).Truncate(time.Second))
		g.emit("retry", rec.GetAccountId(), id, &retryv1.RetryScheduled{Record: rec, Failure: f, Window: g.window(r), Attempt: r.attempt + 1, NextAttemptAt: next,
			Jitter: durationpb.New(time.Second), Reason: retryv1.ScheduleReason_SCHEDULE_REASON_FAILURE, ScheduledAt: g.ts()})
	}
}

func (g *gen) attemptDue() {
	for range 5 {
		c := g.conns[g.rnd.IntN(len(g.conns))]
		rec := g.record(c)
		r := g.retries["rec_"+rec.GetConnectionId()+"_"+rec.GetRecordId()]
		if r == nil || !r.active {
			continue
		}
		r.attempt++
		g.emit("retry", rec.GetAccountId(), r.id, &retryv1.RetryAttemptDue{Record: r.record, Window: r.window, Attempt: r.attempt,
			AttemptId: fmt.Sprintf("%s-w%d-a%d", r.id, r.window, r.attempt), DueAt: g.ts(), FiredAt: g.ts(), Trigger: retryv1.AttemptTrigger_ATTEMPT_TRIGGER_TIMER,
			Deadline: timestamppb.New(g.now.Add(24 * time.Hour).Truncate(time.Second)), NextAttemptAt: timestamppb.New(g.now.Add(time.Hour).Truncate(time.Second))})
		return
	}
	g.failure()
}

// pickOpen returns an open alert, or nil.
func (g *gen) pickOpen() *alertState {
	for range 8 {
		if len(g.open) == 0 {
			return nil
		}
		i := g.rnd.IntN(len(g.open))
		a := g.alerts[g.open[i]]
		if a.open {
			return a
		}
		g.open[i] = g.open[len(g.open)-1]
		g.open = g.open[:len(g.open)-1]
	}
	return nil
}

func (g *gen) success() {
	a := g.pickOpen()
	if a == nil {
		g.failure()
		return
	}
	a.open = false
	rec := a.ref.GetRecord()
	g.emit("alert", rec.GetAccountId(), a.ref.GetAlertId(), &alertsv1.AlertResolved{Alert: a.ref, Cause: alertsv1.ResolutionCause_RESOLUTION_CAUSE_RECORD_SUCCEEDED,
		AttemptId: fmt.Sprintf("ok-%d", len(g.out)), ResolvedAt: g.ts(), FirstSeenAt: a.firstSeen, Occurrences: a.occurrences, RecordedAt: g.ts()})
	if g.cfg.AlertsOnly {
		return
	}
	if r := g.retries["rec_"+rec.GetConnectionId()+"_"+rec.GetRecordId()]; r != nil && r.active {
		r.active = false
		g.emit("retry", rec.GetAccountId(), r.id, &retryv1.RetryCompleted{Record: r.record, AttemptId: fmt.Sprintf("ok-%d", len(g.out)), SucceededAt: g.ts(), Window: r.window, Attempts: r.attempt, CompletedAt: g.ts()})
	}
}

func (g *gen) closeOne(dismiss bool) {
	a := g.pickOpen()
	if a == nil {
		g.failure()
		return
	}
	a.open = false
	g.emit("alert", a.ref.GetRecord().GetAccountId(), a.ref.GetAlertId(), &alertsv1.AlertDismissed{Alert: a.ref, DismissedBy: "ops@example.com", Reason: "known issue", DismissedAt: g.ts()})
}

func (g *gen) attention() {
	a := g.pickOpen()
	if a == nil || a.attention {
		g.failure()
		return
	}
	a.attention = true
	g.emit("alert", a.ref.GetRecord().GetAccountId(), a.ref.GetAlertId(), &alertsv1.AlertNeedsAttention{Alert: a.ref,
		Reason: alertsv1.AttentionReason_ATTENTION_REASON_GRACE_PERIOD_EXCEEDED, FirstSeenAt: a.firstSeen, Occurrences: a.occurrences, NeedsAttentionAt: g.ts()})
}

func (g *gen) escalate() {
	a := g.pickOpen()
	if a == nil || a.escalated {
		g.failure()
		return
	}
	a.escalated = true
	rec := a.ref.GetRecord()
	g.emit("alert", rec.GetAccountId(), a.ref.GetAlertId(), &alertsv1.AlertEscalated{Alert: a.ref, Reason: "retries_exhausted: 15 days of trying",
		FirstSeenAt: a.firstSeen, Occurrences: a.occurrences, EscalatedAt: g.ts()})
	if g.cfg.AlertsOnly {
		return
	}
	if r := g.retries["rec_"+rec.GetConnectionId()+"_"+rec.GetRecordId()]; r != nil && r.active {
		r.active = false
		g.emit("retry", rec.GetAccountId(), r.id, &retryv1.RetryExhausted{Record: r.record, Window: g.window(r), Reason: retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE, ExhaustedAt: g.ts()})
	}
}

func (g *gen) outageRef(c *connection) *alertsv1.OutageRef {
	return &alertsv1.OutageRef{ConnectionId: c.ref.GetConnectionId(), Number: c.outages, DownAt: c.downAt,
		ConnectionAlertId: "alt_down_" + c.ref.GetConnectionId()}
}

func (g *gen) outage() {
	c := g.conns[g.rnd.IntN(len(g.conns))]
	cref := &alertsv1.ConnectionRef{AccountId: c.ref.GetAccountId(), AccountKind: c.ref.GetAccountKind(), WarehouseId: c.ref.GetWarehouseId(),
		ConnectionId: c.ref.GetConnectionId(), SystemKind: c.ref.GetSystemKind(), System: c.ref.GetSystem()}
	account := c.ref.GetAccountId()
	downID := "alt_down_" + c.ref.GetConnectionId()
	if !c.down {
		c.down, c.outages, c.downAt, c.covered = true, c.outages+1, g.ts(), 3
		o := g.outageRef(c)
		covered := make([]*alertsv1.FailingRecord, 3)
		for i := range covered {
			r := g.record(c)
			covered[i] = &alertsv1.FailingRecord{Record: r, RecordKey: r.GetRecordId(), AlertId: "x", AlertType: "wms_unavailable", ErrorClass: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, FailedAt: g.ts()}
		}
		g.emit("outage", account, c.ref.GetConnectionId(), &alertsv1.ConnectionDown{Connection: cref, Outage: o, ErrorClass: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT,
			CoveredRecords: covered, Threshold: 3, Window: durationpb.New(5 * time.Minute), DetectedAt: g.ts()})
		a := g.alerts[downID]
		ref := &alertsv1.AlertRef{AlertId: downID, Incarnation: 1, Record: proto.CloneOf(c.ref), AlertType: "connection_down", ErrorClass: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, Immediate: true}
		f := &alertsv1.Failure{AttemptId: fmt.Sprintf("outage-%d", c.outages), Message: "3 records failed", Code: "connection_down", RuleId: "outage", FailedAt: c.downAt}
		if a != nil {
			ref.Incarnation = a.ref.GetIncarnation() + 1
		}
		g.alerts[downID] = &alertState{ref: ref, open: true, occurrences: 1, firstSeen: c.downAt}
		g.open = append(g.open, downID)
		g.emit("alert", account, downID, &alertsv1.AlertRaised{Alert: ref, Failure: f, RaisedAt: g.ts()})
		return
	}
	if g.rnd.IntN(3) > 0 {
		c.covered++
		r := g.record(c)
		g.emit("outage", account, c.ref.GetConnectionId(), &alertsv1.RecordCoveredByOutage{Connection: cref, Outage: g.outageRef(c),
			Record: &alertsv1.FailingRecord{Record: r, RecordKey: r.GetRecordId(), AlertId: "x", AlertType: "wms_unavailable", ErrorClass: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, FailedAt: g.ts()},
			Listed: true, CoveredAt: g.ts()})
		return
	}
	c.down = false
	g.emit("outage", account, c.ref.GetConnectionId(), &alertsv1.ConnectionRecovered{Connection: cref, Outage: g.outageRef(c), RecoveredAt: g.ts(),
		RecoveredBy: g.record(c), AttemptId: "rec", CoveredTotal: c.covered, DetectedAt: g.ts()})
	if a := g.alerts[downID]; a != nil && a.open {
		a.open = false
		g.emit("alert", account, downID, &alertsv1.AlertResolved{Alert: a.ref, Cause: alertsv1.ResolutionCause_RESOLUTION_CAUSE_CONNECTION_RECOVERED,
			ResolvedAt: g.ts(), FirstSeenAt: a.firstSeen, Occurrences: a.occurrences, RecordedAt: g.ts()})
	}
}

type orderState struct {
	id     string
	conn   *connection
	status ordersv1.OrderStatus
	n      uint32
}

// order receives a new order or moves an existing one on.
func (g *gen) order() {
	if len(g.orders) == 0 || g.rnd.IntN(3) == 0 {
		c := g.conns[g.rnd.IntN(len(g.conns))]
		o := &orderState{id: fmt.Sprintf("ord_%d", len(g.orders)), conn: c, status: ordersv1.OrderStatus_ORDER_STATUS_NEW}
		g.orders = append(g.orders, o)
		r := c.ref
		g.emit("order", r.GetAccountId(), o.id, &ordersv1.OrderReceived{OrderId: o.id, AccountId: r.GetAccountId(), AccountKind: r.GetAccountKind(),
			WarehouseId: r.GetWarehouseId(), Cart: &ordersv1.Connection{ConnectionId: r.GetAccountId() + "-c2", System: "shopify"},
			Wms: &ordersv1.Connection{ConnectionId: r.GetAccountId() + "-c1", System: "sandbox-wms"}, OrderNumber: fmt.Sprintf("#%d", 5000+len(g.orders)),
			Currency: "USD", ShipMethodCode: "Express", Lines: []*ordersv1.OrderLine{{Sku: "MUG", Quantity: 2, UnitPrice: "12.50"}}, ReceivedAt: g.ts()})
		return
	}
	o := g.orders[g.rnd.IntN(len(g.orders))]
	r := o.conn.ref
	rec := &connectorv1.RecordRef{AccountId: r.GetAccountId(), AccountKind: r.GetAccountKind(), WarehouseId: r.GetWarehouseId(),
		ConnectionId: r.GetAccountId() + "-c1", RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: o.id}
	emit := func(m proto.Message) { g.emit("order", r.GetAccountId(), o.id, m) }
	switch o.status {
	case ordersv1.OrderStatus_ORDER_STATUS_NEW:
		o.n++
		att := fmt.Sprintf("%s-d%d", o.id, o.n)
		emit(&ordersv1.OrderDeliveryAttempted{Record: rec, AttemptId: att, Attempt: o.n, Trigger: ordersv1.DeliveryTrigger_DELIVERY_TRIGGER_RECEIVED, WmsShipMethod: "EXP", AttemptedAt: g.ts()})
		switch g.rnd.IntN(4) {
		case 0:
			emit(&ordersv1.OrderDeliveryFailed{Record: rec, Failure: &ordersv1.Failure{AttemptId: att, Message: "bad address", Code: "INVALID_ADDRESS", HttpStatus: 422,
				FailedAt: g.ts(), Class: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION, AlertType: "address_invalid", Sent: true}})
			emit(&ordersv1.OrderHeld{Record: rec, AttemptId: att, Reason: "address_invalid", HeldAt: g.ts()})
			o.status = ordersv1.OrderStatus_ORDER_STATUS_ERROR
		case 1:
			emit(&ordersv1.OrderDeliveryFailed{Record: rec, Failure: &ordersv1.Failure{AttemptId: att, Message: "unavailable", Code: "timeout",
				FailedAt: g.ts(), Class: connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT, AlertType: "wms_unavailable", Sent: true}})
		default:
			emit(&ordersv1.OrderAcceptedByWMS{Record: rec, AttemptId: att, WmsOrderId: "W" + o.id, AcceptedAt: g.ts()})
			o.status = ordersv1.OrderStatus_ORDER_STATUS_AT_WMS
		}
	case ordersv1.OrderStatus_ORDER_STATUS_ERROR:
		if g.rnd.IntN(2) == 0 {
			emit(&ordersv1.OrderSkipped{Record: rec, Reason: ordersv1.SkipReason_SKIP_REASON_MAX_AGE, SkippedAt: g.ts()})
			o.status = ordersv1.OrderStatus_ORDER_STATUS_SKIPPED
		} else {
			emit(&ordersv1.OrderResendRequested{Record: rec, Actor: "ops@example.com", PreviousStatus: o.status, RequestedAt: g.ts()})
			o.status = ordersv1.OrderStatus_ORDER_STATUS_NEW
		}
	case ordersv1.OrderStatus_ORDER_STATUS_SKIPPED:
		emit(&ordersv1.OrderSendingCanceled{Record: rec, Actor: "ops@example.com", PreviousStatus: o.status, CanceledAt: g.ts()})
		o.status = ordersv1.OrderStatus_ORDER_STATUS_CANCELED
	case ordersv1.OrderStatus_ORDER_STATUS_AT_WMS:
		emit(&ordersv1.OrderShipped{Record: rec, WmsOrderId: "W" + o.id, Tracking: &ordersv1.Tracking{Carrier: "UPS", TrackingNumber: "1Z" + o.id, ShippedAt: g.ts()}, RecordedAt: g.ts()})
		o.status = ordersv1.OrderStatus_ORDER_STATUS_SHIPPED
	case ordersv1.OrderStatus_ORDER_STATUS_SHIPPED:
		emit(&ordersv1.OrderConfirmed{AttemptId: o.id + "-t1", ConfirmedAt: g.ts()})
		o.status = ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED
	default:
		g.failure()
	}
}
