package service_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/wire"
	"github.com/reboundhq/rebound/services/retry/inbound"
)

// testPoison stores malformed events on every subject the service reads: each lands on its
// handler's poison subject with the reason, and the service goes on with the next events.
func testPoison(t *testing.T, e *env) {
	acct := unique("m")
	names := inbound.NamesWithPrefix(inbound.DefaultHandlerPrefix)
	ref := orderRef(acct, "o-poison")
	badRef := orderRef(acct, "o-bad")
	badRef.ConnectionId = "not a token"

	cases := []struct {
		name    string
		handler string
		stream  events.StreamID
		msg     proto.Message
		body    []byte // when set, the body instead of msg's encoding
		reason  string
	}{
		{"undecodable failure", names.Records, connector.RecordStream(ref), &connectorv1.RecordFailed{}, []byte{0xff, 0xff, 0xff}, ""},
		{"invalid failure", names.Records, connector.RecordStream(ref),
			&connectorv1.RecordFailed{Record: badRef, AttemptId: "a", HttpStatus: 503, FailedAt: timestamppb.Now()}, nil, "record.connection_id"},
		{"invalid sync cycle", names.Sync, connector.ConnectionStream(acct, "cart-1"),
			&connectorv1.SyncCycleStarted{AccountId: acct, ConnectionId: "cart-1"}, nil, "cycle_id"},
		{"invalid outage", names.Outage, events.StreamID{AggregateType: inbound.OutageAggregate, Account: acct, ID: "wms-1"},
			&alertsv1.ConnectionDown{Connection: &alertsv1.ConnectionRef{AccountId: acct}}, nil, "connection.connection_id"},
		{"invalid due attempt", names.Due, events.StreamID{AggregateType: "retry", Account: acct, ID: connector.RecordKeyOf(badRef)},
			&retryv1.RetryAttemptDue{AttemptId: "x"}, nil, "record"},
	}
	for _, c := range cases {
		ev := events.NewEvent(c.msg, events.Metadata{})
		ev.AggregateType, ev.Account, ev.AggregateID, ev.Version = c.stream.AggregateType, c.stream.Account, c.stream.ID, 1
		body := c.body
		if body == nil {
			var err error
			if body, err = proto.Marshal(c.msg); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.js.PublishMsg(t.Context(), wire.Message(ev, body)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		eventually(t, 15*time.Second, c.name+" on poison."+c.handler, func() bool {
			list, err := bus.ListPoison(t.Context(), e.js, c.handler)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range list {
				if p.Headers.Get(wire.HeaderEventID) == ev.EventID {
					if !strings.Contains(p.Reason, c.reason) {
						t.Fatalf("%s poisoned for %q; want a reason naming %s", c.name, p.Reason, c.reason)
					}
					return true
				}
			}
			return false
		})
	}
	// The consumers go on.
	e.fail(t, failure(ref, "good"))
	e.waitStatus(t, ref, retryv1.RetryStatus_RETRY_STATUS_SCHEDULED)
}
