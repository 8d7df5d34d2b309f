package service_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/services/notification/domain/contact"
)

const (
	freqImmediate = notificationv1.Frequency_FREQUENCY_IMMEDIATE
	freq30        = notificationv1.Frequency_FREQUENCY_EVERY_30_MINUTES
	freqHourly    = notificationv1.Frequency_FREQUENCY_HOURLY
	freqDaily     = notificationv1.Frequency_FREQUENCY_DAILY
	freqOff       = notificationv1.Frequency_FREQUENCY_OFF
)

// An immediate alert type reaches every contact that is not off, at once and once, over SMTP
// with STARTTLS and AUTH; the email is proper MIME with a plain-text and an HTML part, the
// headers, and signed links that work.
func TestImmediate_reachesEveryEligibleContactOnceWithWorkingLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.start(e.config(), serviceDeps())
	acct, other := unique("m"), unique("m")
	contacts := []*notificationv1.Contact{
		e.addContact(r, acct, contact.Settings{Email: "ops@acme.test", Name: "Ops", TimeZone: "Europe/Berlin", Frequency: freqDaily, DailyHour: 8}),
		e.addContact(r, acct, contact.Settings{Email: "lead@acme.test", Frequency: freqImmediate, HasLogin: true}),
		e.addContact(r, acct, contact.Settings{Email: "half@acme.test", Frequency: freq30}),
	}
	off := e.addContact(r, acct, contact.Settings{Email: "off@acme.test", Frequency: freqOff})
	e.addContact(r, other, contact.Settings{Email: "other@else.test", Frequency: freqImmediate, HasLogin: true})

	ref := alertRef(acct, "", "wms-1", "o1", "ship_method_unmapped", true)
	e.fixer.add(ref, "cart-1", "UPS_GS")
	e.needsAttention(ref)
	// The same event delivered again (a redelivery) sends nothing more.
	e.needsAttention(ref)

	for _, c := range contacts {
		msgs := e.mail(c.GetEmail())
		if len(msgs) != 1 {
			t.Fatalf("%s received %d emails; want 1", c.GetEmail(), len(msgs))
		}
		m := msgs[0]
		if !m.TLS || m.User != "rebound" {
			t.Errorf("%s: delivered with TLS %v, user %q; want STARTTLS and AUTH as rebound", c.GetEmail(), m.TLS, m.User)
		}
		if !strings.Contains(m.Subject, "Ship method unmapped") || !strings.Contains(m.Subject, "#o1") {
			t.Errorf("subject %q", m.Subject)
		}
		for _, h := range []string{"Message-Id", "Date", "List-Unsubscribe", "List-Unsubscribe-Post", "From", "To"} {
			if m.Header.Get(h) == "" {
				t.Errorf("%s: header %s missing", c.GetEmail(), h)
			}
		}
		if from := m.Header.Get("From"); !strings.Contains(from, "alerts@rebound.test") {
			t.Errorf("From %q", from)
		}
		if m.Text == "" || !strings.Contains(m.HTML, "<html") || !strings.Contains(m.Text, "UPS Ground Saver") {
			t.Errorf("%s: want a text and an HTML part with the message; text %q", c.GetEmail(), m.Text)
		}
		ls := links(m)
		fix, ok := ls["map-ship-method"]
		if !ok || !strings.Contains(m.HTML, "map-ship-method?t=") {
			t.Fatalf("%s: no map-ship-method link in %v", c.GetEmail(), ls)
		}
		if !strings.Contains(m.Header.Get("List-Unsubscribe"), "/unsubscribe?t=") {
			t.Errorf("List-Unsubscribe %q", m.Header.Get("List-Unsubscribe"))
		}
		// The link works: its page shows the order and the code to map.
		res, err := http.Get(fix)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "UPS_GS") || !strings.Contains(string(body), "#o1") {
			t.Errorf("GET %s: %d\n%s", fix, res.StatusCode, body)
		}
	}
	if n := len(e.mail(off.GetEmail())); n != 0 {
		t.Errorf("the contact that is off received %d emails", n)
	}
	if n := len(e.mail("other@else.test")); n != 0 {
		t.Errorf("another account's contact received %d emails", n)
	}
	// The log: one intent and one sent per eligible contact.
	for _, c := range contacts {
		hist := e.mailboxEvents(c)
		if count(hist, "NotificationIntended") != 1 || count(hist, "NotificationSent") != 1 {
			t.Errorf("%s: %d intended, %d sent; want 1 and 1", c.GetEmail(), count(hist, "NotificationIntended"), count(hist, "NotificationSent"))
		}
	}
	ns, err := r.svc.App().Queries.ListNotifications.Handle(t.Context(), listAll(acct))
	if err != nil || len(ns) != 3 {
		t.Fatalf("ListNotifications = %d, %v; want 3", len(ns), err)
	}
	for _, n := range ns {
		if n.GetStatus() != notificationv1.NotificationStatus_NOTIFICATION_STATUS_SENT || n.GetMessageId() == "" {
			t.Errorf("notification %+v", n)
		}
	}
}
