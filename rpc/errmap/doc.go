// Package errmap turns the errors that Rebound's services return into gRPC statuses: the one
// mapping function of the gRPC transport. The server applies it to every call, so handlers
// return plain Go errors:
//
//   - a status the handler built itself (status.Error) is kept as it is;
//   - context.Canceled → Canceled, context.DeadlineExceeded → DeadlineExceeded;
//   - auth.ErrUnauthenticated → Unauthenticated, auth.ErrPermissionDenied → PermissionDenied,
//     both with fixed messages that reveal nothing;
//   - errors wrapping events.ErrInvalidArgument → InvalidArgument; the message names every
//     field of a joined error and a google.rpc.BadRequest detail lists them
//     (*events.InvalidArgumentError, *connector.FieldError and any [FieldError]);
//   - sentinels registered with [Mapper.Register] → their code; [Mapper.RegisterPrecondition]
//     registers wrong-state sentinels as FailedPrecondition, and [ErrFailedPrecondition] is one;
//   - events.ErrNotFound → NotFound;
//   - events.ErrConcurrencyConflict (conflicts that outlived the repository's retries) → Aborted;
//   - anything else → Internal with a generic message: the detail stays in the server's log.
//
// Except where stated, a status message is the error's own text, so errors returned to clients
// should be phrased for them.
package errmap
