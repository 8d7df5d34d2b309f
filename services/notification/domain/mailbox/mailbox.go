// Package mailbox is one contact's notification log, one stream per contact
// (evt.mailbox.<account>.<contact id>.<EventType>): the alerts queued for the contact (that need
// attention, with their closing and outage cover), and every notification intended, sent or
// failed.
//
// What the contact is told, and when:
//
//   - An immediate alert type (AlertRef.immediate), or any alert for a contact whose frequency
//     is immediate, is intended at once (Queue) as its own notification.
//   - Everything else waits for the contact's next digest slot (package cadence): a digest lists
//     the alerts that are new, reminders of alerts told before that are still open, and alerts
//     told before that were resolved or dismissed since, grouped by connection by the renderer.
//     An alert that closes before it was told is dropped: nothing is sent for it.
//   - Reminders of a still-open alert wait Config.FirstReminder after it was told, then twice as
//     long each time, up to Config.MaxReminder; once the alert is older than a day, the wait is
//     MaxReminder (daily).
//   - A contact never gets the same alert twice in one window (the digest slot the notification
//     belongs to), and gets at most one digest per window.
//   - Alerts covered by a connection outage appear under the connection_down alert (a count and
//     a few examples), not one by one.
//
// Delivery is recorded around the send: NotificationIntended before (with everything the email
// says), then NotificationSent, or NotificationFailed with the next attempt's time or final. An
// intended notification whose process died before the outcome is sent again by whoever looks
// after Config.Claim (or at once by the redelivered input that intended it): at most one
// duplicate per crash, and a sent notification is never sent again.
package mailbox

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/aggregate"
)

// AggregateType is the aggregate type of mailboxes. A persisted identifier.
const AggregateType = "mailbox"

// Stream returns the mailbox stream of a contact.
func Stream(account, contactID string) events.StreamID {
	return events.StreamID{AggregateType: AggregateType, Account: account, ID: contactID}
}

// EventTypes lists the events a mailbox stores.
func EventTypes() []proto.Message {
	return []proto.Message{
		&notificationv1.AlertQueued{}, &notificationv1.QueuedAlertClosed{}, &notificationv1.QueuedAlertCovered{},
		&notificationv1.QueuedAlertUncovered{}, &notificationv1.NotificationIntended{},
		&notificationv1.NotificationSent{}, &notificationv1.NotificationFailed{},
	}
}

// Mailbox is one contact's notification log. Build empty ones with New or NewFactory; they
// change only by folding events (Apply) or by commands, which raise events and fold them. Not
// safe for concurrent use.
type Mailbox struct {
	aggregate.Recorder

	cfg    Config
	stream events.StreamID

	alerts map[string]*entry
	covers map[string]*cover
	notes  []*note
	byID   map[string]*note
	// lastDigest is the window end of the last digest intended.
	lastDigest time.Time
}

var _ aggregate.Root = (*Mailbox)(nil)

// entry is a queued alert.
type entry struct {
	q        *notificationv1.QueuedAlert
	queuedAt time.Time

	closed       bool
	closedStatus alertsv1.AlertStatus
	closedAt     time.Time

	// told counts the notifications sent that listed the alert; lastToldAt is the last one's
	// intent time and lastWindow its window end.
	told       uint32
	lastToldAt time.Time
	lastWindow time.Time
	// pending is the notification in flight that lists the alert.
	pending string
	// coveredBy is the connection_down alert that covers it.
	coveredBy string
}

func (e *entry) id() string           { return e.q.GetAlert().GetAlertId() }
func (e *entry) incarnation() uint32  { return e.q.GetAlert().GetIncarnation() }
func (e *entry) needsAt() time.Time   { return e.q.GetNeedsAttentionAt().AsTime() }
func (e *entry) firstSeen() time.Time { return e.q.GetFirstSeenAt().AsTime() }

// cover is what a connection_down alert covers.
type cover struct {
	records map[string]*connectorv1.RecordRef
	order   []string
}

// note is one notification.
type note struct {
	in        *notificationv1.NotificationIntended
	status    notificationv1.NotificationStatus
	attempts  uint32
	lastErr   string
	retryAt   time.Time
	sentAt    time.Time
	messageID string
}

// New returns an empty mailbox for stream with cfg (defaults applied).
func New(stream events.StreamID, cfg Config) *Mailbox {
	return &Mailbox{cfg: cfg.WithDefaults(), stream: stream, alerts: map[string]*entry{}, covers: map[string]*cover{},
		byID: map[string]*note{}}
}

