package server

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/reboundhq/rebound/rpc/auth"
)

// publicPrefixes are the methods callable without an API key: health and reflection.
var publicPrefixes = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

func isPublic(fullMethod string) bool {
	for _, p := range publicPrefixes {
		if strings.HasPrefix(fullMethod, p) {
			return true
		}
	}
	return false
}

// unaryInterceptor authenticates, recovers, maps the error, logs and measures one unary call.
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	p, ctx, err := s.authenticate(ctx, info.FullMethod)
	if err == nil {
		err = recovered(func() error {
			resp, err = handler(ctx, req)
			return err
		})
	}
	st := s.mapper.ToStatus(err)
	s.observe(ctx, info.FullMethod, p, time.Since(start), err, st)
	if st != nil {
		return nil, st
	}
	return resp, nil
}

// streamInterceptor does the same for one streaming call, measured over the whole stream.
func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	p, ctx, err := s.authenticate(ss.Context(), info.FullMethod)
	if err == nil {
		err = recovered(func() error { return handler(srv, &stream{ServerStream: ss, ctx: ctx}) })
	}
	st := s.mapper.ToStatus(err)
	s.observe(ctx, info.FullMethod, p, time.Since(start), err, st)
	return st
}

// stream is a ServerStream whose context carries the caller.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// authenticate checks the call's API key and returns the caller and a context carrying it.
// Public methods need no key and get no caller.
func (s *Server) authenticate(ctx context.Context, fullMethod string) (auth.Principal, context.Context, error) {
	if isPublic(fullMethod) {
		return auth.Principal{}, ctx, nil
	}
	key, err := bearerKey(ctx)
	if err != nil {
		return auth.Principal{}, ctx, err
	}
	p, err := auth.Verify(ctx, s.keys, key)
	if err != nil {
		return auth.Principal{}, ctx, err
	}
	return p, auth.NewContext(ctx, p), nil
}

// bearerKey reads the API key from the "authorization: Bearer <key>" metadata.
func bearerKey(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	switch len(vals) {
	case 0:
		return "", nil // auth.Verify reports the missing key
	case 1:
	default:
		return "", &auth.UnauthenticatedError{Reason: "more than one authorization value"}
	}
	scheme, key, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", &auth.UnauthenticatedError{Reason: "authorization is not \"Bearer <key>\""}
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return "", &auth.UnauthenticatedError{Reason: "empty bearer key"}
	}
	return key, nil
}

// panicError is a handler's panic, turned into an error that maps to Internal.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// recovered runs fn and turns a panic into a *panicError.
func recovered(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: debug.Stack()}
		}
	}()
	return fn()
}
