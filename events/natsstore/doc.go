// Package natsstore is the default event store: JetStream itself.
//
// Every event is one message in the EVENTS stream (file storage, no deletes, no purges, direct
// gets, atomic batches, discard-new) on the subject evt.<aggregate>.<account>.<id>.<EventType>,
// with its envelope in headers (package wire) and its protobuf payload as the body. The append
// is the publish: there is no outbox.
//
//   - Optimistic concurrency: the first event an append writes for a stream carries
//     Nats-Expected-Last-Subject-Sequence with the stream's token (the sequence of its last
//     event, 0 for a new stream) checked over the stream's wildcard subject
//     (Nats-Expected-Last-Subject-Sequence-Subject). Both conflict codes the server uses
//     (10071, and 10164 on replicated streams) become events.ErrConcurrencyConflict.
//   - Idempotency: Nats-Msg-Id is the event id, so the server drops repeats inside its
//     duplicate window; after it, a conflicting append whose events are already stored in the
//     same place is recognised by loading the stream and reported as a success.
//   - Several events, for one stream or many, go in one atomic batch (all or nothing).
//   - Loads use batched direct gets; reads use ordered consumers.
package natsstore
