// Package due consumes the retry service's RetryDue commands for the orders service: the
// subjects retry.due.wms.order (re-send an order), retry.due.cart.tracking (push a shipment's
// tracking again) and retry.due.cart.inventory (push a stock level again) of the stream RETRY_DUE,
// with a durable consumer of its own ("orders-due").
//
// It is not a bus handler: the bus orders non-event subjects by subject, which would attempt every
// order due on one worker, one WMS call at a time. Consumer spreads the commands over its workers
// by record instead (one record's commands in order), and follows the retry service's consumer
// contract: it acknowledges a command once the attempt was made and its outcome stored (and so
// reported with the command's attempt id); retryable errors are retried in process, then the
// command is delivered again after a growing delay; a command that does not decode or is invalid
// goes to poison.orders-due in the POISON stream with its reason (in the bus's format, so
// bus.ListPoison lists it).
//
// The stream belongs to the retry service: Run waits until it exists.
package due

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/wire"
)

// DefaultStream is the retry service's due stream.
const DefaultStream = "RETRY_DUE"

// Subjects the orders service consumes. Persisted identifiers of the retry service's contract.
const (
	SubjectOrder     = "retry.due.wms.order"
	SubjectTracking  = "retry.due.cart.tracking"
	SubjectInventory = "retry.due.cart.inventory"
)

// Func handles one command; it returns once the attempt's outcome is stored. Errors wrapping
// events.ErrInvalidArgument (or bus.Permanent) are permanent.
type Func func(ctx context.Context, due *retryv1.RetryDue, correlationID string) error