// NewFactory returns a constructor of empty mailboxes with cfg, for repositories.
func NewFactory(cfg Config) (func(events.StreamID) *Mailbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return func(s events.StreamID) *Mailbox { return New(s, cfg) }, nil
}

// ContactID returns the mailbox's contact.
func (m *Mailbox) ContactID() string { return m.stream.ID }

// Account returns the contact's account.
func (m *Mailbox) Account() string { return m.stream.Account }

// Queued reports whether the alert is queued (open or told and closed since).
func (m *Mailbox) Queued(alertID string) bool { _, ok := m.alerts[alertID]; return ok }

// Apply folds one stored event.
func (m *Mailbox) Apply(r events.Record) error {
	if err := r.Decoded(); err != nil {
		return err
	}
	return m.apply(r.Message)
}

func (m *Mailbox) raise(msg proto.Message) {
	_ = m.apply(msg)
	m.Raise(msg)
}

func (m *Mailbox) apply(msg proto.Message) error {
	switch e := msg.(type) {
	case *notificationv1.AlertQueued:
		q := e.GetAlert()
		id := q.GetAlert().GetAlertId()
		if cur, ok := m.alerts[id]; ok && !cur.closed && cur.incarnation() == q.GetAlert().GetIncarnation() {
			cur.q = proto.CloneOf(q)
			return nil
		}
		en := &entry{q: proto.CloneOf(q), queuedAt: e.GetQueuedAt().AsTime()}
		for conn, c := range m.covers {
			if _, ok := c.records[id]; ok {
				en.coveredBy = conn
			}
		}
		m.alerts[id] = en
	case *notificationv1.QueuedAlertClosed:
		en, ok := m.alerts[e.GetAlertId()]
		if !ok || en.incarnation() != e.GetIncarnation() || en.closed {
			return nil
		}
		en.closed, en.closedStatus, en.closedAt = true, e.GetStatus(), e.GetClosedAt().AsTime()
		if en.told == 0 && en.pending == "" {
			delete(m.alerts, e.GetAlertId())
		}
	case *notificationv1.QueuedAlertCovered:
		c, ok := m.covers[e.GetConnectionAlertId()]
		if !ok {
			c = &cover{records: map[string]*connectorv1.RecordRef{}}
			m.covers[e.GetConnectionAlertId()] = c
		}
		if _, ok := c.records[e.GetAlertId()]; !ok {
			c.order = append(c.order, e.GetAlertId())
		}
		c.records[e.GetAlertId()] = proto.CloneOf(e.GetRecord())
		if en, ok := m.alerts[e.GetAlertId()]; ok {
			en.coveredBy = e.GetConnectionAlertId()
		}
	case *notificationv1.QueuedAlertUncovered:
		if c, ok := m.covers[e.GetConnectionAlertId()]; ok {
			delete(c.records, e.GetAlertId())
			c.order = slices.DeleteFunc(c.order, func(id string) bool { return id == e.GetAlertId() })
			if len(c.records) == 0 {
				delete(m.covers, e.GetConnectionAlertId())
			}
		}
		if en, ok := m.alerts[e.GetAlertId()]; ok && en.coveredBy == e.GetConnectionAlertId() {
			en.coveredBy = ""
		}
	case *notificationv1.NotificationIntended:
		n := &note{in: proto.CloneOf(e), status: notificationv1.NotificationStatus_NOTIFICATION_STATUS_PENDING}
		for _, a := range e.GetAlerts() {
			if en, ok := m.alerts[a.GetAlert().GetAlert().GetAlertId()]; ok && en.incarnation() == a.GetAlert().GetAlert().GetIncarnation() {
				en.pending = e.GetNotificationId()
			}
		}
		if e.GetKind() == notificationv1.NotificationKind_NOTIFICATION_KIND_DIGEST {
			m.lastDigest = e.GetWindowEnd().AsTime()
		}
		m.notes = append(m.notes, n)
		m.byID[e.GetNotificationId()] = n
		m.trim()
	case *notificationv1.NotificationSent:
		n, ok := m.byID[e.GetNotificationId()]
		if !ok {
			return nil
		}
		n.status, n.attempts, n.sentAt, n.messageID = notificationv1.NotificationStatus_NOTIFICATION_STATUS_SENT,
			e.GetAttempt(), e.GetSentAt().AsTime(), e.GetMessageId()
		n.retryAt = time.Time{}
		for _, a := range n.in.GetAlerts() {
			en, ok := m.alerts[a.GetAlert().GetAlert().GetAlertId()]
			if !ok || en.pending != n.in.GetNotificationId() {
				continue
			}
			en.pending = ""
			if a.GetSection() == notificationv1.Section_SECTION_RESOLVED {
				delete(m.alerts, en.id())
				continue
			}
			en.told++
			en.lastToldAt = n.in.GetIntendedAt().AsTime()
			en.lastWindow = n.in.GetWindowEnd().AsTime()
		}
		m.trim()
	case *notificationv1.NotificationFailed:
		n, ok := m.byID[e.GetNotificationId()]
		if !ok {
			return nil
		}
		n.attempts, n.lastErr = e.GetAttempt(), e.GetError()
		n.retryAt = time.Time{}
		if e.GetRetryAt() != nil {
			n.retryAt = e.GetRetryAt().AsTime()
		}
		if e.GetFinal() {
			n.status = notificationv1.NotificationStatus_NOTIFICATION_STATUS_FAILED
			for _, a := range n.in.GetAlerts() {
				en, ok := m.alerts[a.GetAlert().GetAlert().GetAlertId()]
				if !ok || en.pending != n.in.GetNotificationId() {
					continue
				}
				en.pending = ""
				if en.closed && en.told == 0 {
					delete(m.alerts, en.id())
				}
			}
			m.trim()
		}
	default:
		return fmt.Errorf("mailbox: unexpected event %T", msg)
	}
	return nil
}

