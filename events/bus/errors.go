package bus

import (
	"errors"

	"github.com/reboundhq/rebound/events"
)

// ErrPermanent matches (with errors.Is) every error marked by Permanent.
var ErrPermanent = errors.New("bus: permanent error")

// Permanent marks err as permanent: retrying the message cannot succeed, so the bus sends it to
// the handler's poison subject and acks it instead of retrying. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }

func (e *permanentError) Unwrap() error { return e.err }

// Is makes errors.Is(err, ErrPermanent) hold.
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// IsPermanent reports whether err is permanent: marked by Permanent, or wrapping
// events.ErrInvalidArgument or events.ErrUnknownType (a malformed or unknown event stays so
// however often it is retried). Every other error is retryable.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrPermanent) ||
		errors.Is(err, events.ErrInvalidArgument) ||
		errors.Is(err, events.ErrUnknownType)
}
