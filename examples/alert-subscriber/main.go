// Command alert-subscriber shows how another microservice consumes Rebound's alert events: a
// durable JetStream consumer on the EVENTS stream, filtered to the alert subjects, that decodes
// each message with the generated rebound.alerts.v1 Go types (chosen by the Rebound-Event-Type
// header) and acknowledges it once it was handled. It needs nothing of Rebound but NATS and the
// published protobuf contract (github.com/reboundhq/rebound/proto).
//
// Run it next to `rebound dev`:
//
//	go run . --nats-url nats://127.0.0.1:4222 --account acme
//
// Stop it and start it again with the same --durable: it resumes after the last event it
// acknowledged. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
)

// The public names this program relies on (README.md of Rebound, "Event headers").
const (
	// eventStream is the JetStream stream that holds every Rebound event.
	eventStream = "EVENTS"
	// alertsPackage is the protobuf package of the alert events.
	alertsPackage = "rebound.alerts.v1"

	headerEventID    = "Nats-Msg-Id"
	headerEventType  = "Rebound-Event-Type"
	headerVersion    = "Rebound-Version"
	headerOccurredAt = "Rebound-Occurred-At"
	headerCorrelated = "Rebound-Correlation-Id"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "alert-subscriber:", err)
		os.Exit(1)
	}
}

// Config configures a Subscriber.
type Config struct {
	// Durable is the consumer's name. The server remembers which events it acknowledged, so a
	// subscriber that starts again with the same name resumes after them. A persisted
	// identifier of your service: renaming it replays everything into a new consumer.
	Durable string
	// Account, when set, receives one account's alerts only (evt.alert.<account>.>).
	Account string
	// Outages also receives connection outage events (evt.outage.<account>.>).
	Outages bool
	// DeliverNew starts a new consumer at the events stored from now on instead of the first
	// alert event ever stored. It applies only when the consumer is created.
	DeliverNew bool
	// RetryDelay is how long an event whose handling failed waits before it is delivered again;
	// default 5s.
	RetryDelay time.Duration
}

// Filters returns the subjects the consumer receives.
func (c Config) Filters() []string {
	account := "*"
	if c.Account != "" {
		account = c.Account
	}
	filters := []string{"evt.alert." + account + ".>"}
	if c.Outages {
		filters = append(filters, "evt.outage."+account+".>")
	}
	return filters
}

// Event is one alert (or outage) event as a subscriber sees it.
type Event struct {
	// ID is the event's id; a redelivered event has the same one, so handlers can drop repeats.
	ID string
	// Type is the protobuf full name of Message, e.g. rebound.alerts.v1.AlertRaised.
	Type string
	// Subject is evt.<aggregate>.<account>.<id>.<EventType>.
	Subject string
	// Aggregate, Account and AggregateID are the subject's tokens 2-4: "alert", the account,
	// the alert id (or "outage", the account, the connection id).
	Aggregate, Account, AggregateID string
	// Version is the event's 1-based version within its alert.
	Version uint64
	// OccurredAt is when it happened.
	OccurredAt time.Time
	// CorrelationID ties it to the request it came from.
	CorrelationID string
	// Position is its sequence in the EVENTS stream.
	Position uint64
	// Message is the decoded payload: *alertsv1.AlertRaised, *alertsv1.AlertResolved, ...
	Message proto.Message
}

// Handler handles one event. An error makes the event come again after Config.RetryDelay;
// return nil for what must not be retried.
type Handler func(ctx context.Context, ev Event) error

// Subscriber consumes alert events through one durable consumer.
type Subscriber struct {
	cfg      Config
	consumer jetstream.Consumer
	// Resumed says the consumer existed: the subscriber continues where it left off.
	Resumed bool
	// Info is the consumer's state when the subscriber bound to it.
	Info *jetstream.ConsumerInfo
	log  io.Writer
}

// errUnknownType marks an event of a type this build does not know (a newer Rebound).
var errUnknownType = errors.New("unknown event type")

// Bind creates the durable consumer on EVENTS, or binds to it when it exists (updating its
// filters when Config asks for others).
func Bind(ctx context.Context, js jetstream.JetStream, cfg Config, log io.Writer) (*Subscriber, error) {
	if cfg.Durable == "" {
		return nil, errors.New("a durable consumer name is required")
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 5 * time.Second
	}
	s := &Subscriber{cfg: cfg, log: log}
	cons, err := js.Consumer(ctx, eventStream, cfg.Durable)
	switch {
	case err == nil:
		s.Resumed = true
		if info := cons.CachedInfo(); !sameFilters(info.Config.FilterSubjects, cfg.Filters()) {
			c := info.Config
			c.FilterSubjects, c.FilterSubject = cfg.Filters(), ""
			if cons, err = js.UpdateConsumer(ctx, eventStream, c); err != nil {
				return nil, fmt.Errorf("changing the filters of consumer %s: %w", cfg.Durable, err)
			}
		}
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		deliver := jetstream.DeliverAllPolicy
		if cfg.DeliverNew {
			deliver = jetstream.DeliverNewPolicy
		}
		cons, err = js.CreateConsumer(ctx, eventStream, jetstream.ConsumerConfig{
			Durable:        cfg.Durable,
			Description:    "alert-subscriber example",
			FilterSubjects: cfg.Filters(),
			DeliverPolicy:  deliver,
			// Every event is acknowledged on its own, after it was handled; one that is not
			// acknowledged within AckWait comes again.
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
			MaxAckPending: 256,
		})
		if err != nil {
			return nil, fmt.Errorf("creating consumer %s on %s: %w", cfg.Durable, eventStream, err)
		}
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, fmt.Errorf("no %s stream on this server: is Rebound running against it?", eventStream)
	default:
		return nil, fmt.Errorf("looking up consumer %s: %w", cfg.Durable, err)
	}
	s.consumer = cons
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, err
	}
	s.Info = info
	return s, nil
}

