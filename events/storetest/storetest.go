// Package storetest is the conformance suite every events.Store implementation passes. Like
// Watermill's pubsub/tests, one exported function runs a table of tests against a constructor;
// each test isolates itself by a unique account, so all of them run in parallel against one
// server.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"

	"github.com/reboundhq/rebound/events"
)

// Constructor returns a store that encodes and decodes with reg. Stores may share a server.
type Constructor func(t *testing.T, reg *events.Registry) events.Store

// Features says what an implementation supports beyond the common contract.
type Features struct {
	// Restartable, for persistent stores, returns a store on a server of its own and a function
	// that shuts that server down, starts it again on the same data and returns a new store on it.
	Restartable func(t *testing.T, reg *events.Registry) (events.Store, func() events.Store)
}

// TestStore runs the conformance suite.
func TestStore(t *testing.T, features Features, newStore Constructor) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s events.Store)
	}{
		{"RoundTripWithMetadata", testRoundTrip},
		{"WrongExpectedVersionConflicts", testWrongExpectedVersion},
		{"ConcurrentWritersOneWinsEachVersion", testConcurrentWriters},
		{"ConcurrentWritersRetryingWithoutGaps", testConcurrentRetryingWriters},
		{"OrderWithinStream", testOrderWithinStream},
		{"LoadFromVersion", testLoadFromVersion},
		{"ReappendSameIDsIsNoop", testIdempotentReappend},
		{"ExpectAnyNumbersDensely", testExpectAny},
		{"MultiStreamAppendIsAtomic", testMultiStreamAtomic},
		{"GlobalReadFromPosition", testGlobalRead},
		{"GlobalReadFollows", testGlobalReadFollow},
		{"ContextCancellation", testContextCancellation},
		{"UnknownEventType", testUnknownType},
		{"InvalidArguments", testInvalidArguments},
		{"LoadMissingStreamNotFound", testNotFound},
		{"HeadWithoutLoading", testHead},
		{"LoadAfterAState", testLoadAfter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t, Registry()))
		})
	}
	if features.Restartable != nil {
		t.Run("SurvivesServerRestart", func(t *testing.T) {
			t.Parallel()
			testRestart(t, features.Restartable)
		})
	}
}

// Registry returns the registry the suite's events need: RecordFailed and RecordSucceeded, but
// not SyncCycleStarted, which the suite uses as its unknown type.
func Registry() *events.Registry {
	return events.NewRegistry(&connectorv1.RecordFailed{}, &connectorv1.RecordSucceeded{})
}

// uniqueAccount returns an account id no other test uses.
func uniqueAccount(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b)
}

func newStream(t *testing.T, account string) events.StreamID {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return events.StreamID{AggregateType: "record", Account: account, ID: "r" + hex.EncodeToString(b)}
}

// failure returns an event with a payload that names n, so tests can check order.
func failure(stream events.StreamID, n int) events.Event {
	return events.NewEvent(&connectorv1.RecordFailed{
		Record: &connectorv1.RecordRef{
			AccountId:  stream.Account,
			RecordKind: connectorv1.RecordKind_RECORD_KIND_ORDER,
			RecordId:   stream.ID,
		},
		AttemptId:  fmt.Sprintf("attempt-%d", n),
		Message:    fmt.Sprintf("failure %d", n),
		HttpStatus: 503,
		FailedAt:   timestamppb.New(time.Unix(1_700_000_000+int64(n), 0)),
	}, events.Metadata{})
}

func failures(stream events.StreamID, from, n int) []events.Event {
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = failure(stream, from+i)
	}
	return evs
}

// attemptOf returns the attempt number a failure event carries.
func attemptOf(t *testing.T, r events.Record) int {
	t.Helper()
	f, ok := r.Message.(*connectorv1.RecordFailed)
	if !ok {
		t.Fatalf("event %s at version %d is a %T, want *RecordFailed", r.EventID, r.Version, r.Message)
	}
	var n int
	if _, err := fmt.Sscanf(f.GetAttemptId(), "attempt-%d", &n); err != nil {
		t.Fatalf("attempt id %q: %v", f.GetAttemptId(), err)
	}
	return n
}
