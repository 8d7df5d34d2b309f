// Package email renders notifications as emails and hands them to an SMTP transport: the
// app.Mailer the service uses.
//
// Rendering is deterministic: a notification (NotificationIntended, which holds everything the
// email says) always renders the same message — the same Message-ID (<notification id@domain>),
// the same signed links (they expire Config.LinkTTL after the notification was intended), the
// same MIME boundary — so a notification sent again after a crash is the same email.
//
// A message is multipart/alternative with a plain-text and an HTML part (quoted-printable,
// UTF-8; the HTML from html/template with auto-escaping), and the headers From, To, Subject
// (RFC 2047 when needed), Date, Message-ID, MIME-Version, Auto-Submitted: auto-generated,
// List-Unsubscribe (the contact's signed unsubscribe link) and List-Unsubscribe-Post:
// List-Unsubscribe=One-Click (RFC 8058), and X-Rebound-Notification-Id.
package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	htmltemplate "html/template"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/services/notification/app"
	"github.com/reboundhq/rebound/services/notification/domain/cadence"
	"github.com/reboundhq/rebound/services/notification/link"
)

//go:embed templates/*.tmpl
var templates embed.FS

var (
	htmlTmpl = htmltemplate.Must(htmltemplate.ParseFS(templates, "templates/email.html.tmpl"))
	textTmpl = texttemplate.Must(texttemplate.ParseFS(templates, "templates/email.txt.tmpl"))
)

// Transport delivers a whole message to one recipient (outbound/smtp.Sender).
type Transport interface {
	Send(ctx context.Context, to string, data []byte) error
}

// Config configures the renderer.
type Config struct {
	// From is the From header's address; default "rebound@localhost".
	From string
	// FromName is the From header's name; default "Rebound".
	FromName string
	// Domain is the right-hand side of Message-IDs; default the From address's domain.
	Domain string
	// LinkTTL is how long links are valid after the notification was intended; default 7 days.
	LinkTTL time.Duration
}

// Mailer renders notifications and sends them through a transport. It is safe for concurrent
// use.
type Mailer struct {
	cfg   Config
	links *link.Signer
	t     Transport
}

var _ app.Mailer = (*Mailer)(nil)

// New returns a mailer.
func New(t Transport, links *link.Signer, cfg Config) (*Mailer, error) {
	if t == nil || links == nil {
		return nil, fmt.Errorf("email: New needs a transport and a link signer")
	}
	if cfg.From == "" {
		cfg.From = "rebound@localhost"
	}
	if _, err := mail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("email: From %q is not an address", cfg.From)
	}
	if cfg.FromName == "" {
		cfg.FromName = "Rebound"
	}
	if cfg.Domain == "" {
		_, cfg.Domain, _ = strings.Cut(cfg.From, "@")
	}
	if cfg.LinkTTL == 0 {
		cfg.LinkTTL = link.DefaultTTL
	}
	return &Mailer{cfg: cfg, links: links, t: t}, nil
}

// Send renders the notification and sends it; it returns the Message-ID.
func (m *Mailer) Send(ctx context.Context, n *notificationv1.NotificationIntended) (string, error) {
	msg, err := m.Render(n)
	if err != nil {
		return "", fmt.Errorf("%w: rendering notification %s: %w", app.ErrPermanent, n.GetNotificationId(), err)
	}
	if err := m.t.Send(ctx, n.GetEmail(), msg.Bytes()); err != nil {
		return "", err
	}
	return msg.MessageID, nil
}

// Message is a rendered email.
type Message struct {
	MessageID string
	// Header holds the headers in the order they are written.
	Header [][2]string
	Text   string
	HTML   string
	// boundary separates the parts.
	boundary string
}