func sameFilters(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Run delivers events to handle, one at a time in stream order, until ctx ends; then it returns
// nil. It acknowledges an event once handle returned nil, asks for it again later when handle
// failed, and skips (acknowledging) events it cannot use: types this build does not know and
// malformed messages, which would fail on every delivery.
func (s *Subscriber) Run(ctx context.Context, handle Handler) error {
	batch := s.Info.Config.MaxAckPending
	if batch <= 0 || batch > 256 {
		batch = 256
	}
	msgs, err := s.consumer.Messages(jetstream.PullMaxMessages(batch))
	if err != nil {
		return err
	}
	defer msgs.Stop()
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	// Acknowledgements outlive ctx: what was handled is acknowledged even while stopping.
	ackCtx := context.WithoutCancel(ctx)
	for {
		msg, err := msgs.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		ev, err := Decode(msg)
		switch {
		case errors.Is(err, errUnknownType):
			fmt.Fprintf(s.log, "skipping %s: %v\n", msg.Subject(), err)
			if err := msg.DoubleAck(ackCtx); err != nil {
				return err
			}
			continue
		case err != nil:
			fmt.Fprintf(s.log, "dropping a malformed message on %s: %v\n", msg.Subject(), err)
			if err := msg.Term(); err != nil {
				return err
			}
			continue
		}
		if err := handle(ctx, ev); err != nil {
			fmt.Fprintf(s.log, "handling %s at position %d failed (it comes again in %s): %v\n", ev.Type, ev.Position, s.cfg.RetryDelay, err)
			if err := msg.NakWithDelay(s.cfg.RetryDelay); err != nil {
				return err
			}
			continue
		}
		// DoubleAck waits for the server to record the acknowledgement: after it, a restart
		// resumes after this event.
		if err := msg.DoubleAck(ackCtx); err != nil {
			return fmt.Errorf("acknowledging position %d: %w", ev.Position, err)
		}
	}
}

// Decode reads an event from its subject, headers and body. The body's type is the
// Rebound-Event-Type header (or, failing that, the subject's last token in rebound.alerts.v1);
// the generated Go type registered under that name decodes it.
func Decode(msg jetstream.Msg) (Event, error) {
	h := msg.Headers()
	ev := Event{Subject: msg.Subject(), ID: h.Get(headerEventID), Type: h.Get(headerEventType), CorrelationID: h.Get(headerCorrelated)}
	toks := strings.Split(ev.Subject, ".")
	if len(toks) != 5 || toks[0] != "evt" {
		return ev, fmt.Errorf("subject %s is not evt.<aggregate>.<account>.<id>.<EventType>", ev.Subject)
	}
	ev.Aggregate, ev.Account, ev.AggregateID = toks[1], toks[2], toks[3]
	if ev.Type == "" {
		ev.Type = alertsPackage + "." + toks[4]
	}
	if !strings.HasPrefix(ev.Type, alertsPackage+".") {
		return ev, fmt.Errorf("%w: %s is not in %s", errUnknownType, ev.Type, alertsPackage)
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(ev.Type))
	if err != nil {
		return ev, fmt.Errorf("%w: %s (a newer Rebound? update github.com/reboundhq/rebound/proto)", errUnknownType, ev.Type)
	}
	ev.Message = mt.New().Interface()
	if err := proto.Unmarshal(msg.Data(), ev.Message); err != nil {
		return ev, fmt.Errorf("decoding %s: %w", ev.Type, err)
	}
	if v := h.Get(headerVersion); v != "" {
		if ev.Version, err = strconv.ParseUint(v, 10, 64); err != nil {
			return ev, fmt.Errorf("%s %q is not a version", headerVersion, v)
		}
	}
	if t := h.Get(headerOccurredAt); t != "" {
		if ev.OccurredAt, err = time.Parse(time.RFC3339Nano, t); err != nil {
			return ev, fmt.Errorf("%s %q is not an RFC 3339 time", headerOccurredAt, t)
		}
	}
	if meta, err := msg.Metadata(); err == nil {
		ev.Position = meta.Sequence.Stream
	}
	return ev, nil
}

// Describe says in one line what an event means; this is where a real service would act.
func Describe(ev Event) string {
	what := ""
	switch m := ev.Message.(type) {
	case *alertsv1.AlertRaised:
		f := m.GetFailure()
		what = fmt.Sprintf("raised %s (%s) on %s: %s", m.GetAlert().GetAlertType(), short(m.GetAlert().GetErrorClass()), record(m.GetAlert()), failure(f))
	case *alertsv1.AlertOccurred:
		what = fmt.Sprintf("failed again (%d occurrences): %s", m.GetOccurrences(), failure(m.GetFailure()))
	case *alertsv1.AlertReopened:
		what = fmt.Sprintf("reopened as a regression (%d times): %s", m.GetReopenCount(), failure(m.GetFailure()))
	case *alertsv1.AlertResolved:
		what = fmt.Sprintf("resolved: %s after %d occurrences", short(m.GetCause()), m.GetOccurrences())
	case *alertsv1.AlertDismissed:
		what = fmt.Sprintf("dismissed by %s", m.GetDismissedBy())
	case *alertsv1.AlertEscalated:
		what = "escalated: " + m.GetReason()
	case *alertsv1.AlertNeedsAttention:
		what = "needs attention: " + short(m.GetReason())
	case *alertsv1.AlertCoveredByOutage:
		what = fmt.Sprintf("covered by outage %d of connection %s", m.GetOutage().GetNumber(), m.GetOutage().GetConnectionId())
	case *alertsv1.AlertUncovered:
		what = fmt.Sprintf("no longer covered: connection %s recovered", m.GetOutage().GetConnectionId())
	case *alertsv1.ConnectionFailureObserved:
		what = fmt.Sprintf("connection %s: record %s failed", m.GetConnectionId(), m.GetRecord().GetRecordKey())
	case *alertsv1.ConnectionDown:
		what = fmt.Sprintf("connection %s is down (%d records failed)", m.GetConnection().GetConnectionId(), len(m.GetCoveredRecords()))
	case *alertsv1.RecordCoveredByOutage:
		what = fmt.Sprintf("connection %s: record %s covered by the outage", m.GetConnection().GetConnectionId(), m.GetRecord().GetRecordKey())
	case *alertsv1.ConnectionRecovered:
		what = fmt.Sprintf("connection %s recovered", m.GetConnection().GetConnectionId())
	default:
		b, _ := protojson.Marshal(ev.Message)
		what = string(b)
	}
	return fmt.Sprintf("#%d %s %s/%s/%s v%d: %s", ev.Position, ev.Type[len(alertsPackage)+1:], ev.Aggregate, ev.Account, ev.AggregateID, ev.Version, what)
}

func record(ref *alertsv1.AlertRef) string {
	r := ref.GetRecord()
	name := r.GetRecordId()
	switch {
	case r.GetOrderNumber() != "":
		name = "order " + r.GetOrderNumber()
	case r.GetSku() != "":
		name = "SKU " + r.GetSku()
	}
	return name + " via " + r.GetConnectionId()
}

func failure(f *alertsv1.Failure) string {
	s := f.GetMessage()
	if f.GetHttpStatus() != 0 {
		s = fmt.Sprintf("HTTP %d %s", f.GetHttpStatus(), s)
	}
	return s
}

// short is an enum value without its prefix, in lower case: manual_action, record_succeeded.
func short(e protoreflect.Enum) string {
	v := e.Descriptor().Values().ByNumber(e.Number())
	if v == nil {
		return strconv.Itoa(int(e.Number()))
	}
	prefix := strings.TrimSuffix(string(e.Descriptor().Values().ByNumber(0).Name()), "UNSPECIFIED")
	return strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix))
}

