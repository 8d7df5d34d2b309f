package bus

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/streams"
	"github.com/reboundhq/rebound/events/wire"
)

// PoisonStream is the stream that keeps poisoned messages (subjects poison.<handler>) and
// re-driven ones (redrive.<handler>). It is a persisted identifier.
const PoisonStream = "POISON"

// Headers a poisoned message carries besides its original headers. They are public: ops tools
// read them.
const (
	// HeaderPoisonHandler names the handler that gave up on the message.
	HeaderPoisonHandler = "Rebound-Poison-Handler"
	// HeaderPoisonReason is the handler's error (or the decoding error), on one line.
	HeaderPoisonReason = "Rebound-Poison-Reason"
	// HeaderPoisonSubject is the subject the message was originally stored under.
	HeaderPoisonSubject = "Rebound-Poison-Subject"
	// HeaderPoisonStream is the stream the original message is stored in.
	HeaderPoisonStream = "Rebound-Poison-Stream"
	// HeaderPoisonSequence is the original message's sequence in that stream.
	HeaderPoisonSequence = "Rebound-Poison-Sequence"
	// HeaderPoisonAt is when the message was poisoned (RFC 3339, UTC).
	HeaderPoisonAt = "Rebound-Poison-At"
	// HeaderPoisonRecordedAt is when the original stream stored the message (RFC 3339, UTC).
	HeaderPoisonRecordedAt = "Rebound-Poison-Recorded-At"
	// HeaderPoisonMsgID keeps the original Nats-Msg-Id (the event id), which the poison
	// stream's own deduplication must not see.
	HeaderPoisonMsgID = "Rebound-Poison-Msg-Id"
)

const (
	headerMsgID      = "Nats-Msg-Id"
	maxReasonLength  = 4096
	poisonDuplicates = 2 * time.Minute
)

// PoisonSubject is the subject a handler's poisoned messages are kept under.
func PoisonSubject(handler string) string { return "poison." + handler }

// RedriveSubject is the subject Redrive sends a handler's poisoned messages back on.
func RedriveSubject(handler string) string { return "redrive." + handler }

// EnsurePoisonStream creates the POISON stream (file storage, no limits, subjects poison.> and
// redrive.>), or updates an existing one that differs, keeping its replica count. Running it at
// every start is safe.
func EnsurePoisonStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	s, err := streams.Ensure(ctx, js, poisonStreamConfig())
	if err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	return s, nil
}

func poisonStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        PoisonStream,
		Description: "Rebound poison messages (poison.<handler>) and their re-drives (redrive.<handler>)",
		Subjects:    []string{"poison.>", "redrive.>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Duplicates:  poisonDuplicates,
		AllowDirect: true,
	}
}

// poisonMessage is the message that keeps d on the handler's poison subject: d's body and
// headers, the original Nats-Msg-Id moved aside, and the poison headers. Its own Nats-Msg-Id
// makes a repeated publish of the same poisoning a no-op.
func poisonMessage(handler string, d Delivery, reason string, at time.Time) *nats.Msg {
	h := make(nats.Header, len(d.Header)+10)
	for k, v := range d.Header {
		if !isServerHeader(k) && !strings.HasPrefix(k, "Rebound-Poison-") {
			h[k] = v
		}
	}
	if id := d.Header.Get(headerMsgID); id != "" {
		h.Set(HeaderPoisonMsgID, id)
	}
	h.Set(HeaderPoisonHandler, handler)
	h.Set(HeaderPoisonReason, oneLine(reason))
	h.Set(HeaderPoisonSubject, d.Subject)
	h.Set(HeaderPoisonStream, d.Stream)
	h.Set(HeaderPoisonSequence, strconv.FormatUint(d.Sequence, 10))
	h.Set(HeaderPoisonAt, at.UTC().Format(time.RFC3339Nano))
	if !d.Timestamp.IsZero() {
		h.Set(HeaderPoisonRecordedAt, d.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	id := fmt.Sprintf("poison.%s.%s.%d", handler, d.Stream, d.Sequence)
	if d.Redriven {
		id = fmt.Sprintf("poison.%s.redrive.%d", handler, d.redriveSeq)
	}
	h.Set(headerMsgID, id)
	return &nats.Msg{Subject: PoisonSubject(handler), Header: h, Data: d.Data}
}

// isServerHeader reports whether JetStream acts on the header (Nats-Msg-Id, expected
// sequences, batches, TTLs, ...): such headers must not be published again as they are.
func isServerHeader(k string) bool {
	return len(k) >= 5 && strings.EqualFold(k[:5], "Nats-")
}

// oneLine makes s fit in a header value: no line breaks, at most maxReasonLength bytes.
func oneLine(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " | ")
	s = strings.ReplaceAll(s, "\t", " ")
	if len(s) > maxReasonLength {
		s = strings.ToValidUTF8(s[:maxReasonLength], "") + "…"
	}
	return s
}

// PoisonMessage is a message kept on a poison subject.
type PoisonMessage struct {
	// Sequence is the message's sequence in the POISON stream; Redrive takes it.
	Sequence uint64
	// Handler is the handler that gave up on the message, and Reason why.
	Handler string
	Reason  string
	// Subject, Stream and StreamSequence locate the original message.
	Subject        string
	Stream         string
	StreamSequence uint64
	// At is when the message was poisoned.
	At time.Time
	// Headers are the original message's headers (with its Nats-Msg-Id).
	Headers nats.Header
	// Data is the original message's body.
	Data []byte
}

func parsePoison(raw *jetstream.RawStreamMsg) PoisonMessage {
	h := raw.Header
	seq, _ := strconv.ParseUint(h.Get(HeaderPoisonSequence), 10, 64)
	at, _ := time.Parse(time.RFC3339Nano, h.Get(HeaderPoisonAt))
	return PoisonMessage{
		Sequence:       raw.Sequence,
		Handler:        h.Get(HeaderPoisonHandler),
		Reason:         h.Get(HeaderPoisonReason),
		Subject:        h.Get(HeaderPoisonSubject),
		Stream:         h.Get(HeaderPoisonStream),
		StreamSequence: seq,
		At:             at,
		Headers:        originalHeaders(h),
		Data:           raw.Data,
	}
}

// originalHeaders returns the headers a message had before it was poisoned.
func originalHeaders(h nats.Header) nats.Header {
	orig := make(nats.Header, len(h))
	for k, v := range h {
		if !isServerHeader(k) && !strings.HasPrefix(k, "Rebound-Poison-") {
			orig[k] = v
		}
	}
	if id := h.Get(HeaderPoisonMsgID); id != "" {
		orig.Set(wire.HeaderEventID, id)
	}
	return orig
}