// Bytes returns the message as sent (CRLF line ends).
func (msg *Message) Bytes() []byte {
	var b bytes.Buffer
	for _, h := range msg.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=%q\r\n\r\n", msg.boundary)
	for _, part := range []struct{ typ, body string }{{"text/plain", msg.Text}, {"text/html", msg.HTML}} {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", msg.boundary, part.typ)
		w := quotedprintable.NewWriter(&b)
		_, _ = w.Write([]byte(strings.ReplaceAll(part.body, "\n", "\r\n")))
		_ = w.Close()
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", msg.boundary)
	return b.Bytes()
}

type linkView struct{ Label, URL string }

type alertView struct {
	Section, Color, Type, Ref, Account, Message, Code, Details string
	Covered                                                    uint32
	CoveredExamples                                            []string
	Links                                                      []linkView
}

type groupView struct {
	Title, Counts string
	Alerts        []alertView
	new, open, rs int
}

type view struct {
	Subject, Name, Intro, UnsubscribeURL, ContactAccount, Frequency string
	LinkDays                                                        int
	Groups                                                          []*groupView
}

// Render renders the notification's email.
func (m *Mailer) Render(n *notificationv1.NotificationIntended) (*Message, error) {
	loc, err := cadence.LoadLocation(n.GetTimeZone())
	if err != nil {
		loc = time.UTC
	}
	expires := n.GetIntendedAt().AsTime().Add(m.cfg.LinkTTL)
	unsub, err := m.links.URL(link.Link{Action: link.Unsubscribe, Account: n.GetAccountId(), Target: n.GetContactId(),
		Contact: n.GetContactId(), Expires: expires})
	if err != nil {
		return nil, err
	}
	v := view{Name: n.GetName(), UnsubscribeURL: unsub, ContactAccount: n.GetAccountId(),
		LinkDays: int(m.cfg.LinkTTL.Round(time.Hour).Hours() / 24)}
	if v.LinkDays == 0 {
		v.LinkDays = 1
	}
	groups := map[string]*groupView{}
	var newN, openN, resolvedN int
	for _, a := range n.GetAlerts() {
		ref := a.GetAlert().GetAlert()
		rec := ref.GetRecord()
		key := rec.GetConnectionId()
		g, ok := groups[key]
		if !ok {
			title := "Connection " + rec.GetConnectionId()
			if rec.GetSystem() != "" {
				title += " (" + rec.GetSystem() + ")"
			}
			g = &groupView{Title: title}
			groups[key] = g
		}
		av := alertView{Type: humanType(ref.GetAlertType()), Ref: recordRef(rec), Message: a.GetAlert().GetMessage(),
			Code: a.GetAlert().GetCode(), Covered: a.GetCoveredRecords()}
		if rec.GetAccountId() != n.GetAccountId() {
			av.Account = rec.GetAccountId()
		}
		for _, ex := range a.GetCoveredExamples() {
			av.CoveredExamples = append(av.CoveredExamples, recordRef(ex))
		}
		since := a.GetAlert().GetFirstSeenAt().AsTime().In(loc).Format("Mon 2 Jan 15:04 MST")
		switch a.GetSection() {
		case notificationv1.Section_SECTION_RESOLVED:
			av.Section, av.Color = "Resolved", "#1a7f37"
			if a.GetClosedStatus() == alertsv1.AlertStatus_ALERT_STATUS_DISMISSED {
				av.Section = "Dismissed"
			}
			av.Details = "Failing since " + since + "; closed since your last email."
			g.rs++
			resolvedN++
		case notificationv1.Section_SECTION_STILL_OPEN:
			av.Section, av.Color = "Still open", "#9a6700"
			av.Details = fmt.Sprintf("Failing since %s, %d occurrences, %s. Reminder %d.", since, a.GetAlert().GetOccurrences(),
				reason(a.GetAlert().GetReason()), a.GetReminder())
			g.open++
			openN++
		default:
			av.Section, av.Color = "New", "#cf222e"
			av.Details = fmt.Sprintf("Failing since %s, %d occurrences, %s.", since, a.GetAlert().GetOccurrences(), reason(a.GetAlert().GetReason()))
			g.new++
			newN++
		}
		if a.GetSection() != notificationv1.Section_SECTION_RESOLVED {
			for _, act := range app.ActionsFor(ref.GetAlertType(), rec.GetRecordKind()) {
				u, err := m.links.URL(link.Link{Action: act, Account: rec.GetAccountId(), Target: ref.GetAlertId(),
					Contact: n.GetContactId(), Expires: expires})
				if err != nil {
					return nil, err
				}
				av.Links = append(av.Links, linkView{Label: actionLabel(act), URL: u})
			}
		}
		g.Alerts = append(g.Alerts, av)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g := groups[k]
		g.Counts = counts(g.new, g.open, g.rs)
		v.Groups = append(v.Groups, g)
	}
	v.Frequency = strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(n.GetFrequency().String(), "FREQUENCY_")), "_", " ")
	if n.GetKind() == notificationv1.NotificationKind_NOTIFICATION_KIND_IMMEDIATE && len(n.GetAlerts()) == 1 {
		a := n.GetAlerts()[0]
		rec := a.GetAlert().GetAlert().GetRecord()
		v.Subject = fmt.Sprintf("[Rebound] %s: %s", humanType(a.GetAlert().GetAlert().GetAlertType()), firstNonEmpty(recordRef(rec), "connection "+rec.GetConnectionId()))
		v.Intro = "An alert needs your attention now."
	} else {
		v.Subject = fmt.Sprintf("[Rebound] Alerts of %s: %s", n.GetAccountId(), counts(newN, openN, resolvedN))
		v.Intro = fmt.Sprintf("Here is what happened since your last email (%s to %s).",
			n.GetWindowStart().AsTime().In(loc).Format("Mon 2 Jan 15:04"), n.GetWindowEnd().AsTime().In(loc).Format("Mon 2 Jan 15:04 MST"))
	}

	var text, html bytes.Buffer
	if err := textTmpl.Execute(&text, v); err != nil {
		return nil, err
	}
	if err := htmlTmpl.Execute(&html, v); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(n.GetNotificationId()))
	msg := &Message{
		MessageID: "<" + n.GetNotificationId() + "@" + m.cfg.Domain + ">",
		Text:      text.String(), HTML: html.String(),
		boundary: "rebound-" + hex.EncodeToString(sum[:12]),
	}
	to := (&mail.Address{Name: n.GetName(), Address: n.GetEmail()}).String()
	msg.Header = [][2]string{
		{"From", (&mail.Address{Name: m.cfg.FromName, Address: m.cfg.From}).String()},
		{"To", to},
		{"Subject", mime.QEncoding.Encode("utf-8", v.Subject)},
		{"Date", n.GetIntendedAt().AsTime().In(loc).Format(time.RFC1123Z)},
		{"Message-ID", msg.MessageID},
		{"Auto-Submitted", "auto-generated"},
		{"List-Unsubscribe", "<" + unsub + ">"},
		{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
		{"X-Rebound-Notification-Id", n.GetNotificationId()},
	}
	return msg, nil
}

