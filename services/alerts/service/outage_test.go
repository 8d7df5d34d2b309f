package service_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/domain/outage"
	"github.com/reboundhq/rebound/services/alerts/inbound/consumers"
	"github.com/reboundhq/rebound/services/alerts/service"
)

// Many distinct records of one connection failing transiently within the window make one
// connection_down alert that covers their alerts; the connection's recovery resolves it and
// uncovers them.
func TestService_outageRaisesOneConnectionAlertAndCoversTheRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(service.Config{})
	now := time.Now().UTC()
	const n = 25 // threshold 20: the first 20 go down together, 5 more fail while down
	refs := make([]*connectorv1.RecordRef, n)
	for i := range n {
		refs[i] = e.record("wms-1", fmt.Sprintf("o-%d", i))
		e.report(unavailable(refs[i], "a1", now.Add(-time.Minute+time.Duration(i)*time.Second)))
	}
	// A record of another connection is not part of the outage.
	other := e.record("wms-2", "o-x")
	e.report(unavailable(other, "a1", now.Add(-time.Minute)))
	connID := alert.ConnectionAlertID(e.account, "wms-1")

	eventually(t, 30*time.Second, "the connection alert and every record's alert covered", func() bool {
		c, _ := e.alertOf(connID)
		if c.GetStatus() != alertsv1.AlertStatus_ALERT_STATUS_OPEN {
			return false
		}
		for _, r := range refs {
			if a, _ := e.alertOf(alert.IDOf(r, "wms_unavailable")); !a.GetCoveredByOutage() {
				return false
			}
		}
		return true
	})
	c, hist := e.alertOf(connID)
	if count(hist, "AlertRaised") != 1 || !c.GetNeedsAttention() ||
		c.GetNeedsAttentionReason() != alertsv1.AttentionReason_ATTENTION_REASON_CONNECTION_DOWN || c.GetAlertType() != "connection_down" {
		t.Errorf("connection alert %v (%d events): want one connection_down alert needing attention", c, len(hist))
	}
	if a, _ := e.alertOf(alert.IDOf(other, "wms_unavailable")); a == nil || a.GetCoveredByOutage() {
		t.Errorf("the other connection's alert %v is covered", a)
	}
	if _, hist := e.alertOf(alert.ConnectionAlertID(e.account, "wms-2")); len(hist) != 0 {
		t.Errorf("the other connection has a connection alert")
	}

	// More failures while down: no second connection alert.
	e.report(unavailable(refs[0], "a2", now.Add(time.Second)))
	e.settled(consumers.RecordsHandler)
	e.settled(consumers.OutageHandler)

	// Recovery: any record of the connection goes through.
	e.report(succeeded(refs[3], "ok", now.Add(2*time.Second)))
	eventually(t, 30*time.Second, "the recovery", func() bool {
		c, _ := e.alertOf(connID)
		if c.GetStatus() != alertsv1.AlertStatus_ALERT_STATUS_RESOLVED {
			return false
		}
		for _, r := range refs {
			if a, _ := e.alertOf(alert.IDOf(r, "wms_unavailable")); a.GetCoveredByOutage() || a.GetUncoveredAt() == nil {
				return false
			}
		}
		return true
	})
	e.settled(consumers.RecordsHandler)
	e.settled(consumers.OutageHandler)
	c, hist = e.alertOf(connID)
	if count(hist, "AlertRaised") != 1 || c.GetResolutionCause() != alertsv1.ResolutionCause_RESOLUTION_CAUSE_CONNECTION_RECOVERED {
		t.Errorf("connection alert %v: want raised once and resolved by the recovery", c)
	}
	for i, r := range refs {
		a, hist := e.alertOf(alert.IDOf(r, "wms_unavailable"))
		if count(hist, "AlertCoveredByOutage") != 1 || count(hist, "AlertUncovered") != 1 || count(hist, "AlertNeedsAttention") != 0 {
			t.Errorf("record %d's alert %v: want covered once, uncovered once, no attention of its own", i, proto.CloneOf(a))
		}
		wantStatus := alertsv1.AlertStatus_ALERT_STATUS_OPEN
		if i == 3 {
			wantStatus = alertsv1.AlertStatus_ALERT_STATUS_RESOLVED
		}
		if a.GetStatus() != wantStatus {
			t.Errorf("record %d's alert is %v, want %v", i, a.GetStatus(), wantStatus)
		}
	}
}

// An outage that covered more records than it lists still uncovers every one of them when the
// connection recovers: the unlisted ones come from the detector's RecordCoveredByOutage events.
func TestService_recoveryUncoversRecordsPastTheListingLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(service.Config{Outage: outage.Config{Threshold: 3, MaxListed: 3}})
	now := time.Now().UTC()
	const n = 7
	refs := make([]*connectorv1.RecordRef, n)
	for i := range n {
		refs[i] = e.record("cart-1", fmt.Sprintf("t-%d", i))
		e.report(unavailable(refs[i], "a1", now.Add(-time.Minute+time.Duration(i)*time.Second)))
	}
	eventually(t, 30*time.Second, "every alert covered", func() bool {
		for _, r := range refs {
			if a, _ := e.alertOf(alert.IDOf(r, "wms_unavailable")); !a.GetCoveredByOutage() {
				return false
			}
		}
		return true
	})
	e.settled(consumers.OutageHandler)
	e.report(succeeded(e.record("cart-1", "other"), "ok", now))
	eventually(t, 30*time.Second, "every alert uncovered", func() bool {
		for _, r := range refs {
			if a, _ := e.alertOf(alert.IDOf(r, "wms_unavailable")); a.GetCoveredByOutage() || a.GetUncoveredAt() == nil {
				return false
			}
		}
		return true
	})
	if c, _ := e.alertOf(alert.ConnectionAlertID(e.account, "cart-1")); c.GetStatus() != alertsv1.AlertStatus_ALERT_STATUS_RESOLVED {
		t.Errorf("connection alert %v, want resolved", c)
	}
}
