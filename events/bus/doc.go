// Package bus runs Rebound's message handlers: a Watermill router whose subscribers are durable
// JetStream pull consumers, with protobuf decoding, correlation ids, panic recovery, retries
// with backoff, a poison subject and deduplication by event id.
//
// # Handlers
//
// A Handler names a durable consumer (Handler.Name) on a stream (EVENTS by default) filtered to
// subjects, a DecodeFunc (DecodeEvent for Rebound events, BareDecoder for streams of bare
// protobuf messages such as ingest subjects) and a HandlerFunc. A Mux routes decoded events to
// typed functions by event type (On); events of types without a route are acked and ignored.
// Register handlers with Bus.Handle, then call Bus.Run once.
//
// Each handler's consumer is created or updated at every start, with explicit acks, AckWait
// (Config.AckWait), no delivery limit and Workers × Config.PendingPerWorker unacked messages at
// most. A new consumer starts at the first message of the stream; a restarted one resumes after
// the last message it acked. The handler name is a persisted identifier: renaming a handler
// starts over.
//
// # Acks
//
// The subscriber acks a message only after the handler chain returned nil, that is after the
// HandlerFunc returned nil once every write it made was stored, and it waits for the server to
// confirm the ack. So a HandlerFunc must return only when its writes are acknowledged. Its
// errors are handled by their class (see IsPermanent):
//
//   - A retryable error is retried in process with exponential backoff (Config.Retry). When the
//     attempts run out, the message is naked with a delay that doubles with every delivery
//     (Config.NakDelay up to Config.MaxNakDelay) and JetStream delivers it again; there is no
//     delivery limit.
//   - A permanent error (Permanent, events.ErrInvalidArgument, events.ErrUnknownType), a panic
//     and a message that does not decode send the message to the poison subject; once JetStream
//     stored it there, the original is acked and the consumer goes on. If that publish fails,
//     the message is naked and comes back later.
//
// Within one process, a handler skips an event whose id it recently handled successfully
// (Config.DedupSize ids): a message redelivered after a late or lost ack is acked without
// calling the handler again. Handlers still have to be idempotent across processes and
// restarts, for instance through events.CausedBy and the aggregate repository.
//
// # Ordering
//
// A handler's messages are spread over its Workers by aggregate (tokens 1–3 of
// evt.<aggregate>.<account>.<id>.<EventType>; the whole subject for other subjects): the
// messages of one aggregate are handled one at a time in stream order, different aggregates in
// parallel. Two exceptions: a naked message comes back after its delay, possibly after later
// messages of its aggregate were handled; and several processes running the same handler share
// its consumer without any affinity between aggregates and processes.
//
// # Poison messages
//
// A poisoned message is published to poison.<handler> in the POISON stream (EnsurePoisonStream;
// subjects poison.> and redrive.>, kept until deleted) with the original body and headers (the
// Nats-* headers removed, the original Nats-Msg-Id kept as Rebound-Poison-Msg-Id) and:
//
//	Rebound-Poison-Handler      the handler's name
//	Rebound-Poison-Reason       the error, on one line
//	Rebound-Poison-Subject      the subject the message was stored under
//	Rebound-Poison-Stream       the stream it was stored in
//	Rebound-Poison-Sequence     its sequence in that stream
//	Rebound-Poison-At           when it was poisoned (RFC 3339)
//	Rebound-Poison-Recorded-At  when the stream stored it (RFC 3339)
//
// The bus logs one line per poisoned message. ListPoison lists a handler's poisoned messages.
//
// # Re-drive
//
// Redrive moves poisoned messages of a handler (all or some) to redrive.<handler> and removes
// them from poison.<handler>. Every handler's subscriber also consumes its redrive.<handler>
// subject with a second durable consumer of the same name on POISON: a re-driven message is
// decoded as if it arrived on its original subject, with its original headers, stream and
// sequence (Delivery.Redriven tells it apart) and goes through the same chain. If it fails
// permanently again, it is poisoned again.
//
// # Shutdown
//
// When the context given to Bus.Run ends, the consumers stop fetching; messages in flight keep
// a live context and are settled (for at most Config.ShutdownTimeout); messages fetched but not
// started are naked in stream order, so that JetStream redelivers them at once, before newer
// ones, to the next process.
//
// # Middleware
//
// Each handler's chain is made of Watermill middleware, outermost first: correlation id (the
// Rebound-Correlation-Id header, else the event id; see CorrelationID), poison, recovery,
// decoding, deduplication, retry.
package bus
