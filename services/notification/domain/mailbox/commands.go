package mailbox

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/services/notification/domain/cadence"
)

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// Queue queues an alert that needs attention for the contact, and intends its immediate
// notification when the alert type is immediate or the contact's frequency is. It returns the
// immediate notification's id ("" when none). A contact whose frequency is off queues nothing;
// queuing the same opening again changes nothing.
func (m *Mailbox) Queue(contact *notificationv1.Contact, q *notificationv1.QueuedAlert, now time.Time) string {
	cad := cadence.Of(contact)
	if cad.Off() {
		return ""
	}
	id := q.GetAlert().GetAlertId()
	if cur, ok := m.alerts[id]; ok && !cur.closed && cur.incarnation() == q.GetAlert().GetIncarnation() &&
		cur.needsAt().Equal(q.GetNeedsAttentionAt().AsTime()) {
		return ""
	}
	m.raise(&notificationv1.AlertQueued{ContactId: m.stream.ID, Alert: proto.CloneOf(q), QueuedAt: ts(now)})
	en := m.alerts[id]
	if !q.GetAlert().GetImmediate() && !cad.Immediate() {
		return ""
	}
	if en.coveredBy != "" {
		return ""
	}
	windowEnd := cad.Next(now)
	nid := ImmediateID(m.stream, q)
	if _, done := m.byID[nid]; done {
		return ""
	}
	m.raise(&notificationv1.NotificationIntended{
		NotificationId: nid, ContactId: m.stream.ID, AccountId: m.stream.Account,
		Kind:  notificationv1.NotificationKind_NOTIFICATION_KIND_IMMEDIATE,
		Email: contact.GetEmail(), Name: contact.GetName(), TimeZone: contact.GetTimeZone(), Frequency: contact.GetFrequency(),
		WindowStart: ts(now), WindowEnd: ts(windowEnd),
		Alerts:     []*notificationv1.NotifiedAlert{m.notified(en, notificationv1.Section_SECTION_NEW)},
		IntendedAt: ts(now),
	})
	return nid
}

// Close records that a queued alert was resolved or dismissed. An alert the mailbox does not
// hold (or holds in another incarnation) changes nothing.
func (m *Mailbox) Close(alertID string, incarnation uint32, status alertsv1.AlertStatus, at time.Time) {
	en, ok := m.alerts[alertID]
	if !ok || en.closed || en.incarnation() != incarnation {
		return
	}
	m.raise(&notificationv1.QueuedAlertClosed{ContactId: m.stream.ID, AlertId: alertID, Incarnation: incarnation,
		Status: status, ClosedAt: ts(at)})
}

// Cover records that an alert is covered by the connection_down alert connAlertID.
func (m *Mailbox) Cover(alertID string, record *connectorv1.RecordRef, connAlertID string, at time.Time) {
	if c, ok := m.covers[connAlertID]; ok {
		if _, ok := c.records[alertID]; ok {
			return
		}
	}
	m.raise(&notificationv1.QueuedAlertCovered{ContactId: m.stream.ID, AlertId: alertID, Record: proto.CloneOf(record),
		ConnectionAlertId: connAlertID, CoveredAt: ts(at)})
}

// Uncover records that the outage covering an alert ended.
func (m *Mailbox) Uncover(alertID, connAlertID string, at time.Time) {
	c, ok := m.covers[connAlertID]
	if !ok {
		return
	}
	if _, ok := c.records[alertID]; !ok {
		return
	}
	m.raise(&notificationv1.QueuedAlertUncovered{ContactId: m.stream.ID, AlertId: alertID, ConnectionAlertId: connAlertID,
		UncoveredAt: ts(at)})
}

// notified returns what a notification says about a queued alert.
func (m *Mailbox) notified(en *entry, section notificationv1.Section) *notificationv1.NotifiedAlert {
	n := &notificationv1.NotifiedAlert{Alert: proto.CloneOf(en.q), Section: section, Reminder: en.told}
	if section == notificationv1.Section_SECTION_RESOLVED {
		n.ClosedStatus = en.closedStatus
	}
	if c, ok := m.covers[en.id()]; ok {
		n.CoveredRecords = uint32(len(c.records))
		for _, id := range c.order {
			if len(n.CoveredExamples) >= m.cfg.CoveredExamples {
				break
			}
			n.CoveredExamples = append(n.CoveredExamples, proto.CloneOf(c.records[id]))
		}
	}
	return n
}