// Config configures the consumer.
type Config struct {
	// Name is the durable consumer's name; default "orders-due".
	Name string
	// Stream is the due stream; default RETRY_DUE.
	Stream string
	// Subjects are the consumer's filter subjects; default the three above.
	Subjects []string
	// Workers is how many commands are handled at once; default 32.
	Workers int
	// AckWait is how long JetStream waits for an ack before delivering a command again; default
	// 2 minutes (an attempt waits for a WMS call).
	AckWait time.Duration
	// Attempts is how many times a retryable error is tried in process; default 3.
	Attempts int
	// NakDelay is the first delay before a command that failed is delivered again; it doubles up
	// to MaxNakDelay. Defaults 1 s and 5 min.
	NakDelay, MaxNakDelay time.Duration
	// WaitForStream is how often Run looks for the stream while it does not exist; default 1 s.
	WaitForStream time.Duration
	// Account, when set, handles only commands of that account's records (others are acked).
	Account string
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "orders-due"
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if len(c.Subjects) == 0 {
		c.Subjects = []string{SubjectOrder, SubjectTracking, SubjectInventory}
	}
	if c.Workers <= 0 {
		c.Workers = 32
	}
	if c.AckWait <= 0 {
		c.AckWait = 2 * time.Minute
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	if c.NakDelay <= 0 {
		c.NakDelay = time.Second
	}
	if c.MaxNakDelay <= 0 {
		c.MaxNakDelay = 5 * time.Minute
	}
	if c.WaitForStream <= 0 {
		c.WaitForStream = time.Second
	}
}

// Consumer consumes RetryDue commands.
type Consumer struct {
	js  jetstream.JetStream
	cfg Config
	fn  Func
	log *slog.Logger
}

// New returns a consumer that hands each command to fn. It does no I/O.
func New(js jetstream.JetStream, cfg Config, fn Func, log *slog.Logger) (*Consumer, error) {
	if js == nil || fn == nil {
		return nil, errors.New("due: New needs a JetStream context and a Func")
	}
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Consumer{js: js, cfg: cfg, fn: fn, log: log.With(slog.String("consumer", cfg.Name))}, nil
}

// Name returns the durable consumer's name.
func (c *Consumer) Name() string { return c.cfg.Name }

// Run waits for the due stream, creates (or updates) the durable consumer and handles commands
// until ctx ends; then it stops fetching, lets the commands in flight finish, naks those fetched
// but not started (so they are delivered again at once) and returns nil.
func (c *Consumer) Run(ctx context.Context) error {
	stream, err := c.waitForStream(ctx)
	if err != nil || stream == nil {
		return err
	}
	if _, err := bus.EnsurePoisonStream(ctx, c.js); err != nil {
		return ctxNil(ctx, err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:        c.cfg.Name,
		Description:    "Rebound orders service: RetryDue commands for orders, tracking and inventory",
		FilterSubjects: c.cfg.Subjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        c.cfg.AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  c.cfg.Workers * 8,
	})
	if err != nil {
		return ctxNil(ctx, fmt.Errorf("due: creating consumer %s on %s: %w", c.cfg.Name, c.cfg.Stream, err))
	}
	c.log.Info("retry commands consumer running", slog.String("stream", c.cfg.Stream), slog.Any("subjects", c.cfg.Subjects))

	queues := make([]chan jetstream.Msg, c.cfg.Workers)
	for i := range queues {
		queues[i] = make(chan jetstream.Msg, 16)
	}
	var workers sync.WaitGroup
	work := context.WithoutCancel(ctx)
	for _, q := range queues {
		workers.Go(func() {
			for msg := range q {
				if ctx.Err() != nil {
					_ = msg.Nak()
					continue
				}
				c.handle(work, msg)
			}
		})
	}
	defer func() {
		for _, q := range queues {
			close(q)
		}
		workers.Wait()
	}()
	for {
		it, err := cons.Messages(jetstream.PullMaxMessages(c.cfg.Workers * 4))
		if err != nil {
			return ctxNil(ctx, fmt.Errorf("due: consuming: %w", err))
		}
		for {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				it.Stop()
				if ctx.Err() != nil {
					return nil
				}
				c.log.Warn("retry commands consumer stopped, restarting it", slog.Any("error", err))
				break
			}
			select {
			case queues[c.queueOf(msg)] <- msg:
			case <-ctx.Done():
				_ = msg.Nak()
				it.Stop()
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// waitForStream returns the due stream once it exists, or nil when ctx ended first.
func (c *Consumer) waitForStream(ctx context.Context) (jetstream.Stream, error) {
	logged := false
	for {
		s, err := c.js.Stream(ctx, c.cfg.Stream)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			c.log.Warn("looking up the retry commands stream", slog.String("stream", c.cfg.Stream), slog.Any("error", err))
		} else if !logged {
			c.log.Info("waiting for the retry service's stream", slog.String("stream", c.cfg.Stream))
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(c.cfg.WaitForStream):
		}
	}
}

// queueOf spreads commands by record: one record's commands are handled in order.
func (c *Consumer) queueOf(msg jetstream.Msg) int {
	k := msg.Headers().Get("Rebound-Account-Id") + "/" + msg.Subject()
	if id := msg.Headers().Get("Rebound-Attempt-Id"); id != "" {
		// <schedule id>-w<window>-a<attempt>: the schedule id names the record.
		if i := strings.LastIndex(id, "-w"); i > 0 {
			id = id[:i]
		}
		k += "/" + id
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(k))
	return int(h.Sum32() % uint32(c.cfg.Workers))
}

// handle decodes, handles and settles one command.
func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg) {
	md, _ := msg.Metadata()
	due := &retryv1.RetryDue{}
	if err := proto.Unmarshal(msg.Data(), due); err != nil {
		c.poison(ctx, msg, md, fmt.Errorf("decoding rebound.retry.v1.RetryDue: %w", err))
		return
	}
	if c.cfg.Account != "" && due.GetRecord().GetAccountId() != c.cfg.Account {
		c.ack(ctx, msg)
		return
	}
	corr := msg.Headers().Get(wire.HeaderCorrelationID)
	var err error
	for attempt := 1; ; attempt++ {
		err = c.fn(ctx, due, corr)
		if err == nil || permanent(err) || attempt >= c.cfg.Attempts {
			break
		}
		select {
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	switch {
	case err == nil:
		c.ack(ctx, msg)
	case permanent(err):
		c.poison(ctx, msg, md, err)
	default:
		delivered := uint64(1)
		if md != nil {
			delivered = md.NumDelivered
		}
		delay := c.cfg.NakDelay
		for i := uint64(1); i < delivered && delay < c.cfg.MaxNakDelay; i++ {
			delay *= 2
		}
		c.log.Warn("retry command failed; it comes back later", slog.String("attempt_id", due.GetAttemptId()),
			slog.Duration("delay", min(delay, c.cfg.MaxNakDelay)), slog.Any("error", err))
		_ = msg.NakWithDelay(min(delay, c.cfg.MaxNakDelay))
	}
}

func permanent(err error) bool {
	return bus.IsPermanent(err) || errors.Is(err, events.ErrInvalidArgument) || errors.Is(err, events.ErrUnknownType)
}

func (c *Consumer) ack(ctx context.Context, msg jetstream.Msg) {
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		c.log.Warn("retry command ack not confirmed, it may come again", slog.Any("error", err))
	}
}

// poison keeps the command on poison.<name> with the reason, then acks it.
func (c *Consumer) poison(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, reason error) {
	h := nats.Header{}
	for k, v := range msg.Headers() {
		if len(k) >= 5 && strings.EqualFold(k[:5], "Nats-") {
			continue
		}
		h[k] = v
	}
	var seq uint64
	var recorded time.Time
	if md != nil {
		seq, recorded = md.Sequence.Stream, md.Timestamp
	}
	if id := msg.Headers().Get(wire.HeaderEventID); id != "" {
		h.Set(bus.HeaderPoisonMsgID, id)
	}
	h.Set(bus.HeaderPoisonHandler, c.cfg.Name)
	h.Set(bus.HeaderPoisonReason, strings.ReplaceAll(reason.Error(), "\n", " | "))
	h.Set(bus.HeaderPoisonSubject, msg.Subject())
	h.Set(bus.HeaderPoisonStream, c.cfg.Stream)
	h.Set(bus.HeaderPoisonSequence, strconv.FormatUint(seq, 10))
	h.Set(bus.HeaderPoisonAt, time.Now().UTC().Format(time.RFC3339Nano))
	if !recorded.IsZero() {
		h.Set(bus.HeaderPoisonRecordedAt, recorded.UTC().Format(time.RFC3339Nano))
	}
	h.Set(wire.HeaderEventID, fmt.Sprintf("poison.%s.%s.%d", c.cfg.Name, c.cfg.Stream, seq))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.js.PublishMsg(pctx, &nats.Msg{Subject: bus.PoisonSubject(c.cfg.Name), Header: h, Data: msg.Data()}); err != nil {
		c.log.Warn("retry command could not be poisoned; it comes back later", slog.Any("error", err))
		_ = msg.NakWithDelay(c.cfg.NakDelay)
		return
	}
	c.log.Error("retry command poisoned", slog.String("subject", msg.Subject()), slog.Uint64("sequence", seq), slog.Any("error", reason))
	c.ack(ctx, msg)
}

func ctxNil(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
