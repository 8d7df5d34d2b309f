package natsstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// DirectGetter reads batches of messages from a stream with JetStream's batched direct get
// (one request, the matching messages, then an end-of-batch marker), over one reply
// subscription it keeps for its whole life. That is what makes a load cheap: a request costs one
// publish and a map entry, where a subscription per request (as jetstreamext.GetBatch makes)
// allocates a large pending buffer every time.
type DirectGetter struct {
	nc      *nats.Conn
	subject string // $JS.API.DIRECT.GET.<stream>
	prefix  string // reply subject prefix, ending in "."
	sub     *nats.Subscription

	mu      sync.Mutex
	next    uint64
	pending map[string]chan *nats.Msg
}

// NewDirectGetter subscribes to its replies; Close unsubscribes.
func NewDirectGetter(js jetstream.JetStream, stream string) (*DirectGetter, error) {
	nc := js.Conn()
	g := &DirectGetter{
		nc:      nc,
		subject: apiPrefix(js.Options()) + "DIRECT.GET." + stream,
		prefix:  nc.NewRespInbox() + "." + nuid.Next() + ".",
		pending: make(map[string]chan *nats.Msg),
	}
	sub, err := nc.Subscribe(g.prefix+"*", g.dispatch)
	if err != nil {
		return nil, fmt.Errorf("natsstore: subscribing to direct get replies: %w", err)
	}
	// Replies of one batch can arrive faster than a slow consumer reads them; the channel of
	// each request absorbs them, so the subscription itself needs no large buffer.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	g.sub = sub
	return g, nil
}

// Close stops receiving replies.
func (g *DirectGetter) Close() error { return g.sub.Unsubscribe() }

func apiPrefix(o jetstream.JetStreamOptions) string {
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	}
	return "$JS.API."
}

func (g *DirectGetter) dispatch(m *nats.Msg) {
	token := m.Subject[len(g.prefix):]
	g.mu.Lock()
	ch := g.pending[token]
	g.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

// RawMsg is a message as a direct get returns it.
type RawMsg struct {
	Subject  string
	Sequence uint64
	Time     time.Time
	Header   nats.Header
	Data     []byte
}

// errNoMessages is the server's answer when nothing matches.
var errNoMessages = errors.New("natsstore: no messages")

// Get returns up to batch messages on subjects matching filter, from stream sequence seq on,
// in order. fn is called for each; an error from it ends the batch early.
func (g *DirectGetter) Get(ctx context.Context, filter string, seq uint64, batch int, fn func(RawMsg) error) (int, error) {
	g.mu.Lock()
	g.next++
	token := strconv.FormatUint(g.next, 36)
	ch := make(chan *nats.Msg, batch+1)
	g.pending[token] = ch
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.pending, token)
		g.mu.Unlock()
	}()

	req := fmt.Appendf(nil, `{"seq":%d,"next_by_subj":%q,"batch":%d}`, max(seq, 1), filter, batch)
	if err := g.nc.PublishRequest(g.subject, g.prefix+token, req); err != nil {
		return 0, err
	}
	n := 0
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return n, ctx.Err()
		}
		raw, done, err := parseDirect(m)
		if done || errors.Is(err, errNoMessages) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if err := fn(raw); err != nil {
			return n, err
		}
		n++
		if n == batch {
			return n, nil
		}
	}
}

// parseDirect reads one reply: a message, the end-of-batch marker (done), or an error status.
func parseDirect(m *nats.Msg) (RawMsg, bool, error) {
	if len(m.Data) == 0 {
		switch status := m.Header.Get("Status"); status {
		case "":
		case "204":
			return RawMsg{}, true, nil
		case "404":
			return RawMsg{}, false, errNoMessages
		default:
			return RawMsg{}, false, fmt.Errorf("natsstore: direct get answered %s %s", status, m.Header.Get("Description"))
		}
	}
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return RawMsg{}, false, fmt.Errorf("natsstore: direct get reply without a valid %s header", jetstream.SequenceHeader)
	}
	ts, err := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
	if err != nil {
		return RawMsg{}, false, fmt.Errorf("natsstore: direct get reply without a valid %s header", jetstream.TimeStampHeaer)
	}
	return RawMsg{Subject: m.Header.Get(jetstream.SubjectHeader), Sequence: seq, Time: ts, Header: m.Header, Data: m.Data}, false, nil
}