// due returns when a queued alert is due in a digest of cad, and in which section; ok is false
// for an alert no digest lists now (in flight, or covered by an outage).
func (m *Mailbox) due(en *entry, cad cadence.Cadence) (at time.Time, section notificationv1.Section, ok bool) {
	if en.pending != "" || (en.coveredBy != "" && !en.closed) {
		return time.Time{}, 0, false
	}
	switch {
	case en.closed:
		if en.told == 0 {
			return time.Time{}, 0, false
		}
		section = notificationv1.Section_SECTION_RESOLVED
		if cad.Immediate() {
			// Resolutions alone do not make an immediate contact's phone buzz: at most every
			// 30 minutes.
			at = cadence.New(notificationv1.Frequency_FREQUENCY_EVERY_30_MINUTES, 0, cad.Location()).Ceil(en.closedAt)
		} else {
			at = cad.Ceil(en.closedAt)
		}
	case en.told == 0:
		section, at = notificationv1.Section_SECTION_NEW, cad.Ceil(en.queuedAt)
	default:
		section, at = notificationv1.Section_SECTION_STILL_OPEN, cad.Ceil(en.lastToldAt.Add(m.reminderWait(en)))
	}
	// Never twice in one window.
	if !en.lastWindow.IsZero() && !at.After(en.lastWindow) {
		at = cad.Next(en.lastWindow)
	}
	return at, section, true
}

// reminderWait is how long after it was last told a still-open alert is reminded.
func (m *Mailbox) reminderWait(en *entry) time.Duration {
	since := en.needsAt()
	if fs := en.firstSeen(); !fs.IsZero() && fs.Before(since) && fs.Unix() > 0 {
		since = fs
	}
	if en.lastToldAt.Sub(since) >= 24*time.Hour {
		return m.cfg.MaxReminder
	}
	w := m.cfg.FirstReminder
	for i := uint32(1); i < en.told && w < m.cfg.MaxReminder; i++ {
		w *= 2
	}
	return min(w, m.cfg.MaxReminder)
}

// Digest intends the contact's digest when one is due at now: some queued alert is due (new,
// a reminder, or resolved since it was told) and no digest went in this window yet. It returns
// the digest's id, or "" when none is due.
func (m *Mailbox) Digest(contact *notificationv1.Contact, now time.Time) string {
	cad := cadence.Of(contact)
	if cad.Off() {
		return ""
	}
	windowEnd := cad.Floor(now)
	if !cad.Immediate() && !windowEnd.After(m.lastDigest) {
		return ""
	}
	var (
		items  []*notificationv1.NotifiedAlert
		anyDue bool
	)
	for _, en := range m.sortedAlerts() {
		at, section, ok := m.due(en, cad)
		if !ok {
			continue
		}
		isDue := !at.After(now)
		if !isDue && section != notificationv1.Section_SECTION_RESOLVED {
			continue
		}
		anyDue = anyDue || isDue
		items = append(items, m.notified(en, section))
	}
	if !anyDue {
		return ""
	}
	windowStart := m.lastDigest
	if !cad.Immediate() {
		windowStart = cad.Floor(windowEnd.Add(-time.Nanosecond))
	}
	id := DigestID(m.stream, windowEnd)
	if _, done := m.byID[id]; done {
		return ""
	}
	m.raise(&notificationv1.NotificationIntended{
		NotificationId: id, ContactId: m.stream.ID, AccountId: m.stream.Account,
		Kind:  notificationv1.NotificationKind_NOTIFICATION_KIND_DIGEST,
		Email: contact.GetEmail(), Name: contact.GetName(), TimeZone: contact.GetTimeZone(), Frequency: contact.GetFrequency(),
		WindowStart: ts(windowStart), WindowEnd: ts(windowEnd), Alerts: items, IntendedAt: ts(now),
	})
	return id
}

