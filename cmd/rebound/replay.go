package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/wire"
)

const replayArgs = "--from <position|time> --to <position|time|now> [--filter <subject>]... --to-subject <subject> [--execute] [--json] [--state <file>] [--restart] [--max N] [--rate N]"

func init() {
	register(command{
		name: "replay", args: replayArgs,
		summary: "re-deliver a range of stored events to a subject, for a consumer that missed them (dry run unless --execute)",
		run:     runReplay,
	})
}

// replayHelp explains what `rebound replay` does, for `rebound replay -h`.
const replayHelp = `Re-delivers the stored events from --from to --to (both included; a time means the events
recorded at or after / at or before it) that match the --filter subjects, in their stored order,
to --to-subject, for a consumer that missed them. Without --execute it only says what it would
deliver (with --json: every event).

Where they go: when a JetStream stream captures --to-subject, each event is published into it
and acknowledged by it; otherwise it is published with core NATS, and only the subscribers
listening at that moment receive it. A subject inside evt.> (the event store) is refused.

What a consumer receives: the stored body and headers (Rebound-Event-Type, Rebound-Version,
Rebound-Occurred-At, ...) plus Rebound-Replay-Of (the event id), Rebound-Replay-Subject (its
evt.<aggregate>.<account>.<id>.<EventType> subject), Rebound-Replay-Position,
Rebound-Replay-Recorded-At and Rebound-Replay (the run id); Nats-Msg-Id is derived from the run
and the event, so a stream drops what a resumed run sends twice (within its duplicate window).

Resuming: the range (resolved to positions on the first run) and the last delivered position are
kept in the state file (--state; by default $REBOUND_DATA_DIR/replay-<hash of the arguments>.json).
Running the same command again continues after the last event the target confirmed; a finished
replay does nothing until --restart. Ctrl-C stops after the current event; --max N stops after N.
`

// replayConfig is a parsed `rebound replay` command line.
type replayConfig struct {
	nats      natsFlags
	dataDir   string
	key       replayKey
	from, to  point
	execute   bool
	json      bool
	statePath string
	restart   bool
	max       int
	rate      float64
	// progressEvery is how often a progress line goes to stderr.
	progressEvery time.Duration
	// batch is how many events go out between two confirmations (and state saves).
	batch int
}

func runReplay(ctx context.Context, env *environment, args []string) error {
	cfg := replayConfig{progressEvery: time.Second, batch: 256}
	fs := newFlagSet(env, "replay", replayArgs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rebound replay %s\n\n%s\nflags:\n", replayArgs, replayHelp)
		fs.PrintDefaults()
	}
	cfg.nats.define(fs)
	fs.envString(&cfg.dataDir, "data-dir", "REBOUND_DATA_DIR", "./data", "where the replay's state file goes by default")
	fs.StringVar(&cfg.key.From, "from", "", "first event: a global position (1 = the first event) or an RFC 3339 time (the first event recorded at or after it)")
	fs.StringVar(&cfg.key.To, "to", "", "last event: a global position or an RFC 3339 time (the last event recorded at or before it); now = the newest event when the replay starts")
	var filters listFlag
	fs.Var(&filters, "filter", "only events on subjects matching this filter, e.g. 'evt.alert.acme.>' (repeatable); default every event")
	fs.StringVar(&cfg.key.ToSubject, "to-subject", "", "the subject to re-deliver to (required; never inside evt.>)")
	fs.BoolVar(&cfg.execute, "execute", false, "deliver the events; without it, only say what would be delivered")
	fs.BoolVar(&cfg.json, "json", false, "one JSON object per event on stdout ({to_subject, event}); summaries go to stderr")
	fs.StringVar(&cfg.statePath, "state", "", "the state file that makes the replay resumable; default $REBOUND_DATA_DIR/replay-<hash of the arguments>.json")
	fs.BoolVar(&cfg.restart, "restart", false, "ignore the state file and deliver the whole range again")
	fs.IntVar(&cfg.max, "max", 0, "deliver at most this many events in this run, then stop (run again to continue); 0 means no limit")
	fs.Float64Var(&cfg.rate, "rate", 0, "deliver at most this many events per second; 0 means as fast as the target takes them")
	if err := fs.parse(args); err != nil {
		return err
	}
	cfg.key.Filters = filters
	if err := cfg.check(); err != nil {
		return err
	}
	if cfg.statePath == "" {
		cfg.statePath = filepath.Join(cfg.dataDir, "replay-"+cfg.key.hash()+".json")
	}
	return cfg.run(ctx, env)
}

