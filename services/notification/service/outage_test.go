package service_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/services/notification/domain/contact"
)

// Records covered by a connection_down alert appear under it (a count and examples), not one
// by one: an alert that needed attention and was then covered is not listed on its own.
func TestOutage_coveredRecordsAppearUnderConnectionDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.start(e.config(), serviceDeps())
	acct := unique("m")
	c := e.addContact(r, acct, contact.Settings{Email: "ops@acme.test", Frequency: freq30})

	early := alertRef(acct, "", "wms-1", "o0", "validation_failed", false)
	e.needsAttention(early) // 23:05, due in the 23:30 digest

	down := alertRef(acct, "", "wms-1", "", "connection_down", true)
	down.AlertId = "alt-wms-1-down"
	down.Record.RecordKind, down.Record.OrderNumber = 0, ""
	outage := &alertsv1.OutageRef{ConnectionId: "wms-1", Number: 1, ConnectionAlertId: down.GetAlertId()}
	for _, ref := range []*alertsv1.AlertRef{early, alertRef(acct, "", "wms-1", "o1", "wms_unavailable", false),
		alertRef(acct, "", "wms-1", "o2", "wms_unavailable", false), alertRef(acct, "", "wms-1", "o3", "wms_unavailable", false)} {
		e.publish(ref, &alertsv1.AlertCoveredByOutage{Alert: ref, Outage: outage, CoveredAt: timestamppb.New(e.clock.Now())})
	}
	e.publish(down, &alertsv1.AlertNeedsAttention{Alert: down, Reason: alertsv1.AttentionReason_ATTENTION_REASON_CONNECTION_DOWN,
		LastFailure: &alertsv1.Failure{Message: "connect: connection refused"}, FirstSeenAt: timestamppb.New(e.clock.Now()),
		NeedsAttentionAt: timestamppb.New(e.clock.Now()), Occurrences: 4})

	msgs := e.mail(c.GetEmail())
	if len(msgs) != 1 {
		t.Fatalf("%d emails; want the immediate connection_down one", len(msgs))
	}
	if !strings.Contains(msgs[0].Subject, "Connection down") || !strings.Contains(msgs[0].Text, "4 records affected") ||
		!strings.Contains(msgs[0].Text, "order #o1") {
		t.Errorf("connection_down email: %q\n%s", msgs[0].Subject, msgs[0].Text)
	}
	e.advance(at("2026-03-08T00:00:00Z"))
	if n := len(e.mail(c.GetEmail())); n != 1 {
		t.Errorf("%d emails by midnight; the covered alert must not be listed on its own", n)
	}
}
