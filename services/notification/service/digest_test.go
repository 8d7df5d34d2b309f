package service_test

import (
	"net/mail"
	"strings"
	"testing"
	"time"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/services/notification/domain/contact"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// sentTimes returns the Date of every email to a contact (the fake clock when it was decided).
func (e *env) sentTimes(c *notificationv1.Contact) []time.Time {
	e.t.Helper()
	var out []time.Time
	for _, m := range e.mail(c.GetEmail()) {
		d, err := mail.ParseDate(m.Header.Get("Date"))
		if err != nil {
			e.t.Fatalf("Date %q: %v", m.Header.Get("Date"), err)
		}
		out = append(out, d.UTC())
	}
	return out
}

func checkTimes(t *testing.T, who string, got []time.Time, want ...string) {
	t.Helper()
	var g []string
	for _, x := range got {
		g = append(g, x.UTC().Format(time.RFC3339))
	}
	if strings.Join(g, " ") != strings.Join(want, " ") {
		t.Errorf("%s was emailed at\n  %v\nwant\n  %v", who, g, want)
	}
}

// Digests at every frequency, on a fake clock: each contact's first email comes at its first
// slot in its own time zone (30 minutes and hourly on the local clock — Kathmandu is UTC+5:45 —,
// daily at the chosen local hour across New York's switch to daylight time), reminders of the
// still-open alert come at intervals that double, and an immediate contact is emailed at once.
// A digest that was sent is not sent again when its timer fires again after a restart.
func TestDigest_eachFrequencyOnItsLocalSlots(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // the clock starts at 2026-03-07T23:05:00Z, a Saturday
	r := e.start(e.config(), serviceDeps())
	acct := unique("m")
	imm := e.addContact(r, acct, contact.Settings{Email: "imm@acme.test", Frequency: freqImmediate, HasLogin: true})
	half := e.addContact(r, acct, contact.Settings{Email: "half@acme.test", Frequency: freq30})
	ktm := e.addContact(r, acct, contact.Settings{Email: "ktm@acme.test", TimeZone: "Asia/Kathmandu", Frequency: freqHourly})
	ny := e.addContact(r, acct, contact.Settings{Email: "ny@acme.test", TimeZone: "America/New_York", Frequency: freqDaily, DailyHour: 8})
	off := e.addContact(r, acct, contact.Settings{Email: "off@acme.test", Frequency: freqOff})

	ref := alertRef(acct, "", "wms-1", "o1", "address_invalid", false)
	e.needsAttention(ref)

	for c, want := range map[*notificationv1.Contact]string{
		half: "2026-03-07T23:30:00Z",
		ktm:  "2026-03-07T23:15:00Z", // 05:00 in Kathmandu
		ny:   "2026-03-08T12:00:00Z", // 08:00 EDT: New York switched to daylight time at 02:00
	} {
		if got := e.wakes.dueOf(mailbox.Stream(acct, c.GetContactId())); !got.Equal(at(want)) {
			t.Errorf("%s's wake timer is at %s; want %s", c.GetEmail(), got.Format(time.RFC3339), want)
		}
	}
	checkTimes(t, "imm", e.sentTimes(imm), "2026-03-07T23:05:00Z")

	e.advance(at("2026-03-08T12:00:00Z"))

	// Reminders wait 1 h, 2 h, 4 h, 8 h after the last email, each on the contact's next slot.
	checkTimes(t, "imm", e.sentTimes(imm), "2026-03-07T23:05:00Z", "2026-03-08T00:05:00Z", "2026-03-08T02:05:00Z", "2026-03-08T06:05:00Z")
	checkTimes(t, "half", e.sentTimes(half), "2026-03-07T23:30:00Z", "2026-03-08T00:30:00Z", "2026-03-08T02:30:00Z", "2026-03-08T06:30:00Z")
	checkTimes(t, "ktm", e.sentTimes(ktm), "2026-03-07T23:15:00Z", "2026-03-08T00:15:00Z", "2026-03-08T02:15:00Z", "2026-03-08T06:15:00Z")
	checkTimes(t, "ny", e.sentTimes(ny), "2026-03-08T12:00:00Z")
	checkTimes(t, "off", e.sentTimes(off))

	first := e.mail(half.GetEmail())[0]
	if !strings.Contains(first.Subject, "1 new") || !strings.Contains(first.Text, "Connection wms-1") ||
		!strings.Contains(first.Text, "order #o1") || links(first)["correct-address"] == "" {
		t.Errorf("first digest: subject %q\n%s", first.Subject, first.Text)
	}
	second := e.mail(half.GetEmail())[1]
	if !strings.Contains(second.Subject, "1 still open") || !strings.Contains(second.Text, "Still open") {
		t.Errorf("reminder digest: subject %q\n%s", second.Subject, second.Text)
	}

	// Once the alert is older than a day, reminders come daily: after 8 h (14:30) and 16 h
	// (06:30 the next day, when the alert is older than a day), every 24 h.
	e.advance(at("2026-03-11T00:00:00Z"))
	got := e.sentTimes(half)
	for i := 6; i < len(got); i++ {
		if gap := got[i].Sub(got[i-1]); gap != 24*time.Hour {
			t.Errorf("half: reminder %d came %s after the one before; want 24h (all: %v)", i, gap, got)
		}
	}
	if len(got) < 7 {
		t.Errorf("half: %d emails by 2026-03-11; want daily reminders", len(got))
	}

	// A restart, and the daily contact's timer fires again: nothing is sent twice.
	before := len(e.smtp.Messages())
	r.stop()
	r2 := e.start(e.config(), serviceDeps())
	if err := r2.svc.App().Commands.Wake.Handle(t.Context(), wakeOf(ny, at("2026-03-08T12:00:00Z"))); err != nil {
		t.Fatal(err)
	}
	if err := r2.svc.App().Commands.Wake.Handle(t.Context(), wakeOf(half, e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if after := len(e.smtp.Messages()); after != before {
		t.Errorf("%d emails after the restart; want none", after-before)
	}
}

// An alert that resolves before a contact's digest is never sent to that contact; a contact
// told about it hears that it resolved, once.
func TestDigest_alertResolvedBeforeItIsDueIsNotSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.start(e.config(), serviceDeps())
	acct := unique("m")
	daily := e.addContact(r, acct, contact.Settings{Email: "daily@acme.test", Frequency: freqDaily, DailyHour: 8})
	imm := e.addContact(r, acct, contact.Settings{Email: "imm@acme.test", Frequency: freqImmediate, HasLogin: true})

	ref := alertRef(acct, "", "wms-1", "o2", "validation_failed", false)
	e.needsAttention(ref)
	e.advance(at("2026-03-07T23:50:00Z"))
	e.resolved(ref)
	e.advance(at("2026-03-09T09:00:00Z"))

	if n := len(e.mail(daily.GetEmail())); n != 0 {
		t.Errorf("the daily contact received %d emails about an alert that resolved before its digest", n)
	}
	if n := count(e.mailboxEvents(daily), "NotificationIntended"); n != 0 {
		t.Errorf("the daily contact's mailbox intended %d notifications", n)
	}
	msgs := e.mail(imm.GetEmail())
	checkTimes(t, "imm", e.sentTimes(imm), "2026-03-07T23:05:00Z", "2026-03-08T00:00:00Z")
	if len(msgs) == 2 && (!strings.Contains(msgs[1].Subject, "1 resolved") || !strings.Contains(msgs[1].Text, "Resolved")) {
		t.Errorf("resolution email: %q\n%s", msgs[1].Subject, msgs[1].Text)
	}
}

// A warehouse's contact receives the alerts of every merchant the warehouse serves, with links
// scoped to the merchant's account, and nothing of another warehouse's merchants.
func TestWarehouseContact_receivesItsMerchantsAlerts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.start(e.config(), serviceDeps())
	wh, otherWH := unique("w"), unique("w")
	m1, m2 := unique("m"), unique("m")
	whc := e.addContact(r, wh, contact.Settings{Email: "ops@3pl.test", Frequency: freqImmediate, HasLogin: true})
	m1c := e.addContact(r, m1, contact.Settings{Email: "owner@m1.test", Frequency: freqImmediate, HasLogin: true})

	ref1 := alertRef(m1, wh, "wms-1", "o1", "ship_method_unmapped", true)
	e.fixer.add(ref1, "cart-1", "EXPRESS")
	e.needsAttention(ref1)
	e.needsAttention(alertRef(m2, otherWH, "wms-2", "o9", "ship_method_unmapped", true))

	got := e.mail(whc.GetEmail())
	if len(got) != 1 {
		t.Fatalf("the warehouse contact received %d emails; want 1 (its merchant's alert only)", len(got))
	}
	if !strings.Contains(got[0].Text, "(account "+m1+")") {
		t.Errorf("the email does not name the merchant:\n%s", got[0].Text)
	}
	fix := links(got[0])["map-ship-method"]
	if !strings.Contains(fix, "/links/"+m1+"/map-ship-method?") {
		t.Errorf("link %q is not scoped to the merchant %s", fix, m1)
	}
	if !strings.Contains(got[0].Header.Get("List-Unsubscribe"), "/links/"+wh+"/unsubscribe?") {
		t.Errorf("unsubscribe %q is not the warehouse contact's", got[0].Header.Get("List-Unsubscribe"))
	}
	if n := len(e.mail(m1c.GetEmail())); n != 1 {
		t.Errorf("the merchant's own contact received %d emails; want 1", n)
	}
	// The warehouse contact's notification log lists it under the warehouse account.
	ns, err := r.svc.App().Queries.ListNotifications.Handle(t.Context(), listAll(wh))
	if err != nil || len(ns) != 1 {
		t.Fatalf("ListNotifications(%s) = %d, %v", wh, len(ns), err)
	}
}
