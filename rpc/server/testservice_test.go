package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/errmap"
)

// testService is a tiny service registered by hand (no generated code): Get loads a resource
// the way real services do, Fail returns the error its request names, Watch streams the caller.
const testServiceName = "rebound.rpctest.v1.TestService"

// resources maps account/id to the account's warehouse: m1 and m3 are merchants of w1, m2 one
// of w2; w1 has a resource of its own.
var resources = map[string]string{
	"m1/r1": "w1",
	"m3/r1": "w1",
	"m2/r1": "w2",
	"w1/r1": "",
}

var errWrongState = errors.New("the alert is already dismissed")

// secretDetail is in the error behind Internal; it must reach the log and never the caller.
const secretDetail = "dial tcp 10.9.8.7:4222: password=hunter2"

type testService struct{}

func (testService) Get(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	account, id, _ := strings.Cut(req.GetValue(), "/")
	if err := auth.AuthorizeAccount(ctx, account); err != nil {
		return nil, err
	}
	warehouse, found := resources[account+"/"+id]
	if err := auth.CheckLoaded(ctx, account, warehouse, found); err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("resource %s of %s: %w", id, account, events.ErrNotFound)
	}
	p, _ := auth.FromContext(ctx)
	return wrapperspb.String(req.GetValue() + " for " + p.KeyID), nil
}

func (testService) Fail(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	switch req.GetValue() {
	case "invalid":
		return nil, errors.Join(
			&connector.FieldError{Field: "record.account_id", Reason: "is required"},
			&connector.FieldError{Field: "failed_at", Reason: "is required"},
		)
	case "notfound":
		return nil, fmt.Errorf("alert a1: %w", events.ErrNotFound)
	case "conflict":
		return nil, fmt.Errorf("dismissing: %w", &events.ConflictError{Reason: "wrong last sequence"})
	case "precondition":
		return nil, fmt.Errorf("dismiss a1: %w", errWrongState)
	case "shared-precondition":
		return nil, fmt.Errorf("order o1 is shipped: %w", errmap.ErrFailedPrecondition)
	case "status":
		return nil, status.Error(codes.ResourceExhausted, "slow down")
	case "panic":
		panic("boom: " + secretDetail)
	default:
		return nil, fmt.Errorf("loading: %s", secretDetail)
	}
}

func (testService) Watch(req *wrapperspb.StringValue, ss grpc.ServerStream) error {
	if req.GetValue() == "fail" {
		return fmt.Errorf("watch: %w", events.ErrNotFound)
	}
	p, ok := auth.FromContext(ss.Context())
	if !ok {
		return errors.New("no caller in the stream's context")
	}
	return ss.SendMsg(wrapperspb.String(p.Account))
}

func unary(name string, fn func(testService, context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)) grpc.MethodDesc {
	full := "/" + testServiceName + "/" + name
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				return fn(srv.(testService), ctx, req.(*wrapperspb.StringValue))
			}
			if interceptor == nil {
				return h(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, h)
		},
	}
}

var testServiceDesc = grpc.ServiceDesc{
	ServiceName: testServiceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		unary("Get", testService.Get),
		unary("Fail", testService.Fail),
	},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Watch",
		ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			return srv.(testService).Watch(in, ss)
		},
	}},
}