// run is the program: flags, connect, bind, print every event until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("alert-subscriber", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("nats-url", envOr("REBOUND_NATS_URL", "nats://127.0.0.1:4222"), "NATS server of Rebound (REBOUND_NATS_URL)")
	var cfg Config
	fs.StringVar(&cfg.Durable, "durable", "alert-subscriber", "durable consumer name: start again with the same one to resume")
	fs.StringVar(&cfg.Account, "account", "", "only this account's alerts (default every account)")
	fs.BoolVar(&cfg.Outages, "outages", false, "also receive connection outage events (evt.outage.>)")
	fs.BoolVar(&cfg.DeliverNew, "new", false, "a new consumer starts at new events instead of the first one stored")
	if err := fs.Parse(args); err != nil {
		return err
	}
	nc, err := nats.Connect(*url, nats.Name("alert-subscriber"))
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", *url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	s, err := Bind(ctx, js, cfg, stderr)
	if err != nil {
		return err
	}
	state := "created"
	if s.Resumed {
		state = "resuming"
	}
	fmt.Fprintf(stderr, "%s consumer %s on %s, subjects %v: %d events waiting, acknowledged through position %d (Ctrl-C stops)\n",
		state, cfg.Durable, eventStream, cfg.Filters(), s.Info.NumPending, s.Info.AckFloor.Stream)
	return s.Run(ctx, func(_ context.Context, ev Event) error {
		_, err := fmt.Fprintln(stdout, Describe(ev))
		return err
	})
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
