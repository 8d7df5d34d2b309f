// Package events defines how Rebound records what happened: the Envelope every stored event
// carries, the Registry that maps protobuf type names to Go types, and the Store interface that
// every event store implementation (JetStream in natsstore, in-memory in memstore) satisfies and
// that storetest checks.
//
// An aggregate's events form one stream, identified by a StreamID (aggregate type, account, id).
// Versions are 1-based and dense within a stream. A store also gives every event a global
// Position (for JetStream, the EVENTS stream sequence) and every stream a Token (the position of
// its last event) that an append passes back to prove it saw the latest state.
package events