// check validates the arguments; every problem names its flag.
func (c *replayConfig) check() error {
	if c.key.ToSubject == "" {
		return fmt.Errorf("%w: --to-subject is required: the subject the consumer that missed the events listens on", errUsage)
	}
	if err := checkTargetSubject(c.key.ToSubject); err != nil {
		return err
	}
	if c.key.From == "" || c.key.To == "" {
		return fmt.Errorf("%w: --from and --to are required (a position or an RFC 3339 time each)", errUsage)
	}
	now := time.Now()
	var err error
	if c.from, err = parsePoint("from", c.key.From, now); err != nil {
		return err
	}
	if c.to, err = parsePoint("to", c.key.To, now); err != nil {
		return err
	}
	if c.from.isTime() == c.to.isTime() {
		if (c.from.isTime() && c.to.time.Before(c.from.time)) || (!c.from.isTime() && c.to.position < c.from.position) {
			return fmt.Errorf("%w: --to %s is before --from %s", errUsage, c.key.To, c.key.From)
		}
	}
	for _, f := range c.key.Filters {
		if err := events.ValidateFilter(f); err != nil {
			return fmt.Errorf("%w: --filter %q: %v", errUsage, f, err)
		}
	}
	if c.max < 0 || c.rate < 0 {
		return fmt.Errorf("%w: --max and --rate must not be negative", errUsage)
	}
	return nil
}

// checkTargetSubject refuses subjects a replay must not publish to: wildcards, and anything the
// event store captures (evt.>): publishing there would append to the event store.
func checkTargetSubject(s string) error {
	for tok := range strings.SplitSeq(s, ".") {
		switch {
		case tok == "":
			return fmt.Errorf("%w: --to-subject %q has an empty token", errUsage, s)
		case tok == "*" || tok == ">":
			return fmt.Errorf("%w: --to-subject %q is a wildcard; name one subject", errUsage, s)
		case strings.ContainsAny(tok, " \t\r\n"):
			return fmt.Errorf("%w: --to-subject %q contains whitespace", errUsage, s)
		}
	}
	if tok, _, _ := strings.Cut(s, "."); tok == events.SubjectPrefix {
		return fmt.Errorf("%w: --to-subject %q is inside %s.>: publishing there would append to the event store; pick a subject of the consumer's own, e.g. replay.<consumer>", errUsage, s, events.SubjectPrefix)
	}
	if strings.HasPrefix(s, "$") {
		return fmt.Errorf("%w: --to-subject %q is a system subject", errUsage, s)
	}
	return nil
}

// Replay headers, beside the event's own (Rebound-Event-Type, Rebound-Version, ...). Public:
// consumers of replays rely on them.
const (
	// headerReplayOf is the re-delivered event's id (its Nats-Msg-Id in the event store).
	headerReplayOf = "Rebound-Replay-Of"
	// headerReplaySubject is the event's subject in the store, evt.<aggregate>.<account>.<id>.<EventType>,
	// which names its aggregate.
	headerReplaySubject = "Rebound-Replay-Subject"
	// headerReplayPosition is the event's global position in the store.
	headerReplayPosition = "Rebound-Replay-Position"
	// headerReplayRecordedAt is when the store recorded the event (RFC 3339).
	headerReplayRecordedAt = "Rebound-Replay-Recorded-At"
	// headerReplay is the replay's run id: every message of one replay carries the same.
	headerReplay = "Rebound-Replay"
)

