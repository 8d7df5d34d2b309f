package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/reboundhq/rebound/rpc/auth"
)

// observe writes the call's one log line and its metrics. raw is the handler's (or the
// authentication's) own error, st the status the caller receives.
func (s *Server) observe(ctx context.Context, fullMethod string, p auth.Principal, d time.Duration, raw, st error) {
	code := status.Code(st)
	s.metrics.observe(fullMethod, code, d)

	level := slog.LevelInfo
	switch {
	case code == codes.Internal || code == codes.Unknown || code == codes.DataLoss:
		level = slog.LevelError
	case isPublic(fullMethod):
		level = slog.LevelDebug
	}
	if !s.log.Enabled(ctx, level) {
		return
	}
	keyID := p.KeyID
	var ue *auth.UnauthenticatedError
	if keyID == "" && errors.As(raw, &ue) {
		keyID = ue.KeyID
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("method", fullMethod),
		slog.String("code", code.String()),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("key_id", keyID),
		slog.String("scope", string(p.Scope)),
		slog.String("account", p.Account),
	)
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		attrs = append(attrs, slog.String("peer", pr.Addr.String()))
	}
	if raw != nil {
		attrs = append(attrs, slog.Any("error", raw))
		var pe *panicError
		if errors.As(raw, &pe) {
			attrs = append(attrs, slog.String("stack", string(pe.stack)))
		}
	}
	s.log.LogAttrs(ctx, level, "grpc call", attrs...)
}
