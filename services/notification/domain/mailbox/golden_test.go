package mailbox_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/notification/domain/mailbox"
)

// record writes a history that does not exist yet. Histories stand for events already stored:
// never regenerate one; record a new scenario under a new name instead.
var record = flag.Bool("record", false, "record golden histories that do not exist yet")

type line struct {
	EventType string          `json:"event_type"`
	Version   uint64          `json:"version"`
	Payload   json.RawMessage `json:"payload"`
}

var (
	stream  = mailbox.Stream("acme", "c1")
	contact = &notificationv1.Contact{ContactId: "c1", AccountId: "acme", Email: "ops@acme.test", TimeZone: "UTC",
		Frequency: notificationv1.Frequency_FREQUENCY_HOURLY}
	t0 = time.Date(2026, 3, 7, 23, 5, 0, 0, time.UTC)
)

func queued(id, typ string, immediate bool, at time.Time) *notificationv1.QueuedAlert {
	return &notificationv1.QueuedAlert{
		Alert: &alertsv1.AlertRef{AlertId: id, Incarnation: 1, AlertType: typ, Immediate: immediate,
			Record: &connectorv1.RecordRef{AccountId: "acme", ConnectionId: "wms-1", RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER,
				RecordId: id, OrderNumber: "#" + id}},
		Reason: alertsv1.AttentionReason_ATTENTION_REASON_MANUAL_ACTION, Message: "failed", Occurrences: 1,
		FirstSeenAt: timestamppb.New(at), NeedsAttentionAt: timestamppb.New(at),
	}
}

// scenario drives a mailbox through an immediate notification, a digest that fails once and is
// sent on its retry, a closing and a reminder.
func scenario() []proto.Message {
	m := mailbox.New(stream, mailbox.Config{})
	imm := m.Queue(contact, queued("a1", "ship_method_unmapped", true, t0), t0)
	m.RecordSent(imm, 1, "<a1@x>", t0.Add(time.Second))
	m.Queue(contact, queued("a2", "address_invalid", false, t0.Add(5*time.Minute)), t0.Add(5*time.Minute))
	d := m.Digest(contact, at("2026-03-08T00:00:00Z"))
	m.RecordFailed(d, 1, "451 try later", false, at("2026-03-08T00:00:01Z"))
	m.RecordSent(d, 2, "<d@x>", at("2026-03-08T00:00:31Z"))
	m.Close("a1", 1, alertsv1.AlertStatus_ALERT_STATUS_RESOLVED, at("2026-03-08T00:10:00Z"))
	m.Digest(contact, at("2026-03-08T01:00:00Z"))
	return m.Changes()
}

// wantState is the reviewed state the history rebuilds.
var wantState = []string{
	"NOTIFICATION_KIND_IMMEDIATE NOTIFICATION_STATUS_SENT attempts=1 [a1:SECTION_NEW]",
	"NOTIFICATION_KIND_DIGEST NOTIFICATION_STATUS_SENT attempts=2 [a2:SECTION_NEW]",
	"NOTIFICATION_KIND_DIGEST NOTIFICATION_STATUS_PENDING attempts=0 [a1:SECTION_RESOLVED a2:SECTION_STILL_OPEN]",
}

func at(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

func TestGolden_historyRebuildsTheReviewedState(t *testing.T) {
	const path = "testdata/digest_retry_close.history.jsonl"
	if _, err := os.Stat(path); os.IsNotExist(err) && *record {
		var b bytes.Buffer
		for i, msg := range scenario() {
			payload, err := protojson.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			l, _ := json.Marshal(line{EventType: events.TypeName(msg), Version: uint64(i + 1), Payload: payload})
			b.Write(append(l, '\n'))
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (record it once with -record)", err)
	}
	reg := events.NewRegistry(mailbox.EventTypes()...)
	m := mailbox.New(stream, mailbox.Config{})
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		msg, err := reg.New(l.EventType)
		if err != nil {
			t.Fatal(err)
		}
		if err := protojson.Unmarshal(l.Payload, msg); err != nil {
			t.Fatal(err)
		}
		rec := events.Record{Event: events.Event{Envelope: events.Envelope{EventType: l.EventType, Version: l.Version}, Message: msg}}
		if err := m.Apply(rec); err != nil {
			t.Fatalf("version %d: %v", l.Version, err)
		}
	}
	// The reviewed state.
	var got []string
	for _, n := range m.Notifications() {
		var ids []string
		for _, a := range n.GetAlerts() {
			ids = append(ids, a.GetAlert().GetAlert().GetAlertId()+":"+a.GetSection().String())
		}
		got = append(got, fmt.Sprintf("%s %s attempts=%d %v", n.GetKind(), n.GetStatus(), n.GetAttempts(), ids))
	}
	if fmt.Sprint(got) != fmt.Sprint(wantState) {
		t.Errorf("rebuilt notifications\n  %q\nwant\n  %q", got, wantState)
	}
	if !m.Queued("a1") || !m.Queued("a2") {
		t.Error("a1 (told, closed, its resolution in flight) and a2 (open) must stay queued")
	}
	if next := m.NextWake(contact, at("2026-03-08T01:00:00Z")); !next.Equal(at("2026-03-08T01:02:00Z")) {
		t.Errorf("NextWake = %s; want the claim of the pending digest to run out at 01:02", next)
	}
}