func counts(newN, open, resolved int) string {
	var parts []string
	if newN > 0 {
		parts = append(parts, fmt.Sprintf("%d new", newN))
	}
	if open > 0 {
		parts = append(parts, fmt.Sprintf("%d still open", open))
	}
	if resolved > 0 {
		parts = append(parts, fmt.Sprintf("%d resolved", resolved))
	}
	return strings.Join(parts, ", ")
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func humanType(t string) string {
	s := strings.ReplaceAll(t, "_", " ")
	s = strings.ReplaceAll(s, "sku", "SKU")
	s = strings.ReplaceAll(s, "wms", "WMS")
	if s == "" {
		return "Alert"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func recordRef(r *connectorv1.RecordRef) string {
	switch {
	case r.GetOrderNumber() != "" && r.GetRecordKind() == connectorv1.RecordKind_RECORD_KIND_TRACKING:
		return "tracking of order " + r.GetOrderNumber()
	case r.GetOrderNumber() != "":
		return "order " + r.GetOrderNumber()
	case r.GetSku() != "":
		return "SKU " + r.GetSku()
	case r.GetRecordId() != "":
		return strings.ToLower(strings.TrimPrefix(r.GetRecordKind().String(), "RECORD_KIND_")) + " " + r.GetRecordId()
	}
	return ""
}

func reason(r alertsv1.AttentionReason) string {
	switch r {
	case alertsv1.AttentionReason_ATTENTION_REASON_MANUAL_ACTION:
		return "held until someone fixes it"
	case alertsv1.AttentionReason_ATTENTION_REASON_AUTH:
		return "the system refused the credentials"
	case alertsv1.AttentionReason_ATTENTION_REASON_REJECTED:
		return "rejected, not retried"
	case alertsv1.AttentionReason_ATTENTION_REASON_CONNECTION_DOWN:
		return "the connection is down"
	case alertsv1.AttentionReason_ATTENTION_REASON_GRACE_PERIOD_EXCEEDED:
		return "still failing after the grace period"
	case alertsv1.AttentionReason_ATTENTION_REASON_RETRIES_EXHAUSTED:
		return "retries ran out, skipped"
	}
	return "needs attention"
}

func actionLabel(a link.Action) string {
	switch a {
	case link.MapShipMethod:
		return "Map the ship method"
	case link.CorrectAddress:
		return "Correct the address"
	case link.Resend:
		return "Send again"
	case link.Dismiss:
		return "Dismiss"
	}
	return string(a)
}
