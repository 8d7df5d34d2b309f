package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reboundhq/rebound/events"
)

// eventPrinter writes events for people (text) or scripts (one JSON object per line).
type eventPrinter struct {
	w    io.Writer
	json bool
}

// eventJSON is the --json form of one event. Its field names are part of the ops interface.
type eventJSON struct {
	Position      uint64          `json:"position"`
	Subject       string          `json:"subject"`
	EventID       string          `json:"event_id"`
	EventType     string          `json:"event_type"`
	AggregateType string          `json:"aggregate_type"`
	Account       string          `json:"account"`
	AggregateID   string          `json:"aggregate_id"`
	Version       uint64          `json:"version"`
	OccurredAt    time.Time       `json:"occurred_at"`
	RecordedAt    time.Time       `json:"recorded_at"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	CausationID   string          `json:"causation_id,omitempty"`
	TraceParent   string          `json:"traceparent,omitempty"`
	SchemaVersion uint32          `json:"schema_version"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	PayloadBase64 string          `json:"payload_base64,omitempty"`
}

func (p eventPrinter) print(r events.Record) error {
	if p.json {
		return p.printJSON(r)
	}
	return p.printText(r)
}

func (p eventPrinter) printJSON(r events.Record) error {
	out := eventJSON{
		Position: r.Position, Subject: events.Subject(r.Stream(), r.EventType),
		EventID: r.EventID, EventType: r.EventType, AggregateType: r.AggregateType, Account: r.Account,
		AggregateID: r.AggregateID, Version: r.Version, OccurredAt: r.OccurredAt, RecordedAt: r.RecordedAt,
		CorrelationID: r.CorrelationID, CausationID: r.CausationID, TraceParent: r.TraceParent,
		SchemaVersion: r.SchemaVersion,
	}
	if r.Message != nil {
		b, err := protojson.Marshal(r.Message)
		if err != nil {
			return fmt.Errorf("encoding %s at position %d: %w", r.EventType, r.Position, err)
		}
		out.Payload = b
	} else {
		out.PayloadBase64 = base64.StdEncoding.EncodeToString(r.Data)
	}
	line, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(p.w, "%s\n", line)
	return err
}

func (p eventPrinter) printText(r events.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d  %s  %s  v%d  %s/%s/%s\n", r.Position, r.RecordedAt.UTC().Format("2006-01-02 15:04:05.000"),
		events.ShortType(r.EventType), r.Version, r.AggregateType, r.Account, r.AggregateID)
	fmt.Fprintf(&b, "    id %s", r.EventID)
	if r.CorrelationID != "" {
		fmt.Fprintf(&b, "  correlation %s", r.CorrelationID)
	}
	if r.CausationID != "" {
		fmt.Fprintf(&b, "  caused by %s", r.CausationID)
	}
	b.WriteString("\n")
	if r.Message == nil {
		fmt.Fprintf(&b, "    (%s is not a type this binary knows; %d bytes)\n", r.EventType, len(r.Data))
	} else {
		body, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(r.Message)
		if err != nil {
			return fmt.Errorf("encoding %s at position %d: %w", r.EventType, r.Position, err)
		}
		for line := range strings.SplitSeq(string(body), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}
