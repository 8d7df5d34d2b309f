package errmap

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/rpc/auth"
)

// ErrFailedPrecondition is a shared sentinel for "the resource is not in a state that allows
// this": wrap it, or register a domain's own sentinels with [Mapper.RegisterPrecondition].
var ErrFailedPrecondition = errors.New("failed precondition")

// Fixed messages for the codes whose detail must not reach the caller.
const (
	MsgUnauthenticated  = "missing or invalid API key: send the metadata authorization: Bearer <key>"
	MsgPermissionDenied = "permission denied"
	MsgAborted          = "the resource changed while the call ran: retry the call"
	MsgCanceled         = "the call was canceled"
	MsgDeadlineExceeded = "the call's deadline expired"
	MsgInternal         = "internal error"
)

// Mapper maps errors to gRPC statuses. Register sentinels while the process starts; mapping is
// safe for concurrent use with registration, but a status depends on what was registered by then.
type Mapper struct {
	mu    sync.RWMutex
	rules []rule
}

type rule struct {
	code     codes.Code
	sentinel error
}

// NewMapper returns a mapper with only the built-in rules.
func NewMapper() *Mapper { return &Mapper{} }

// Register makes errors that match one of sentinels (errors.Is) map to code, with the error's
// own text as the message. Earlier registrations win. It panics on codes.OK, a programming error.
func (m *Mapper) Register(code codes.Code, sentinels ...error) {
	if code == codes.OK {
		panic("errmap: cannot map an error to codes.OK")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range sentinels {
		if s != nil {
			m.rules = append(m.rules, rule{code: code, sentinel: s})
		}
	}
}

// RegisterPrecondition makes errors matching one of sentinels (wrong-state errors such as "alert
// already dismissed") map to FailedPrecondition.
func (m *Mapper) RegisterPrecondition(sentinels ...error) {
	m.Register(codes.FailedPrecondition, sentinels...)
}

// Default is the mapper the package functions and, unless configured otherwise, the server use.
var Default = NewMapper()

// Register registers sentinels on Default; see [Mapper.Register].
func Register(code codes.Code, sentinels ...error) { Default.Register(code, sentinels...) }

// RegisterPrecondition registers wrong-state sentinels on Default; see
// [Mapper.RegisterPrecondition].
func RegisterPrecondition(sentinels ...error) { Default.RegisterPrecondition(sentinels...) }

// ToStatus maps err with Default; see [Mapper.ToStatus].
func ToStatus(err error) error { return Default.ToStatus(err) }

// ToStatus returns the gRPC status error for err (nil for nil). See the package documentation
// for the rules.
func (m *Mapper) ToStatus(err error) error {
	if err == nil {
		return nil
	}
	// Only a status the handler returned itself is kept: one wrapped inside another error came
	// from a call this server made, and its code says nothing about this caller's request.
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, MsgCanceled)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, MsgDeadlineExceeded)
	case errors.Is(err, auth.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, MsgUnauthenticated)
	case errors.Is(err, auth.ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, MsgPermissionDenied)
	case errors.Is(err, events.ErrInvalidArgument):
		return invalidArgument(err)
	}
	if code, ok := m.registered(err); ok {
		return status.Error(code, err.Error())
	}
	switch {
	case errors.Is(err, ErrFailedPrecondition):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, events.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, events.ErrConcurrencyConflict):
		return status.Error(codes.Aborted, MsgAborted)
	}
	return status.Error(codes.Internal, MsgInternal)
}

func (m *Mapper) registered(err error) (codes.Code, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, r := range m.rules {
		if errors.Is(err, r.sentinel) {
			return r.code, true
		}
	}
	return codes.OK, false
}

// Code returns the code ToStatus gives err: codes.OK for nil.
func (m *Mapper) Code(err error) codes.Code {
	return status.Code(m.ToStatus(err))
}
