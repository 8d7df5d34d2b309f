package service_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/services/notification/domain/contact"
	"github.com/reboundhq/rebound/services/notification/outbound/smtp"
	"github.com/reboundhq/rebound/services/notification/service"
)

// When the SMTP server is down, a notification is retried with backoff (on durable wake
// timers) and recorded as failed once the attempts run out; the alert it carried goes in the
// contact's next email once the server is back.
func TestDelivery_smtpDownRetriedThenRecordedFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.start(e.config(), serviceDeps()) // 3 attempts, 1 min then 2 min apart
	acct := unique("m")
	c := e.addContact(r, acct, contact.Settings{Email: "ops@acme.test", Frequency: freq30})
	e.smtp.Fail(421, "Service not available")

	e.needsAttention(alertRef(acct, "", "wms-1", "o1", "ship_method_unmapped", true)) // 23:05
	e.advance(at("2026-03-07T23:08:00Z"))

	hist := e.mailboxEvents(c)
	var failed []*notificationv1.NotificationFailed
	for _, rec := range hist {
		if f, ok := rec.Message.(*notificationv1.NotificationFailed); ok {
			failed = append(failed, f)
		}
	}
	if len(failed) != 3 {
		t.Fatalf("%d failed attempts recorded; want 3", len(failed))
	}
	for i, f := range failed {
		if int(f.GetAttempt()) != i+1 || !strings.Contains(f.GetError(), "421") {
			t.Errorf("attempt %d: %+v", i+1, f)
		}
		if final := i == 2; f.GetFinal() != final || (f.GetRetryAt() == nil) == !final {
			t.Errorf("attempt %d: final %v, retry at %v", i+1, f.GetFinal(), f.GetRetryAt())
		}
	}
	if got := failed[0].GetRetryAt().AsTime(); !got.Equal(at("2026-03-07T23:06:00Z")) {
		t.Errorf("first retry at %s; want one minute later", got)
	}
	if got := failed[1].GetRetryAt().AsTime(); !got.Equal(at("2026-03-07T23:08:00Z")) {
		t.Errorf("second retry at %s; want two minutes after the second attempt", got)
	}
	if count(hist, "NotificationSent") != 0 || len(e.mail(c.GetEmail())) != 0 {
		t.Fatal("something was sent while the server was down")
	}
	ns, err := r.svc.App().Queries.ListNotifications.Handle(t.Context(), listAll(acct))
	if err != nil || len(ns) != 1 || ns[0].GetStatus() != notificationv1.NotificationStatus_NOTIFICATION_STATUS_FAILED ||
		ns[0].GetAttempts() != 3 || !strings.Contains(ns[0].GetLastError(), "421") {
		t.Fatalf("ListNotifications = %v, %v; want one failed after 3 attempts", ns, err)
	}

	// The server is back: the alert goes in the next digest (23:30).
	e.smtp.Fail(0, "")
	e.advance(at("2026-03-07T23:30:00Z"))
	got := e.mail(c.GetEmail())
	if len(got) != 1 || !strings.Contains(got[0].Subject, "1 new") {
		t.Fatalf("after the server came back: %d emails; want the digest with the alert", len(got))
	}
}

// crashingTransport sends through SMTP, then "crashes": it never returns until its context ends,
// so the outcome is never recorded.
type crashingTransport struct {
	next *smtp.Sender
	mu   sync.Mutex
	sent int
}

func (c *crashingTransport) Send(ctx context.Context, to string, data []byte) error {
	if err := c.next.Send(ctx, to, data); err != nil {
		return err
	}
	c.mu.Lock()
	c.sent++
	c.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

// A crash between the intent and the recorded outcome (here right after the SMTP server took
// the email) yields at most one duplicate: the restarted service sends the intended notification
// again, records it sent once, and a further restart sends nothing.
func TestDelivery_crashBetweenIntentAndSendAtMostOneDuplicate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	sender, err := smtp.New(smtp.Config{URL: cfg.SMTPURL, TLS: cfg.SMTPTLS})
	if err != nil {
		t.Fatal(err)
	}
	crash := &crashingTransport{next: sender}
	r := e.start(cfg, service.Deps{Transport: crash})
	acct := unique("m")
	c := e.addContact(r, acct, contact.Settings{Email: "ops@acme.test", Frequency: freqHourly})

	ref := alertRef(acct, "", "wms-1", "o1", "ship_method_unmapped", true)
	// Store the event without waiting for the handler (it will not finish).
	publishNoWait(e, ref)
	eventually(t, 30*time.Second, "the email to reach the server", func() bool { return len(e.mail(c.GetEmail())) == 1 })
	r.stop() // the process dies before recording the outcome

	if hist := e.mailboxEvents(c); count(hist, "NotificationIntended") != 1 || count(hist, "NotificationSent") != 0 {
		t.Fatalf("before the restart: %d intended, %d sent; want 1 and 0", count(hist, "NotificationIntended"), count(hist, "NotificationSent"))
	}

	r2 := e.start(cfg, serviceDeps())
	eventually(t, 60*time.Second, "the outcome to be recorded after the restart", func() bool {
		return count(e.mailboxEvents(c), "NotificationSent") == 1
	})
	e.settled()
	msgs := e.mail(c.GetEmail())
	if len(msgs) != 2 {
		t.Fatalf("%d emails; want the one before the crash and at most one duplicate", len(msgs))
	}
	if msgs[0].Header.Get("Message-Id") != msgs[1].Header.Get("Message-Id") {
		t.Errorf("the duplicate has another Message-ID (%s, %s): clients cannot tell it is the same email",
			msgs[0].Header.Get("Message-Id"), msgs[1].Header.Get("Message-Id"))
	}
	r2.stop()

	// Another restart, with the alert event delivered again: nothing more is sent.
	r3 := e.start(cfg, serviceDeps())
	e.needsAttention(ref)
	if err := r3.svc.App().Commands.Wake.Handle(t.Context(), wakeOf(c, e.clock.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if n := len(e.mail(c.GetEmail())); n != 2 {
		t.Errorf("%d emails after another restart; want still 2", n)
	}
	if hist := e.mailboxEvents(c); count(hist, "NotificationSent") != 1 || count(hist, "NotificationIntended") != 1 {
		t.Errorf("%d intended, %d sent; want 1 and 1", count(hist, "NotificationIntended"), count(hist, "NotificationSent"))
	}
}
