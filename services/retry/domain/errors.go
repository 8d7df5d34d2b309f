package domain

import (
	"errors"
	"fmt"
	"strings"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"
)

// ErrWrongState means a command is not allowed in the schedule's current state (RetryNow of a
// completed schedule, CancelRetry of a record that never failed). The gRPC layer maps it to
// FailedPrecondition. Match it with errors.Is; the error is a *StateError.
var ErrWrongState = errors.New("retry: command not allowed in the schedule's state")

// StateError is the ErrWrongState a command returns, with the command and the state.
type StateError struct {
	// Command is the refused command, e.g. "RetryNow".
	Command string
	// Status is the schedule's status when it was refused.
	Status retryv1.RetryStatus
}

func (e *StateError) Error() string {
	return fmt.Sprintf("retry: %s is not allowed while the schedule is %s", e.Command, statusWord(e.Status))
}

// Is makes errors.Is(err, ErrWrongState) hold.
func (e *StateError) Is(target error) bool { return target == ErrWrongState }

func statusWord(s retryv1.RetryStatus) string {
	if s == retryv1.RetryStatus_RETRY_STATUS_UNSPECIFIED {
		return "without a retry series"
	}
	return strings.ToLower(strings.TrimPrefix(s.String(), "RETRY_STATUS_"))
}
