package events_test

import (
	"testing"

	"github.com/reboundhq/rebound/events"
)

func TestParseSubject(t *testing.T) {
	s, typ, err := events.ParseSubject("evt.alert.acme.alt_1.AlertRaised")
	if err != nil || s != (events.StreamID{AggregateType: "alert", Account: "acme", ID: "alt_1"}) || typ != "AlertRaised" {
		t.Fatalf("ParseSubject = %+v %q %v", s, typ, err)
	}
	for _, bad := range []string{"", "evt", "evt.a.b.c", "evt.a.b.c.d.e", "ev.a.b.c.D", "evt.a..c.D", "evt.a.b.c."} {
		if _, _, err := events.ParseSubject(bad); err == nil {
			t.Errorf("ParseSubject(%q) accepted", bad)
		}
	}
}

func TestMatchSubject(t *testing.T) {
	cases := []struct {
		filter, subject string
		want            bool
	}{
		{"evt.>", "evt.alert.a.b.T", true},
		{"evt.*.a.>", "evt.alert.a.b.T", true},
		{"evt.*.a.>", "evt.alert.b.b.T", false},
		{"evt.alert.*.*.T", "evt.alert.a.b.T", true},
		{"evt.alert.*.*.T", "evt.alert.a.b.U", false},
		{"evt.alert.*.*", "evt.alert.a.b.T", false},
		{"evt.alert.a.b.T.x", "evt.alert.a.b.T", false},
	}
	for _, c := range cases {
		if got := events.MatchSubject(c.filter, c.subject); got != c.want {
			t.Errorf("MatchSubject(%q, %q) = %v", c.filter, c.subject, got)
		}
	}
}
