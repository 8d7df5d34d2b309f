package grpcapi

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"

	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/services/alerts/app"
)

// DefaultHeartbeat is how long a watch stays quiet before it sends a heartbeat.
const DefaultHeartbeat = 15 * time.Second

// WatchConfig configures WatchAlerts.
type WatchConfig struct {
	// Heartbeat is how long a watch stays quiet before it sends a heartbeat; default
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// Stopping, once closed, ends every watch with UNAVAILABLE: the server is shutting down, and
	// the gRPC server's graceful stop waits for streams to end. Nil never ends them.
	Stopping <-chan struct{}
}

// watchBuffer is how many events a watch reads ahead of what it has sent.
const watchBuffer = 64

// errShuttingDown is the cause a watch ends with when the server shuts down.
var errShuttingDown = errors.New("the server is shutting down")

// WatchAlerts implements AlertService: it validates the request, derives what the caller may
// see (auth.ListFilter: a merchant key naming another account is refused before anything is
// read), then streams the matching alert events with heartbeats, until the client cancels or the
// server shuts down. One goroutine reads the event store and the handler's own goroutine is the
// only one that sends, as gRPC requires.
func (s *Alerts) WatchAlerts(req *alertsv1.WatchAlertsRequest, stream alertsv1.AlertService_WatchAlertsServer) error {
	q := app.WatchAlerts{
		Account: req.GetAccountId(), AlertTypes: req.GetAlertTypes(), Classes: req.GetErrorClasses(),
		Connections: req.GetConnectionIds(), RecordKinds: req.GetRecordKinds(), EventTypes: req.GetEventTypes(),
	}
	if req.AfterPosition != nil {
		q.Resume, q.After = true, req.GetAfterPosition()
	}
	if err := q.Validate(); err != nil {
		return err
	}
	f, err := auth.ListFilter(stream.Context(), q.Account)
	if err != nil {
		return err
	}
	q.Allows = f.Allows

	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	if s.watch.Stopping != nil {
		stop := s.watch.Stopping
		go func() {
			select {
			case <-stop:
				cancel(errShuttingDown)
			case <-ctx.Done():
			}
		}()
	}
	msgs := make(chan *alertsv1.WatchAlertsResponse, watchBuffer)
	put := func(m *alertsv1.WatchAlertsResponse) error {
		select {
		case msgs <- m:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- s.app.Queries.WatchAlerts.Handle(ctx, q,
			func(position uint64) error {
				return put(&alertsv1.WatchAlertsResponse{Position: position, HeartbeatAt: timestamppb.Now()})
			},
			func(c app.AlertChange) error {
				ev, err := historyEvent(c.Record)
				if err != nil {
					return err
				}
				return put(&alertsv1.WatchAlertsResponse{
					Position: c.Record.Position, Event: ev, AccountId: c.Record.Account, AlertId: c.Record.AggregateID,
				})
			})
	}()
	err = s.sendWatch(ctx, stream, msgs, done)
	cancel(nil)
	// Wait for the reader, so that nothing of the watch outlives the call.
	if rerr := <-done; err == nil {
		err = rerr
	}
	if errors.Is(context.Cause(ctx), errShuttingDown) && stream.Context().Err() == nil {
		return status.Error(codes.Unavailable, "the server is shutting down: watch again with after_position set to the last position received")
	}
	return err
}

// sendWatch sends what the reader puts in msgs, and a heartbeat after every quiet interval,
// until the reader ends (it returns nil, and the reader's result is in done) or a send fails.
func (s *Alerts) sendWatch(ctx context.Context, stream alertsv1.AlertService_WatchAlertsServer, msgs <-chan *alertsv1.WatchAlertsResponse, done chan error) error {
	every := s.watch.Heartbeat
	if every <= 0 {
		every = DefaultHeartbeat
	}
	quiet := time.NewTimer(every)
	defer quiet.Stop()
	var (
		position uint64
		started  bool
	)
	for {
		select {
		case m := <-msgs:
			if err := stream.Send(m); err != nil {
				return err
			}
			position, started = m.GetPosition(), true
			quiet.Reset(every)
		case <-quiet.C:
			if started {
				if err := stream.Send(&alertsv1.WatchAlertsResponse{Position: position, HeartbeatAt: timestamppb.Now()}); err != nil {
					return err
				}
			}
			quiet.Reset(every)
		case err := <-done:
			// The reader stopped and writes no more: send what it read before, unless the
			// watch is over.
			for ctx.Err() == nil && len(msgs) > 0 {
				if err := stream.Send(<-msgs); err != nil {
					return err
				}
			}
			done <- err
			return nil
		}
	}
}
