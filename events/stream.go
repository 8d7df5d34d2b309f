package events

import (
	"fmt"
	"strings"
)

// StreamID names one aggregate's stream.
type StreamID struct {
	// AggregateType is the kind of aggregate, e.g. "alert" ([a-z][a-z0-9_]*).
	AggregateType string
	// Account is the merchant or warehouse account the aggregate belongs to.
	Account string
	// ID is the aggregate's id within its type and account.
	ID string
}

func (s StreamID) String() string {
	return s.AggregateType + "/" + s.Account + "/" + s.ID
}

// Validate reports whether every part of the id can be used as a subject token.
func (s StreamID) Validate() error {
	if !validAggregateType(s.AggregateType) {
		return invalid("aggregate_type", "%q must be 1-32 characters of a-z 0-9 _, starting with a letter", s.AggregateType)
	}
	if !ValidToken(s.Account) {
		return invalid("account", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", s.Account)
	}
	if !ValidToken(s.ID) {
		return invalid("aggregate_id", "%q must be 1-128 characters of A-Z a-z 0-9 _ -", s.ID)
	}
	return nil
}

// ValidToken reports whether s can be an account or aggregate id: 1-128 characters of
// A-Z a-z 0-9 _ -.
func ValidToken(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validAggregateType(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// SubjectPrefix is the first token of every event subject.
const SubjectPrefix = "evt"

// Subject returns the subject an event of type eventType on stream s is stored under:
// evt.<aggregate>.<account>.<id>.<EventType>, where EventType is the last part of the proto
// full name (RecordFailed for rebound.connector.v1.RecordFailed).
func Subject(s StreamID, eventType string) string {
	return SubjectPrefix + "." + s.AggregateType + "." + s.Account + "." + s.ID + "." + ShortType(eventType)
}

// StreamSubject returns the wildcard subject that covers every event of stream s.
func StreamSubject(s StreamID) string {
	return SubjectPrefix + "." + s.AggregateType + "." + s.Account + "." + s.ID + ".*"
}

// AggregateSubject returns the wildcard subject for every event of one aggregate type, or of one
// event type of it when eventType is not empty.
func AggregateSubject(aggregateType, eventType string) string {
	last := "*"
	if eventType != "" {
		last = ShortType(eventType)
	}
	return SubjectPrefix + "." + aggregateType + ".*.*." + last
}

// ShortType returns the last dotted part of a proto full name.
func ShortType(eventType string) string {
	if i := strings.LastIndexByte(eventType, '.'); i >= 0 {
		return eventType[i+1:]
	}
	return eventType
}

// ParseSubject splits an event subject back into its stream and short event type.
func ParseSubject(subject string) (StreamID, string, error) {
	var parts [5]string
	rest := subject
	for i := range parts {
		tok, after, more := strings.Cut(rest, ".")
		if tok == "" || (i < 4) != more {
			return StreamID{}, "", invalid("subject", "%q is not evt.<aggregate>.<account>.<id>.<EventType>", subject)
		}
		parts[i], rest = tok, after
	}
	if parts[0] != SubjectPrefix {
		return StreamID{}, "", invalid("subject", "%q is not evt.<aggregate>.<account>.<id>.<EventType>", subject)
	}
	return StreamID{AggregateType: parts[1], Account: parts[2], ID: parts[3]}, parts[4], nil
}

// MatchSubject reports whether a NATS subject matches a filter with * and > wildcards.
func MatchSubject(filter, subject string) bool {
	for {
		ftok, frest, fmore := strings.Cut(filter, ".")
		stok, srest, smore := strings.Cut(subject, ".")
		switch {
		case ftok == ">":
			return true
		case ftok != "*" && ftok != stok:
			return false
		case !fmore || !smore:
			return !fmore && !smore
		}
		filter, subject = frest, srest
	}
}

// ValidateFilter reports whether filter is a well-formed subject filter.
func ValidateFilter(filter string) error {
	if filter == "" {
		return invalid("filter", "empty subject filter")
	}
	toks := strings.Split(filter, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return invalid("filter", "%q has an empty token", filter)
		case t == ">" && i != len(toks)-1:
			return invalid("filter", "%q: '>' must be the last token", filter)
		case strings.ContainsAny(t, " \t\r\n"):
			return invalid("filter", "%q contains whitespace", filter)
		}
	}
	return nil
}

// Expectation is what an append expects of its stream before it writes.
type Expectation struct {
	kind    expectKind
	version uint64
	token   uint64
}

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectVersion
	expectState
)

// ExpectAny appends whatever the stream holds; the store still numbers versions densely.
func ExpectAny() Expectation { return Expectation{kind: expectAny} }

// ExpectNoStream appends only when the stream has no events yet.
func ExpectNoStream() Expectation { return Expectation{kind: expectNoStream} }

// ExpectVersion appends only when the stream's last version is v (0 means no stream). Stores may
// need one extra round trip to find the stream's token; prefer ExpectState after a load.
func ExpectVersion(v uint64) Expectation {
	if v == 0 {
		return ExpectNoStream()
	}
	return Expectation{kind: expectVersion, version: v}
}

// ExpectState appends only when the stream is still at st, as returned by a load or an append.
func ExpectState(st State) Expectation {
	if st.Version == 0 {
		return ExpectNoStream()
	}
	return Expectation{kind: expectState, version: st.Version, token: st.Token}
}

// IsAny reports whether the expectation checks nothing.
func (e Expectation) IsAny() bool { return e.kind == expectAny }

// Version returns the version the expectation requires and whether it requires one.
func (e Expectation) Version() (uint64, bool) {
	switch e.kind {
	case expectNoStream:
		return 0, true
	case expectVersion, expectState:
		return e.version, true
	}
	return 0, false
}

// State returns the full state the expectation requires, when it carries one.
func (e Expectation) State() (State, bool) {
	switch e.kind {
	case expectNoStream:
		return State{}, true
	case expectState:
		return State{Version: e.version, Token: e.token}, true
	}
	return State{}, false
}

func (e Expectation) String() string {
	switch e.kind {
	case expectNoStream:
		return "no stream"
	case expectVersion:
		return fmt.Sprintf("version %d", e.version)
	case expectState:
		return fmt.Sprintf("version %d at position %d", e.version, e.token)
	}
	return "any version"
}

// State is where a stream stands: its last version and the store's token for it (the global
// position of its last event). The zero State is a stream with no events.
type State struct {
	Version uint64
	Token   uint64
}
