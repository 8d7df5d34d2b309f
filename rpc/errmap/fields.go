package errmap

import (
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/reboundhq/rebound/connector"
	"github.com/reboundhq/rebound/events"
)

// FieldError is a validation error that names the request field it is about. Errors of any
// type that implement it (and wrap events.ErrInvalidArgument) are reported field by field, like
// *events.InvalidArgumentError and *connector.FieldError.
type FieldError interface {
	error
	// FieldName is the field's path in the request, e.g. "record.account_id".
	FieldName() string
}

// maxViolations bounds how many fields one status lists, so a huge request cannot make a huge
// reply.
const maxViolations = 100

// FieldViolations returns the field errors inside err, a joined or wrapped error tree, in order.
func FieldViolations(err error) []*errdetails.BadRequest_FieldViolation {
	var out []*errdetails.BadRequest_FieldViolation
	walk(err, func(e error) bool {
		field, desc, ok := asField(e)
		if ok && len(out) < maxViolations {
			out = append(out, &errdetails.BadRequest_FieldViolation{Field: field, Description: desc})
		}
		return ok
	})
	return out
}

func asField(err error) (field, desc string, ok bool) {
	switch e := err.(type) {
	case *events.InvalidArgumentError:
		return e.Field, e.Reason, true
	case *connector.FieldError:
		return e.Field, e.Reason, true
	case FieldError:
		return e.FieldName(), e.Error(), true
	}
	return "", "", false
}

// walk visits err and what it wraps, depth first, not descending below a node where visit
// returns true.
func walk(err error, visit func(error) bool) {
	if err == nil || visit(err) {
		return
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, visit)
		}
	}
}

func invalidArgument(err error) error {
	v := FieldViolations(err)
	if len(v) == 0 {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = f.GetField() + ": " + f.GetDescription()
	}
	msg := "invalid argument: " + strings.Join(parts, "; ")
	st, derr := status.New(codes.InvalidArgument, msg).WithDetails(&errdetails.BadRequest{FieldViolations: v})
	if derr != nil { // cannot happen for a well-formed BadRequest; keep the message
		return status.Error(codes.InvalidArgument, msg)
	}
	return st.Err()
}