// replayMessage is the message that re-delivers rec to subject: the stored body and headers,
// the original subject, id and position in replay headers, and a Nats-Msg-Id derived from the
// run and the event, so a JetStream target drops what a resumed run sends twice.
func replayMessage(rec events.Record, subject, runID string) *nats.Msg {
	m := wire.Message(rec.Event, rec.Data)
	orig := m.Subject
	m.Subject = subject
	m.Header.Set(headerReplayOf, rec.EventID)
	m.Header.Set(headerReplaySubject, orig)
	m.Header.Set(headerReplayPosition, fmt.Sprint(rec.Position))
	m.Header.Set(headerReplayRecordedAt, rec.RecordedAt.UTC().Format(time.RFC3339Nano))
	m.Header.Set(headerReplay, runID)
	m.Header.Set(wire.HeaderEventID, events.DeterministicEventID("replay", runID, rec.EventID))
	return m
}

// errRangeEnd ends a read at the end of the range; errInterrupted at Ctrl-C; errMaxReached at
// --max.
var (
	errRangeEnd    = errors.New("end of the range")
	errInterrupted = errors.New("interrupted")
	errMaxReached  = errors.New("--max reached")
)

func (c *replayConfig) run(ctx context.Context, env *environment) error {
	nc, js, err := c.nats.connect("rebound-replay")
	if err != nil {
		return err
	}
	defer nc.Close()
	store, err := natsstore.Open(ctx, js, allTypes(), natsstore.Config{})
	if err != nil {
		return err
	}
	target, err := newReplayTarget(ctx, nc, js, c.key.ToSubject, store.StreamName())
	if err != nil {
		return err
	}

	var st *replayState
	if !c.restart {
		if st, err = loadReplayState(c.statePath, c.key); err != nil {
			return err
		}
	}
	summary := env.stdout
	if c.json {
		summary = env.stderr
	}
	if st != nil && st.Done {
		fmt.Fprintf(summary, "already re-delivered: %d events (positions %d-%d) to %s, finished %s; state %s (--restart delivers them again)\n",
			st.Delivered, st.FromPosition, st.ToPosition, st.Args.ToSubject, st.UpdatedAt.Format(time.RFC3339), c.statePath)
		return nil
	}
	if st == nil {
		from, to, err := resolveRange(ctx, store, c.from, c.to)
		if err != nil {
			return err
		}
		st = &replayState{Version: replayStateVersion, RunID: events.NewEventID(), Args: c.key,
			FromPosition: from, ToPosition: to, DeliveredThrough: from - 1, StartedAt: time.Now().UTC()}
	} else if c.execute {
		fmt.Fprintf(env.stderr, "resuming the replay in %s: %d events delivered through position %d of %d-%d\n",
			c.statePath, st.Delivered, st.DeliveredThrough, st.FromPosition, st.ToPosition)
	}
	st.Target = target.name()
	if st.FromPosition > st.ToPosition {
		fmt.Fprintf(summary, "no events were recorded between --from %s and --to %s: nothing to re-deliver\n", c.key.From, c.key.To)
		return nil
	}
	if !c.execute {
		return c.dryRun(ctx, env, store, st, target, summary)
	}
	return c.deliver(ctx, env, store, st, target, summary)
}

// resolveRange turns --from and --to into positions (both included): a time becomes the first
// event recorded at or after it (--from) or the last recorded at or before it (--to). A range
// past the newest event ends there.
func resolveRange(ctx context.Context, store events.Store, from, to point) (uint64, uint64, error) {
	last, err := store.LastPosition(ctx)
	if err != nil {
		return 0, 0, err
	}
	if last == 0 {
		return 1, 0, nil
	}
	// A read from a time after the newest event would wait for one: compare with it first.
	newest, err := recordedAt(ctx, store, last)
	if err != nil {
		return 0, 0, err
	}
	first := from.position
	if from.isTime() {
		first = last + 1
		if !from.time.After(newest) {
			if first, err = firstRecordedAt(ctx, store, from.time); err != nil {
				return 0, 0, err
			}
		}
	}
	end := min(to.position, last)
	if to.isTime() {
		end = last
		if to.time.Before(newest) {
			p, err := firstRecordedAt(ctx, store, to.time.Add(time.Nanosecond))
			if err != nil {
				return 0, 0, err
			}
			end = min(p-1, last)
		}
	}
	return first, end, nil
}