// trim forgets the oldest finished notifications beyond Config.KeepNotifications.
func (m *Mailbox) trim() {
	finished := 0
	for _, n := range m.notes {
		if n.status != notificationv1.NotificationStatus_NOTIFICATION_STATUS_PENDING {
			finished++
		}
	}
	if finished <= m.cfg.KeepNotifications {
		return
	}
	drop := finished - m.cfg.KeepNotifications
	m.notes = slices.DeleteFunc(m.notes, func(n *note) bool {
		if drop > 0 && n.status != notificationv1.NotificationStatus_NOTIFICATION_STATUS_PENDING {
			drop--
			delete(m.byID, n.in.GetNotificationId())
			return true
		}
		return false
	})
}

// Notifications returns the notifications the mailbox keeps, oldest first.
func (m *Mailbox) Notifications() []*notificationv1.Notification {
	out := make([]*notificationv1.Notification, 0, len(m.notes))
	for _, n := range m.notes {
		out = append(out, n.snapshot())
	}
	return out
}

// Notification returns one notification, and false when the mailbox does not keep it.
func (m *Mailbox) Notification(id string) (*notificationv1.Notification, bool) {
	n, ok := m.byID[id]
	if !ok {
		return nil, false
	}
	return n.snapshot(), true
}

func (n *note) snapshot() *notificationv1.Notification {
	out := &notificationv1.Notification{
		NotificationId: n.in.GetNotificationId(), ContactId: n.in.GetContactId(), Email: n.in.GetEmail(),
		Kind: n.in.GetKind(), Status: n.status, Attempts: n.attempts, LastError: n.lastErr, MessageId: n.messageID,
		IntendedAt: n.in.GetIntendedAt(),
	}
	for _, a := range n.in.GetAlerts() {
		out.Alerts = append(out.Alerts, proto.CloneOf(a))
	}
	if !n.sentAt.IsZero() {
		out.SentAt = ts(n.sentAt)
	}
	if !n.retryAt.IsZero() {
		out.NextAttemptAt = ts(n.retryAt)
	}
	return out
}

// sortedAlerts returns the queued alerts in the order they were queued.
func (m *Mailbox) sortedAlerts() []*entry {
	out := make([]*entry, 0, len(m.alerts))
	for _, e := range m.alerts {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *entry) int {
		if c := a.queuedAt.Compare(b.queuedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.id(), b.id())
	})
	return out
}

// ImmediateID returns the id of the immediate notification of an alert's opening to a contact.
func ImmediateID(stream events.StreamID, q *notificationv1.QueuedAlert) string {
	return events.DeterministicEventID("notification-immediate", stream.String(), q.GetAlert().GetAlertId(),
		strconv.FormatUint(uint64(q.GetAlert().GetIncarnation()), 10), q.GetNeedsAttentionAt().AsTime().UTC().Format(time.RFC3339Nano))
}

// DigestID returns the id of a contact's digest of the window ending at windowEnd.
func DigestID(stream events.StreamID, windowEnd time.Time) string {
	return events.DeterministicEventID("notification-digest", stream.String(), windowEnd.UTC().Format(time.RFC3339Nano))
}
