package errmap_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/errmap"
)

var errAlreadyDismissed = errors.New("alert already dismissed")

type quotaError struct{}

func (quotaError) Error() string { return "quota used up" }

var errQuota = quotaError{}

type customField struct{ name string }

func (c *customField) Error() string     { return c.name + " looks wrong" }
func (c *customField) FieldName() string { return c.name }
func (c *customField) Unwrap() error     { return events.ErrInvalidArgument }

func TestToStatus_codes(t *testing.T) {
	t.Parallel()
	m := errmap.NewMapper()
	m.RegisterPrecondition(errAlreadyDismissed)
	m.Register(codes.ResourceExhausted, errQuota)

	tests := []struct {
		name    string
		err     error
		code    codes.Code
		message string // exact message, when set
		hides   string // text that must not be in the message
	}{
		{name: "nil", err: nil, code: codes.OK},
		{name: "not found", err: fmt.Errorf("alert a1: %w", events.ErrNotFound), code: codes.NotFound, message: "alert a1: events: stream not found"},
		{name: "conflict", err: fmt.Errorf("dismiss: %w", &events.ConflictError{Reason: "wrong last sequence 7"}), code: codes.Aborted, message: errmap.MsgAborted, hides: "sequence"},
		{name: "registered precondition", err: fmt.Errorf("dismiss a1: %w", errAlreadyDismissed), code: codes.FailedPrecondition, message: "dismiss a1: alert already dismissed"},
		{name: "shared precondition", err: fmt.Errorf("order is shipped: %w", errmap.ErrFailedPrecondition), code: codes.FailedPrecondition},
		{name: "registered other code", err: fmt.Errorf("x: %w", errQuota), code: codes.ResourceExhausted},
		{name: "unauthenticated", err: &auth.UnauthenticatedError{KeyID: "k1", Reason: "wrong secret"}, code: codes.Unauthenticated, message: errmap.MsgUnauthenticated, hides: "wrong secret"},
		{name: "permission denied", err: fmt.Errorf("%w: account m2", auth.ErrPermissionDenied), code: codes.PermissionDenied, message: errmap.MsgPermissionDenied, hides: "m2"},
		{name: "canceled", err: fmt.Errorf("loading: %w", context.Canceled), code: codes.Canceled},
		{name: "deadline", err: fmt.Errorf("loading: %w", context.DeadlineExceeded), code: codes.DeadlineExceeded},
		{name: "internal", err: errors.New("nats: connection refused to 10.1.2.3 password=hunter2"), code: codes.Internal, message: errmap.MsgInternal, hides: "hunter2"},
		{name: "status kept", err: status.Error(codes.OutOfRange, "page 9 is past the end"), code: codes.OutOfRange, message: "page 9 is past the end"},
		{name: "wrapped status is not trusted", err: fmt.Errorf("calling retry: %w", status.Error(codes.NotFound, "schedule gone")), code: codes.Internal, hides: "schedule"},
		{name: "plain invalid argument", err: fmt.Errorf("cursor: %w", events.ErrInvalidArgument), code: codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := m.ToStatus(tt.err)
			st := status.Convert(got)
			if tt.err == nil {
				if got != nil {
					t.Fatalf("ToStatus(nil) = %v, want nil", got)
				}
				return
			}
			if st.Code() != tt.code {
				t.Fatalf("code = %s, want %s (status %v)", st.Code(), tt.code, got)
			}
			if tt.message != "" && st.Message() != tt.message {
				t.Errorf("message = %q, want %q", st.Message(), tt.message)
			}
			if tt.hides != "" && strings.Contains(st.Message(), tt.hides) {
				t.Errorf("message %q reveals %q", st.Message(), tt.hides)
			}
		})
	}
}

func TestToStatus_invalidArgumentNamesEveryField(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("report failure: %w", errors.Join(
		&connector.FieldError{Field: "record.account_id", Reason: "is required"},
		fmt.Errorf("wrapped: %w", &events.InvalidArgumentError{Field: "aggregate_id", Reason: "too long"}),
		&customField{name: "failed_at"},
	))
	st := status.Convert(errmap.NewMapper().ToStatus(err))
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %s, want InvalidArgument", st.Code())
	}
	want := []struct{ field, desc string }{
		{"record.account_id", "is required"},
		{"aggregate_id", "too long"},
		{"failed_at", "failed_at looks wrong"},
	}
	for _, w := range want {
		if !strings.Contains(st.Message(), w.field+": "+w.desc) {
			t.Errorf("message %q does not name %s", st.Message(), w.field)
		}
	}
	var br *errdetails.BadRequest
	for _, d := range st.Details() {
		if b, ok := d.(*errdetails.BadRequest); ok {
			br = b
		}
	}
	if br == nil {
		t.Fatalf("no BadRequest detail in %v", st.Details())
	}
	if len(br.GetFieldViolations()) != len(want) {
		t.Fatalf("violations = %v, want %d", br.GetFieldViolations(), len(want))
	}
	for i, w := range want {
		v := br.GetFieldViolations()[i]
		if v.GetField() != w.field || v.GetDescription() != w.desc {
			t.Errorf("violation %d = %s %q, want %s %q", i, v.GetField(), v.GetDescription(), w.field, w.desc)
		}
	}
}

func TestToStatus_connectorValidation(t *testing.T) {
	t.Parallel()
	err := connector.ValidateFailed(nil)
	st := status.Convert(errmap.ToStatus(err))
	if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "record_failed") {
		t.Fatalf("status = %s %q, want InvalidArgument naming record_failed", st.Code(), st.Message())
	}
}

func TestMapper_Register_firstWins(t *testing.T) {
	t.Parallel()
	m := errmap.NewMapper()
	m.Register(codes.AlreadyExists, errAlreadyDismissed)
	m.RegisterPrecondition(errAlreadyDismissed)
	if got := m.Code(errAlreadyDismissed); got != codes.AlreadyExists {
		t.Fatalf("code = %s, want AlreadyExists", got)
	}
	if got := m.Code(nil); got != codes.OK {
		t.Fatalf("Code(nil) = %s, want OK", got)
	}
}