// recordedAt returns when the event at position p was recorded.
func recordedAt(ctx context.Context, store events.Store, p uint64) (time.Time, error) {
	var at time.Time
	err := store.Read(ctx, events.ReadOptions{From: p}, func(_ context.Context, r events.Record) error {
		at = r.RecordedAt
		return errRangeEnd
	})
	if err != nil && !errors.Is(err, errRangeEnd) {
		return time.Time{}, fmt.Errorf("reading the event at position %d: %w", p, err)
	}
	return at, nil
}

// firstRecordedAt returns the position of the first event recorded at or after t, which must
// not be after the newest event.
func firstRecordedAt(ctx context.Context, store events.Store, t time.Time) (uint64, error) {
	var pos uint64
	err := store.Read(ctx, events.ReadOptions{FromTime: t}, func(_ context.Context, r events.Record) error {
		pos = r.Position
		return errRangeEnd
	})
	if err != nil && !errors.Is(err, errRangeEnd) {
		return 0, fmt.Errorf("finding the first event recorded at or after %s: %w", t.Format(time.RFC3339Nano), err)
	}
	return pos, nil
}

// replayLine is the --json form of one re-delivered (or, in a dry run, deliverable) event.
type replayLine struct {
	ToSubject string          `json:"to_subject"`
	Event     json.RawMessage `json:"event"`
}

