package events_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/reboundhq/rebound/events"
)

func TestNewEventID_isTimeOrderedUUIDv7(t *testing.T) {
	before := time.Now().UnixMilli()
	seen := make(map[string]bool)
	prev := ""
	for range 10_000 {
		s := events.NewEventID()
		id, err := uuid.Parse(s)
		if err != nil || id.Version() != 7 || id.Variant() != uuid.RFC4122 {
			t.Fatalf("%s: version %d variant %v err %v", s, id.Version(), id.Variant(), err)
		}
		ms := int64(id[0])<<40 | int64(id[1])<<32 | int64(id[2])<<24 | int64(id[3])<<16 | int64(id[4])<<8 | int64(id[5])
		if ms < before || ms > time.Now().UnixMilli() {
			t.Fatalf("%s carries time %d, not now", s, ms)
		}
		if seen[s] {
			t.Fatalf("duplicate id %s", s)
		}
		seen[s] = true
		if s[:12] < prev[:min(12, len(prev))] {
			t.Fatalf("%s sorts before the earlier %s", s, prev)
		}
		prev = s
	}
}

func TestDeterministicEventID_isStable(t *testing.T) {
	a := events.DeterministicEventID("x", "y")
	if a != events.DeterministicEventID("x", "y") || a == events.DeterministicEventID("xy") || a == events.DeterministicEventID("x", "z") {
		t.Fatal("DeterministicEventID is not a stable function of its parts")
	}
}
