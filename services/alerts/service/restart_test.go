package service_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/wire"
	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/inbound/consumers"
	"github.com/reboundhq/rebound/services/alerts/service"
)

// A service stopped mid-way (its bus and timers) and replaced by a new one on the same server
// loses nothing and duplicates nothing: every failure counts once, every alert is raised once,
// and the grace timers armed by the first service fire once, through the second. Its caches are
// tiny, so most loads restore a snapshot from the SNAPSHOTS bucket (the second service's too).
func TestService_restartLosesNothingAndDuplicatesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Longer than the app's margin for arming timers alongside the append.
	cfg := service.Config{Alert: alert.Config{GracePeriod: 7 * time.Second}, Workers: 4, AlertCache: 3, DetectorCache: 1}
	first := e.start(cfg)
	const records, rounds = 12, 3
	refs := make([]*connectorv1.RecordRef, records)
	for i := range refs {
		refs[i] = e.record(fmt.Sprintf("wms-%d", i%2), fmt.Sprintf("r-%d", i)) // 6 per connection: no outage
	}
	start := time.Now().UTC()
	report := func(round int) {
		for i, ref := range refs {
			e.report(unavailable(ref, fmt.Sprintf("a%d", round), start.Add(time.Duration(round*records+i)*time.Millisecond)))
		}
	}
	report(0)
	report(1)
	first.stop() // mid-way: some of the reports are handled, the rest wait in the consumer
	report(2)
	second := e.start(cfg)
	defer second.stop()

	eventually(t, 30*time.Second, "every failure to count", func() bool {
		for _, ref := range refs {
			if a, _ := e.alertOf(alert.IDOf(ref, "wms_unavailable")); a.GetOccurrences() != rounds {
				return false
			}
		}
		return true
	})
	eventually(t, 30*time.Second, "every grace period to run out", func() bool {
		for _, ref := range refs {
			if a, _ := e.alertOf(alert.IDOf(ref, "wms_unavailable")); !a.GetNeedsAttention() {
				return false
			}
		}
		return true
	})
	e.settled(consumers.RecordsHandler)
	e.noPendingTimers()
	for i, ref := range refs {
		a, hist := e.alertOf(alert.IDOf(ref, "wms_unavailable"))
		if count(hist, "AlertRaised") != 1 || count(hist, "AlertOccurred") != rounds-1 || count(hist, "AlertNeedsAttention") != 1 || a.GetOccurrences() != rounds {
			t.Errorf("record %d: %d events (%v): want raised once, %d occurrences, attention once", i, len(hist), a, rounds)
		}
		idx, err := e.store.Load(t.Context(), events.StreamID{AggregateType: "record_alerts", Account: e.account, ID: connector.RecordKeyOf(ref)}, 0)
		if err != nil || len(idx.Events) != 1 {
			t.Errorf("record %d's index has %d events (%v); want 1", i, len(idx.Events), err)
		}
	}
	// Aggregates that left the caches were saved: alerts, record indexes and detectors.
	kv, err := e.js.KeyValue(t.Context(), natsstore.SnapshotBucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"alert", "record_alerts", "outage"} {
		keys, err := kv.ListKeysFiltered(t.Context(), typ+"."+e.account+".>")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range keys.Keys() {
			n++
		}
		if n == 0 {
			t.Errorf("no %s snapshots in %s", typ, natsstore.SnapshotBucket)
		}
	}
}

// Malformed events on the subjects the service consumes go to the handler's poison subject with
// the reason, and the service goes on with the next event.
func TestService_malformedEventsArePoisonedAndTheServiceGoesOn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(service.Config{})
	ctx := t.Context()

	// Bytes without an envelope on a record subject and an outage subject.
	if _, err := e.js.Publish(ctx, "evt.record."+e.account+".garbage.RecordFailed", []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.Publish(ctx, "evt.outage."+e.account+".garbage.ConnectionDown", []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	// A well-formed event whose report does not validate (no account kind, no failure time).
	bad := &connectorv1.RecordFailed{Record: &connectorv1.RecordRef{AccountId: e.account, ConnectionId: "wms-1",
		RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER, RecordId: "bad"}, AttemptId: "a1", HttpStatus: 503}
	ev := events.NewEvent(bad, events.Metadata{})
	ev.AggregateType, ev.Account, ev.AggregateID, ev.Version = "record", e.account, "bad", 1
	data, err := service.Registry().Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := wire.Message(ev, data)
	msg.Subject = events.Subject(ev.Stream(), ev.EventType)
	if _, err := e.js.PublishMsg(ctx, &nats.Msg{Subject: msg.Subject, Header: msg.Header, Data: msg.Data}); err != nil {
		t.Fatal(err)
	}

	// The service goes on.
	ref := e.record("wms-1", "4001")
	e.report(unavailable(ref, "a1", time.Now().UTC()))
	eventually(t, 20*time.Second, "the next failure's alert", func() bool {
		a, _ := e.alertOf(alert.IDOf(ref, "wms_unavailable"))
		return a != nil
	})
	eventually(t, 20*time.Second, "the poisoned messages", func() bool {
		r, err1 := bus.ListPoison(ctx, e.js, consumers.RecordsHandler)
		o, err2 := bus.ListPoison(ctx, e.js, consumers.OutageHandler)
		return err1 == nil && err2 == nil && len(r) == 2 && len(o) == 1
	})
	poisoned, _ := bus.ListPoison(ctx, e.js, consumers.RecordsHandler)
	reasons := map[string]string{}
	for _, p := range poisoned {
		reasons[p.Subject] = p.Reason
	}
	if r := reasons[msg.Subject]; r == "" || !strings.Contains(r, "record.account_kind") {
		t.Errorf("the invalid report's poison reason %q does not name record.account_kind", r)
	}
	if r := reasons["evt.record."+e.account+".garbage.RecordFailed"]; r == "" {
		t.Errorf("the garbage message was not poisoned with a reason: %v", reasons)
	}
}