func printReplayLine(w io.Writer, subject string, rec events.Record) error {
	var buf bytes.Buffer
	if err := (eventPrinter{w: &buf, json: true}).print(rec); err != nil {
		return err
	}
	line, err := json.Marshal(replayLine{ToSubject: subject, Event: bytes.TrimSpace(buf.Bytes())})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

// dryRunListed is how many events a text dry run lists.
const dryRunListed = 20

// dryRun reads the range and says what --execute would deliver, and where.
func (c *replayConfig) dryRun(ctx context.Context, env *environment, store events.Store, st *replayState, target replayTarget, summary io.Writer) error {
	var (
		n           uint64
		first, last events.Record
		byType      = map[string]uint64{}
		listed      strings.Builder
	)
	err := store.Read(ctx, events.ReadOptions{From: st.DeliveredThrough + 1, Filters: c.key.Filters}, func(_ context.Context, r events.Record) error {
		if r.Position > st.ToPosition {
			return errRangeEnd
		}
		if n == 0 {
			first = r
		}
		last = r
		n++
		byType[events.ShortType(r.EventType)]++
		if c.json {
			return printReplayLine(env.stdout, c.key.ToSubject, r)
		}
		if n <= dryRunListed {
			fmt.Fprintf(&listed, "  #%d  %s  %s  %s  v%d  id %s\n", r.Position, r.RecordedAt.UTC().Format("2006-01-02 15:04:05.000"),
				events.ShortType(r.EventType), r.Stream(), r.Version, r.EventID)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errRangeEnd) {
		return err
	}
	resumed := ""
	if st.Delivered > 0 {
		resumed = fmt.Sprintf(" (the rest: %d were delivered already)", st.Delivered)
	}
	fmt.Fprintf(summary, "dry run: would re-deliver %d events%s from positions %d-%d (filters %v) to %s via %s\n",
		n, resumed, st.FromPosition, st.ToPosition, filterList(c.key.Filters), c.key.ToSubject, target.describe())
	if n > 0 {
		fmt.Fprintf(summary, "  first #%d recorded %s, last #%d recorded %s\n  by type: %s\n", first.Position, first.RecordedAt.UTC().Format(time.RFC3339Nano),
			last.Position, last.RecordedAt.UTC().Format(time.RFC3339Nano), typeCounts(byType))
	}
	if !c.json && n > 0 {
		io.WriteString(summary, listed.String())
		if n > dryRunListed {
			fmt.Fprintf(summary, "  ... and %d more (--json lists every one)\n", n-dryRunListed)
		}
	}
	fmt.Fprintf(summary, "run it again with --execute to deliver them; progress is kept in %s\n", c.statePath)
	return nil
}

func typeCounts(m map[string]uint64) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// deliver publishes the range's events to the target in order, in batches that end with a
// confirmation (a flush or the JetStream acks) and a state save, so a rerun continues after the
// last confirmed event. Ctrl-C stops it after the current event.
func (c *replayConfig) deliver(ctx context.Context, env *environment, store events.Store, st *replayState, target replayTarget, summary io.Writer) error {
	if err := st.save(c.statePath); err != nil {
		return err
	}
	// Publishing and confirming outlive Ctrl-C: what was sent is confirmed and recorded.
	pubCtx := context.WithoutCancel(ctx)
	prog := &replayProgress{st: st, started: time.Now(), startDelivered: st.Delivered, startPosition: st.DeliveredThrough}
	stopProgress := prog.report(env.stderr, c.progressEvery)

	var (
		pending   []events.Record
		thisRun   int
		lastSaved = time.Now()
	)
	confirm := func() error {
		if len(pending) == 0 {
			return nil
		}
		cctx, cancel := context.WithTimeout(pubCtx, 30*time.Second)
		defer cancel()
		if err := target.confirm(cctx); err != nil {
			return fmt.Errorf("delivering to %s: %w", c.key.ToSubject, err)
		}
		if c.json {
			for _, r := range pending {
				if err := printReplayLine(env.stdout, c.key.ToSubject, r); err != nil {
					return err
				}
			}
		}
		prog.update(func() {
			st.DeliveredThrough = pending[len(pending)-1].Position
			st.Delivered += uint64(len(pending))
		})
		pending = pending[:0]
		lastSaved = time.Now()
		return st.save(c.statePath)
	}
	var pace *time.Ticker
	if c.rate > 0 {
		pace = time.NewTicker(time.Duration(float64(time.Second) / c.rate))
		defer pace.Stop()
	}
	err := store.Read(ctx, events.ReadOptions{From: st.DeliveredThrough + 1, Filters: c.key.Filters}, func(ctx context.Context, r events.Record) error {
		if r.Position > st.ToPosition {
			return errRangeEnd
		}
		if ctx.Err() != nil {
			return errInterrupted
		}
		if pace != nil {
			select {
			case <-pace.C:
			case <-ctx.Done():
				return errInterrupted
			}
		}
		if err := target.publish(pubCtx, replayMessage(r, c.key.ToSubject, st.RunID)); err != nil {
			return fmt.Errorf("delivering position %d to %s: %w", r.Position, c.key.ToSubject, err)
		}
		pending = append(pending, r)
		thisRun++
		prog.update(func() { prog.position = r.Position })
		if len(pending) >= c.batch || time.Since(lastSaved) >= time.Second || pace != nil {
			if err := confirm(); err != nil {
				return err
			}
		}
		if c.max > 0 && thisRun >= c.max {
			return errMaxReached
		}
		return nil
	})
	interrupted := errors.Is(err, errInterrupted) || (ctx.Err() != nil && errors.Is(err, context.Canceled))
	if err == nil || errors.Is(err, errRangeEnd) || errors.Is(err, errMaxReached) || interrupted {
		if cerr := confirm(); cerr != nil {
			err = cerr
		} else if err == nil || errors.Is(err, errRangeEnd) {
			prog.update(func() { st.Done, prog.position = true, st.ToPosition })
			err = st.save(c.statePath)
		}
	}
	stopProgress()
	switch {
	case st.Done && err == nil:
		fmt.Fprintf(summary, "re-delivered %d events (positions %d-%d, filters %v) to %s via %s; state %s\n",
			st.Delivered, st.FromPosition, st.ToPosition, filterList(c.key.Filters), c.key.ToSubject, target.describe(), c.statePath)
		return nil
	case errors.Is(err, errMaxReached):
		fmt.Fprintf(summary, "delivered %d events in this run (--max), %d in all, through position %d of %d-%d; run the same command again to continue\n",
			thisRun, st.Delivered, st.DeliveredThrough, st.FromPosition, st.ToPosition)
		return nil
	case interrupted:
		fmt.Fprintf(env.stderr, "stopped: %d events delivered through position %d of %d-%d; run the same command again to continue (state %s)\n",
			st.Delivered, st.DeliveredThrough, st.FromPosition, st.ToPosition, c.statePath)
		return fmt.Errorf("replay stopped: %w", context.Canceled)
	}
	return fmt.Errorf("%w; %d events were delivered through position %d: run the same command again to continue (state %s)",
		err, st.Delivered, st.DeliveredThrough, c.statePath)
}
