// Package cadence says when a contact's frequency sends: the slot boundaries of its digests, in
// the contact's time zone. Every 30 minutes means at every full and half hour of the local
// clock, hourly at every full hour, daily at the chosen local hour; immediate has no slots
// (every moment is one). Times are computed with time.Date in the contact's location, so
// daylight-saving changes and zones with 30- or 45-minute offsets fall on local boundaries.
//
// The IANA time zone database is embedded (time/tzdata), so zones load without the system's
// zoneinfo.
package cadence

import (
	"fmt"
	"time"
	_ "time/tzdata" // zones load on machines without zoneinfo

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"
)

// Cadence is one contact's frequency in its time zone.
type Cadence struct {
	freq notificationv1.Frequency
	hour int
	loc  *time.Location
}

// LoadLocation loads an IANA time zone; "" is UTC.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// Of returns the cadence of a contact. An unknown time zone falls back to UTC (contacts are
// validated when stored, so this only happens when a zone disappears from the database).
func Of(c *notificationv1.Contact) Cadence {
	loc, err := LoadLocation(c.GetTimeZone())
	if err != nil {
		loc = time.UTC
	}
	return Cadence{freq: c.GetFrequency(), hour: int(c.GetDailyHour()) % 24, loc: loc}
}

// New returns a cadence.
func New(freq notificationv1.Frequency, dailyHour int, loc *time.Location) Cadence {
	if loc == nil {
		loc = time.UTC
	}
	return Cadence{freq: freq, hour: dailyHour % 24, loc: loc}
}

// Frequency returns the cadence's frequency.
func (c Cadence) Frequency() notificationv1.Frequency { return c.freq }

// Location returns the cadence's time zone.
func (c Cadence) Location() *time.Location { return c.loc }

// Off reports whether the cadence sends nothing.
func (c Cadence) Off() bool {
	return c.freq == notificationv1.Frequency_FREQUENCY_OFF || c.freq == notificationv1.Frequency_FREQUENCY_UNSPECIFIED
}

// Immediate reports whether the cadence sends at once.
func (c Cadence) Immediate() bool { return c.freq == notificationv1.Frequency_FREQUENCY_IMMEDIATE }

// Next returns the first slot boundary strictly after t (t itself for immediate; the zero time
// for off).
func (c Cadence) Next(t time.Time) time.Time {
	switch c.freq {
	case notificationv1.Frequency_FREQUENCY_IMMEDIATE:
		return t
	case notificationv1.Frequency_FREQUENCY_EVERY_30_MINUTES, notificationv1.Frequency_FREQUENCY_HOURLY,
		notificationv1.Frequency_FREQUENCY_DAILY:
	default:
		return time.Time{}
	}
	// A local time that a DST change skipped or repeated can normalise to or before t: look
	// again from a little later.
	n := c.next(t)
	for cur := t; !n.After(t); {
		cur = cur.Add(30 * time.Minute)
		n = c.next(cur)
	}
	return n.UTC()
}

// next computes the boundary after t. Sub-daily slots are the instants whose local minute is
// 0 (hourly) or 0 or 30 (every 30 minutes): every zone's offset is a multiple of 15 minutes, so
// stepping through real time by 15 minutes finds them, including both occurrences of an hour
// that a DST change repeats and none in an hour it skips.
func (c Cadence) next(t time.Time) time.Time {
	switch c.freq {
	case notificationv1.Frequency_FREQUENCY_EVERY_30_MINUTES, notificationv1.Frequency_FREQUENCY_HOURLY:
		for n := t.Truncate(15 * time.Minute); ; n = n.Add(15 * time.Minute) {
			if !n.After(t) {
				continue
			}
			m := n.In(c.loc).Minute()
			if m == 0 || (m == 30 && c.freq == notificationv1.Frequency_FREQUENCY_EVERY_30_MINUTES) {
				return n
			}
		}
	default: // daily
		l := t.In(c.loc)
		y, mo, d := l.Date()
		n := time.Date(y, mo, d, c.hour, 0, 0, 0, c.loc)
		for i := 1; !n.After(t) && i < 3; i++ {
			n = time.Date(y, mo, d+i, c.hour, 0, 0, 0, c.loc)
		}
		return n
	}
}

// Ceil returns the first slot boundary at or after t (t itself for immediate; the zero time
// for off).
func (c Cadence) Ceil(t time.Time) time.Time {
	if c.Immediate() || c.Off() {
		return c.Next(t)
	}
	return c.Next(t.Add(-time.Nanosecond))
}

// Floor returns the latest slot boundary at or before t (t itself for immediate; the zero time
// for off).
func (c Cadence) Floor(t time.Time) time.Time {
	switch c.freq {
	case notificationv1.Frequency_FREQUENCY_IMMEDIATE:
		return t
	case notificationv1.Frequency_FREQUENCY_EVERY_30_MINUTES, notificationv1.Frequency_FREQUENCY_HOURLY:
		// Boundaries are at most an hour apart (plus a DST shift): search back from there.
		b := c.Next(t.Add(-3 * time.Hour))
		for {
			n := c.Next(b)
			if n.After(t) {
				return b
			}
			b = n
		}
	case notificationv1.Frequency_FREQUENCY_DAILY:
		b := c.Next(t.Add(-50 * time.Hour))
		for {
			n := c.Next(b)
			if n.After(t) {
				return b
			}
			b = n
		}
	}
	return time.Time{}
}
