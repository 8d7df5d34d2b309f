package timer

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/reboundhq/rebound/events"
)

const (
	// MaxKindLen is the longest kind: kinds name consumers ("timer-<kind>").
	MaxKindLen = 32
	// MaxKeyLen is the longest key. Derive a longer key with a hash and keep the readable value
	// in the payload.
	MaxKeyLen = 255
)

// dueHeader carries the exact due time (RFC 3339 with nanoseconds) from the schedule to the fired
// timer; the schedule itself only has whole seconds. It is a persisted identifier.
const dueHeader = "Rebound-Timer-Due"

// ValidKind reports whether kind can name a kind of timer: 1-32 characters of A-Z a-z 0-9 _ -.
func ValidKind(kind string) bool { return validToken(kind, MaxKindLen) }

// ValidKey reports whether key can name a timer: one or more dot-separated tokens of
// A-Z a-z 0-9 _ -, at most 255 characters in all (e.g. "retry.acct-1.order-42").
func ValidKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	for tok := range strings.SplitSeq(key, ".") {
		if !validToken(tok, MaxKeyLen) {
			return false
		}
	}
	return true
}

func validToken(s string, maxLen int) bool {
	if len(s) == 0 || len(s) > maxLen {
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

func validate(kind, key string) error {
	if !ValidKind(kind) {
		return &events.InvalidArgumentError{Field: "timer_kind", Reason: fmt.Sprintf("%q must be 1-%d characters of A-Z a-z 0-9 _ -", kind, MaxKindLen)}
	}
	if !ValidKey(key) {
		return &events.InvalidArgumentError{Field: "timer_key", Reason: fmt.Sprintf("%q must be dot-separated tokens of A-Z a-z 0-9 _ -, at most %d characters (hash longer keys)", key, MaxKeyLen)}
	}
	return nil
}

// subjects names a stream's subjects:
//
//	<prefix>.sched.<kind>.<key>.<unix second> one pending schedule of a key (a "generation")
//	<prefix>.fire.<kind>.<key>                the fired timer of a key, until a Run handles it
//
// A key's generations differ by due second, so a firing (which purges its own schedule subject)
// can never remove a newer schedule of the same key.
type subjects struct{ prefix string }

func (s subjects) schedule(kind, key string, due time.Time) string {
	return s.prefix + ".sched." + kind + "." + key + "." + strconv.FormatInt(due.Unix(), 10)
}

// schedules is the filter over every generation of one key. A longer key ("a.b.c" against
// "a.b") has more tokens, so it never matches.
func (s subjects) schedules(kind, key string) string {
	return s.prefix + ".sched." + kind + "." + key + ".*"
}

func (s subjects) fire(kind, key string) string {
	return s.prefix + ".fire." + kind + "." + key
}

func (s subjects) fireFilter(kind string) string {
	return s.prefix + ".fire." + kind + ".>"
}

// keyOf returns the key of a fire subject of kind.
func (s subjects) keyOf(kind, subject string) (string, bool) {
	return strings.CutPrefix(subject, s.prefix+".fire."+kind+".")
}

// consumerName is the durable consumer Run uses for kind. It is a persisted identifier.
func consumerName(kind string) string { return "timer-" + kind }
