package service_test

import (
	"testing"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/alerts/inbound/consumers"
	"github.com/reboundhq/rebound/services/alerts/service"
)

// A failure raises an alert (needing attention at once when a person must act), a repeat
// failure adds an occurrence, and a success resolves every open alert of the record.
func TestService_failuresRaiseOneAlertPerTypeAndSuccessResolvesThemAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(service.Config{})
	now := time.Now().UTC()
	ref := e.record("wms-1", "1001")
	transient := alert.IDOf(ref, "wms_unavailable")
	manual := alert.IDOf(ref, "ship_method_unmapped")

	e.report(unavailable(ref, "a1", now.Add(-3*time.Minute)))
	e.report(shipMethod(ref, "a2", now.Add(-2*time.Minute)))
	eventually(t, 20*time.Second, "both alerts", func() bool {
		a, _ := e.alertOf(transient)
		b, _ := e.alertOf(manual)
		return a != nil && b != nil
	})
	a, hist := e.alertOf(transient)
	if a.GetStatus() != alertsv1.AlertStatus_ALERT_STATUS_OPEN || a.GetNeedsAttention() || count(hist, "AlertRaised") != 1 {
		t.Errorf("transient alert %v: want open, not needing attention yet, raised once", a)
	}
	b, _ := e.alertOf(manual)
	if !b.GetNeedsAttention() || b.GetNeedsAttentionReason() != alertsv1.AttentionReason_ATTENTION_REASON_MANUAL_ACTION {
		t.Errorf("ship method alert %v: want it to need attention for manual action", b)
	}

	// A repeat failure is an occurrence, not a second alert; a repeated report is nothing.
	e.report(unavailable(ref, "a3", now.Add(-time.Minute)))
	e.report(unavailable(ref, "a3", now.Add(-time.Minute)))
	eventually(t, 20*time.Second, "the occurrence", func() bool {
		a, _ := e.alertOf(transient)
		return a.GetOccurrences() == 2
	})

	e.report(succeeded(ref, "a4", now))
	eventually(t, 20*time.Second, "both alerts to resolve", func() bool {
		a, _ := e.alertOf(transient)
		b, _ := e.alertOf(manual)
		return a.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_RESOLVED && b.GetStatus() == alertsv1.AlertStatus_ALERT_STATUS_RESOLVED
	})
	e.settled(consumers.RecordsHandler)
	a, hist = e.alertOf(transient)
	if count(hist, "AlertRaised") != 1 || count(hist, "AlertOccurred") != 1 || a.GetOccurrences() != 2 ||
		a.GetResolutionCause() != alertsv1.ResolutionCause_RESOLUTION_CAUSE_RECORD_SUCCEEDED || a.GetResolvedBy() != "a4" {
		t.Errorf("transient alert %v with %d events: want raised once, one occurrence, resolved by a4", a, len(hist))
	}
}
