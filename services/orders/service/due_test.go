package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events/bus"
)

// A RetryDue command that does not decode goes to poison.orders-due with its reason, and the
// consumer goes on with the next commands.
func TestRetryCommands_undecodableGoesToPoison(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.mapStandard()
	eventually(t, 30*time.Second, "the RETRY_DUE stream", func() bool {
		_, err := w.js.Stream(t.Context(), "RETRY_DUE")
		return err == nil
	})
	if _, err := w.js.Publish(t.Context(), "retry.due.wms.order", []byte{0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	var poisoned []bus.PoisonMessage
	eventually(t, 30*time.Second, "the poisoned command", func() bool {
		var err error
		poisoned, err = bus.ListPoison(t.Context(), w.js, "orders-due")
		return err == nil && len(poisoned) == 1
	})
	if p := poisoned[0]; !strings.Contains(p.Reason, "RetryDue") || p.Subject != "retry.due.wms.order" || p.Stream != "RETRY_DUE" {
		t.Fatalf("poisoned %+v", p)
	}
	// The consumer goes on.
	w.settled("RETRY_DUE", "orders-due")
}