// Delivery is an intended notification to send now, and the number of the attempt.
type Delivery struct {
	Notification *notificationv1.NotificationIntended
	Attempt      uint32
}

// Deliveries returns the notifications to send at now: those named in mine (the caller intended
// them, or handles again the input that intended them) that were never attempted, those whose
// claim ran out (their process died before the outcome), and those whose retry is due.
func (m *Mailbox) Deliveries(now time.Time, mine ...string) []Delivery {
	var out []Delivery
	for _, n := range m.notes {
		if n.status != notificationv1.NotificationStatus_NOTIFICATION_STATUS_PENDING {
			continue
		}
		id := n.in.GetNotificationId()
		var ok bool
		switch {
		case n.attempts == 0:
			for _, x := range mine {
				ok = ok || x == id
			}
			ok = ok || !n.in.GetIntendedAt().AsTime().Add(m.cfg.Claim).After(now)
		default:
			ok = !n.retryAt.After(now)
		}
		if ok {
			out = append(out, Delivery{Notification: proto.CloneOf(n.in), Attempt: n.attempts + 1})
		}
	}
	return out
}

// RecordSent records that the notification's email was accepted. A notification that is not
// pending (already sent or given up) changes nothing.
func (m *Mailbox) RecordSent(id string, attempt uint32, messageID string, now time.Time) {
	n, ok := m.byID[id]
	if !ok || n.status != notificationv1.NotificationStatus_NOTIFICATION_STATUS_PENDING {
		return
	}
	m.raise(&notificationv1.NotificationSent{NotificationId: id, ContactId: m.stream.ID, MessageId: messageID,
		Attempt: attempt, SentAt: ts(now)})
}

// RecordFailed records a failed attempt: the next is due after the retry backoff, unless the
// failure is permanent or the attempts are used up, which gives the notification up (the alerts
// it listed go in the next email). It returns whether the notification was given up.
func (m *Mailbox) RecordFailed(id string, attempt uint32, reason string, permanent bool, now time.Time) bool {
	n, ok := m.byID[id]
	if !ok || n.status != notificationv1.NotificationStatus_NOTIFICATION_STATUS_PENDING {
		return false
	}
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	ev := &notificationv1.NotificationFailed{NotificationId: id, ContactId: m.stream.ID, Attempt: attempt, Error: reason,
		FailedAt: ts(now)}
	if permanent || int(attempt) >= m.cfg.Retry.Attempts {
		ev.Final = true
	} else {
		ev.RetryAt = ts(now.Add(m.cfg.Retry.backoff(int(attempt))))
	}
	m.raise(ev)
	return ev.Final
}

// NextWake returns when the mailbox next has something to do for the contact (nil contact: a
// removed one): a claim that runs out, a retry, a digest; the zero time when nothing.
func (m *Mailbox) NextWake(contact *notificationv1.Contact, now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, n := range m.notes {
		if n.status != notificationv1.NotificationStatus_NOTIFICATION_STATUS_PENDING {
			continue
		}
		if n.attempts == 0 {
			consider(n.in.GetIntendedAt().AsTime().Add(m.cfg.Claim))
		} else {
			consider(n.retryAt)
		}
	}
	if contact == nil {
		return next
	}
	cad := cadence.Of(contact)
	if cad.Off() {
		return next
	}
	var digest time.Time
	for _, en := range m.alerts {
		if at, _, ok := m.due(en, cad); ok && (digest.IsZero() || at.Before(digest)) {
			digest = at
		}
	}
	if !digest.IsZero() && !cad.Immediate() && !digest.After(m.lastDigest) {
		digest = cad.Next(m.lastDigest)
	}
	consider(digest)
	return next
}

// Pending reports whether a notification is intended and not yet sent or given up.
func (m *Mailbox) Pending(id string) bool {
	n, ok := m.byID[id]
	return ok && n.status == notificationv1.NotificationStatus_NOTIFICATION_STATUS_PENDING
}
