package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/events/wire"
)

// replayHistory stores six events of one alert of a fresh account, with events of another
// account in between, and returns the account and the alert's events.
func replayHistory(t *testing.T, url string) (string, []events.Record) {
	t.Helper()
	f := newAlertFixture(t, url)
	account, other := unique("rp"), unique("rpx")
	t0 := time.Now().Add(-time.Hour)
	var stream events.StreamID
	for i := range 6 {
		at := t0.Add(time.Duration(i) * time.Minute)
		stream = f.fail(orderRef(account, "", "1001"), "a"+strconv.Itoa(i), 503, "", "Service Unavailable", at)
		f.fail(orderRef(other, "", "1001"), "a"+strconv.Itoa(i), 503, "", "Service Unavailable", at)
		clockMoves() // distinct recorded times
	}
	recs := f.history(stream)
	if len(recs) != 6 {
		t.Fatalf("the fixture stored %d events, want 6", len(recs))
	}
	return account, recs
}

func ids(recs []events.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.EventID
	}
	return out
}

func pos(r events.Record) string { return strconv.FormatUint(r.Position, 10) }

// dryRunIDs runs a --json dry run and returns the ids of the events it would deliver.
func dryRunIDs(t *testing.T, vars map[string]string, args ...string) []string {
	t.Helper()
	out, _ := runOK(t, vars, append([]string{"replay", "--json"}, args...)...)
	var got []string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var l struct {
			ToSubject string    `json:"to_subject"`
			Event     eventJSON `json:"event"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("dry run line %q: %v", line, err)
		}
		got = append(got, l.Event.EventID)
	}
	return got
}

func TestReplay_dryRunCountsExactlyTheRange(t *testing.T) {
	t.Parallel()
	url := natstest.SharedURL(t)
	account, recs := replayHistory(t, url)
	dataDir := t.TempDir()
	vars := map[string]string{"REBOUND_NATS_URL": url, "REBOUND_DATA_DIR": dataDir}
	filter := "evt.alert." + account + ".>"
	want := ids(recs[1:5])
	rfc := func(r events.Record) string { return r.RecordedAt.UTC().Format(time.RFC3339Nano) }

	cases := map[string][]string{
		"positions":          {"--from", pos(recs[1]), "--to", pos(recs[4])},
		"times":              {"--from", rfc(recs[1]), "--to", rfc(recs[4])},
		"times between":      {"--from", recs[0].RecordedAt.Add(time.Nanosecond).UTC().Format(time.RFC3339Nano), "--to", recs[5].RecordedAt.Add(-time.Nanosecond).UTC().Format(time.RFC3339Nano)},
		"position then time": {"--from", pos(recs[1]), "--to", rfc(recs[4])},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := dryRunIDs(t, vars, append(args, "--filter", filter, "--to-subject", "replay.dry")...)
			if !slices.Equal(got, want) {
				t.Fatalf("a dry run of %v would deliver %v, want %v", args, got, want)
			}
		})
	}

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		out, _ := runOK(t, vars, "replay", "--from", pos(recs[1]), "--to", pos(recs[4]), "--filter", filter, "--to-subject", "replay.dry")
		for _, want := range []string{
			"dry run: would re-deliver 4 events from positions " + pos(recs[1]) + "-" + pos(recs[4]),
			"to replay.dry via core NATS", "by type: AlertOccurred 4", "#" + pos(recs[2]), recs[3].EventID, "run it again with --execute",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the dry run lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, recs[0].EventID) || strings.Contains(out, recs[5].EventID) {
			t.Errorf("the dry run lists events outside the range:\n%s", out)
		}
	})

	t.Run("up to now", func(t *testing.T) {
		t.Parallel()
		for _, to := range []string{"now", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)} {
			if got := dryRunIDs(t, vars, "--from", pos(recs[1]), "--to", to, "--filter", filter, "--to-subject", "replay.dry"); !slices.Equal(got, ids(recs[1:])) {
				t.Fatalf("--to %s would deliver %v, want %v", to, got, ids(recs[1:]))
			}
		}
	})

	t.Run("nothing in range", func(t *testing.T) {
		t.Parallel()
		for _, r := range [][2]string{
			{"2000-01-01T00:00:00Z", "2000-01-02T00:00:00Z"},
			{time.Now().Add(time.Hour).UTC().Format(time.RFC3339), time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)},
		} {
			out, _ := runOK(t, vars, "replay", "--from", r[0], "--to", r[1], "--to-subject", "replay.dry")
			if !strings.Contains(out, "no events were recorded between") {
				t.Fatalf("the range %s-%s printed %q", r[0], r[1], out)
			}
		}
	})

	// A dry run changes nothing: no state file.
	if files, _ := filepath.Glob(filepath.Join(dataDir, "replay-*.json")); len(files) != 0 {
		t.Fatalf("a dry run wrote %v", files)
	}
}

// received collects the messages a subscription got, waiting up to a second for each.
func received(t *testing.T, sub *nats.Subscription, n int) []*nats.Msg {
	t.Helper()
	var out []*nats.Msg
	for range n {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("got %d messages, want %d: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func nothingMore(t *testing.T, sub *nats.Subscription) {
	t.Helper()
	if m, err := sub.NextMsg(200 * time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("an unexpected delivery: %v %v", m, err)
	}
}

// checkReplayed checks the re-delivered messages are exactly recs, in order: bodies and event
// headers as stored, and the replay headers.
func checkReplayed(t *testing.T, msgs []*nats.Msg, recs []events.Record, subject string) (runIDs []string) {
	t.Helper()
	if len(msgs) != len(recs) {
		t.Fatalf("%d messages, want %d", len(msgs), len(recs))
	}
	for i, m := range msgs {
		r := recs[i]
		h := m.Header
		if h.Get(headerReplayOf) != r.EventID {
			t.Fatalf("message %d re-delivers %s, want %s (%v)", i, h.Get(headerReplayOf), r.EventID, ids(recs))
		}
		if m.Subject != subject || !bytes.Equal(m.Data, r.Data) || h.Get(wire.HeaderEventType) != r.EventType ||
			h.Get(wire.HeaderVersion) != strconv.FormatUint(r.Version, 10) || h.Get(wire.HeaderCorrelationID) != r.CorrelationID ||
			h.Get(headerReplaySubject) != events.Subject(r.Stream(), r.EventType) || h.Get(headerReplayPosition) != pos(r) ||
			h.Get(wire.HeaderOccurredAt) != r.OccurredAt.UTC().Format(time.RFC3339Nano) {
			t.Fatalf("message %d on %s does not carry event %d as stored: headers %v", i, m.Subject, r.Position, h)
		}
		if h.Get(wire.HeaderEventID) == r.EventID || h.Get(wire.HeaderEventID) == "" {
			t.Fatalf("message %d has Nats-Msg-Id %q: want one derived from the run, not the event's", i, h.Get(wire.HeaderEventID))
		}
		if !slices.Contains(runIDs, h.Get(headerReplay)) {
			runIDs = append(runIDs, h.Get(headerReplay))
		}
	}
	return runIDs
}

func readState(t *testing.T, dataDir string) (string, replayState) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dataDir, "replay-*.json"))
	if len(files) != 1 {
		t.Fatalf("state files %v, want one", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var st replayState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state %s: %v", b, err)
	}
	return files[0], st
}

func TestReplay_executeRedeliversExactlyTheRangeAndResumes(t *testing.T) {
	t.Parallel()
	url := natstest.SharedURL(t)
	account, recs := replayHistory(t, url)
	dataDir := t.TempDir()
	vars := map[string]string{"REBOUND_NATS_URL": url, "REBOUND_DATA_DIR": dataDir}
	target := "replay." + account
	nc := natstest.Connect(t, url)
	sub, err := nc.SubscribeSync(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	args := []string{"replay", "--from", pos(recs[1]), "--to", pos(recs[4]), "--filter", "evt.alert." + account + ".>", "--to-subject", target, "--execute"}

	// Three in the first run, then the rest.
	out, progress := runOK(t, vars, append(args, "--max", "3")...)
	if !strings.Contains(out, "delivered 3 events in this run (--max), 3 in all, through position "+pos(recs[3])) ||
		!strings.Contains(progress, "replay: 3 events delivered, position "+pos(recs[3])) {
		t.Fatalf("first run:\n%s\n%s", out, progress)
	}
	first := received(t, sub, 3)
	nothingMore(t, sub)
	out, progress = runOK(t, vars, args...)
	if !strings.Contains(out, "re-delivered 4 events (positions "+pos(recs[1])+"-"+pos(recs[4])) || !strings.Contains(progress, "resuming the replay") ||
		!strings.Contains(progress, "[====================] 100.0%") {
		t.Fatalf("second run:\n%s\n%s", out, progress)
	}
	rest := received(t, sub, 1)
	nothingMore(t, sub)
	runs := checkReplayed(t, append(first, rest...), recs[1:5], target)
	if len(runs) != 1 {
		t.Fatalf("the resumed run has another run id: %v", runs)
	}

	path, st := readState(t, dataDir)
	if !st.Done || st.Delivered != 4 || st.DeliveredThrough != recs[4].Position || st.FromPosition != recs[1].Position ||
		st.ToPosition != recs[4].Position || st.Target != "core" || st.RunID != runs[0] || st.Args.ToSubject != target {
		t.Fatalf("state %s: %+v", path, st)
	}

	// Done is done: a rerun delivers nothing; --restart delivers the range again.
	out, _ = runOK(t, vars, args...)
	if !strings.Contains(out, "already re-delivered: 4 events") {
		t.Fatalf("third run: %s", out)
	}
	nothingMore(t, sub)
	runOK(t, vars, append(args, "--restart")...)
	again := checkReplayed(t, received(t, sub, 4), recs[1:5], target)
	if again[0] == runs[0] {
		t.Fatalf("--restart kept the run id %s", runs[0])
	}
}

func TestReplay_toAStreamIsAckedAndNeverDuplicated(t *testing.T) {
	t.Parallel()
	url := natstest.SharedURL(t)
	account, recs := replayHistory(t, url)
	dataDir := t.TempDir()
	vars := map[string]string{"REBOUND_NATS_URL": url, "REBOUND_DATA_DIR": dataDir}
	js, err := jetstream.New(natstest.Connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	name := "REPLAY_" + strings.ReplaceAll(account, "-", "_")
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"replayed." + account + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	target := "replayed." + account + ".billing"
	args := []string{"replay", "--from", pos(recs[0]), "--to", pos(recs[5]), "--filter", "evt.*." + account + ".>", "--to-subject", target, "--execute", "--json"}

	out, errOut := runOK(t, vars, args...)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 6 || !strings.Contains(lines[0], `"to_subject":"`+target+`"`) {
		t.Fatalf("--execute --json printed:\n%s", out)
	}
	if !strings.Contains(errOut, "via JetStream stream "+name) {
		t.Fatalf("the summary does not name the stream:\n%s", errOut)
	}
	stored := func() []*nats.Msg {
		t.Helper()
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []*nats.Msg
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := stream.GetMsg(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
		}
		return msgs
	}
	runs := checkReplayed(t, stored(), recs, target)

	// A crash after the last events went out but before the state said so: the rerun sends them
	// again and the stream drops them by Nats-Msg-Id.
	path, st := readState(t, dataDir)
	st.Done, st.DeliveredThrough, st.Delivered = false, recs[3].Position, 4
	if err := st.save(path); err != nil {
		t.Fatal(err)
	}
	runOK(t, vars, args...)
	if again := checkReplayed(t, stored(), recs, target); len(again) != 1 || again[0] != runs[0] {
		t.Fatalf("the resumed run changed the run id: %v", again)
	}
	if _, st = readState(t, dataDir); !st.Done || st.Target != "jetstream:"+name {
		t.Fatalf("state after the resumed run: %+v", st)
	}
}

func TestReplay_ctrlCStopsAfterTheCurrentEventAndResumes(t *testing.T) {
	t.Parallel()
	url := natstest.SharedURL(t)
	account, recs := replayHistory(t, url)
	dataDir := t.TempDir()
	vars := map[string]string{"REBOUND_NATS_URL": url, "REBOUND_DATA_DIR": dataDir}
	target := "replay." + account
	nc := natstest.Connect(t, url)
	sub, err := nc.SubscribeSync(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	args := []string{"replay", "--from", pos(recs[0]), "--to", pos(recs[5]), "--filter", "evt.alert." + account + ".>", "--to-subject", target, "--execute"}

	// Ctrl-C as soon as the first event arrives; at 10 events/s the rest is far behind.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env, _, errOut := testEnv(vars)
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, append(args, "--rate", "10")) }()
	var got []*nats.Msg
	got = append(got, received(t, sub, 1)...)
	cancel()
	if code := <-done; code != 130 {
		t.Fatalf("an interrupted replay exited %d: %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "stopped: ") || !strings.Contains(errOut.String(), "run the same command again to continue") {
		t.Fatalf("stderr: %s", errOut)
	}
	_, st := readState(t, dataDir)
	for {
		m, err := sub.NextMsg(200 * time.Millisecond)
		if err != nil {
			break
		}
		got = append(got, m)
	}
	if st.Done || st.Delivered != uint64(len(got)) || st.DeliveredThrough != recs[len(got)-1].Position || len(got) == len(recs) {
		t.Fatalf("after Ctrl-C: %d received, state %+v", len(got), st)
	}

	runOK(t, vars, args...)
	got = append(got, received(t, sub, len(recs)-len(got))...)
	nothingMore(t, sub)
	checkReplayed(t, got, recs, target)
}

func TestReplay_errorsAreClear(t *testing.T) {
	t.Parallel()
	url := natstest.SharedURL(t)
	account, _ := replayHistory(t, url)
	vars := map[string]string{"REBOUND_NATS_URL": url, "REBOUND_DATA_DIR": t.TempDir()}
	ok := []string{"--from", "1", "--to", "now"}
	cases := map[string]struct {
		args []string
		vars map[string]string
		code int
		want string
	}{
		"into the store":   {append(ok, "--to-subject", "evt.alert."+account+".x.AlertRaised"), vars, 2, "is inside evt.>: publishing there would append to the event store"},
		"into evt":         {append(ok, "--to-subject", "evt"), vars, 2, "is inside evt.>"},
		"wildcard":         {append(ok, "--to-subject", "replay.*"), vars, 2, "is a wildcard"},
		"empty token":      {append(ok, "--to-subject", "replay..x"), vars, 2, "has an empty token"},
		"system":           {append(ok, "--to-subject", "$JS.API.x"), vars, 2, "is a system subject"},
		"no target":        {ok, vars, 2, "--to-subject is required"},
		"no from":          {[]string{"--to", "now", "--to-subject", "r.x"}, vars, 2, "--from and --to are required"},
		"bad from":         {[]string{"--from", "yesterday", "--to", "now", "--to-subject", "r.x"}, vars, 2, `--from "yesterday" is neither a position nor an RFC 3339 time`},
		"bad to":           {[]string{"--from", "1", "--to", "0", "--to-subject", "r.x"}, vars, 2, `--to "0" is not a position`},
		"backwards":        {[]string{"--from", "9", "--to", "3", "--to-subject", "r.x"}, vars, 2, "--to 3 is before --from 9"},
		"backwards times":  {[]string{"--from", "2026-03-02T10:00:00Z", "--to", "2026-03-02T09:00:00Z", "--to-subject", "r.x"}, vars, 2, "is before --from"},
		"bad filter":       {append(ok, "--to-subject", "r.x", "--filter", "evt.>.x"), vars, 2, `--filter "evt.>.x"`},
		"negative max":     {append(ok, "--to-subject", "r.x", "--max", "-1"), vars, 2, "--max and --rate must not be negative"},
		"no server":        {append(ok, "--to-subject", "r.x"), map[string]string{"REBOUND_NATS_URL": "nats://127.0.0.1:1"}, 1, "is `rebound dev` running"},
		"foreign state":    {append(ok, "--to-subject", "r.y", "--state", writeForeignState(t)), vars, 1, "belongs to another replay"},
		"unreadable state": {append(ok, "--to-subject", "r.y", "--state", writeFile(t, "{not json")), vars, 1, "is not one `rebound replay` wrote"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, _, errOut := testEnv(tc.vars)
			code := run(context.Background(), env, append([]string{"replay"}, tc.args...))
			if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tc.code, tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeForeignState(t *testing.T) string {
	t.Helper()
	b, _ := json.Marshal(replayState{Version: replayStateVersion, Args: replayKey{From: "5", To: "6", ToSubject: "other.subject"}})
	return writeFile(t, string(b))
}
