package cadence_test

import (
	"testing"
	"time"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/services/notification/domain/cadence"
)

func loc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := cadence.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestNext_localSlotsAcrossZonesAndDST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		freq      notificationv1.Frequency
		hour      int
		zone      string
		after     string
		wantNext  string
		wantFloor string
	}{
		{"30 min UTC", notificationv1.Frequency_FREQUENCY_EVERY_30_MINUTES, 0, "UTC", "2026-03-07T23:05:00Z", "2026-03-07T23:30:00Z", "2026-03-07T23:00:00Z"},
		{"30 min on a boundary", notificationv1.Frequency_FREQUENCY_EVERY_30_MINUTES, 0, "UTC", "2026-03-07T23:30:00Z", "2026-03-08T00:00:00Z", "2026-03-07T23:30:00Z"},
		{"30 min India (+5:30)", notificationv1.Frequency_FREQUENCY_EVERY_30_MINUTES, 0, "Asia/Kolkata", "2026-03-07T23:05:00Z", "2026-03-07T23:30:00Z", "2026-03-07T23:00:00Z"},
		{"hourly Kathmandu (+5:45)", notificationv1.Frequency_FREQUENCY_HOURLY, 0, "Asia/Kathmandu", "2026-03-07T23:05:00Z", "2026-03-07T23:15:00Z", "2026-03-07T22:15:00Z"},
		{"hourly Adelaide (+10:30)", notificationv1.Frequency_FREQUENCY_HOURLY, 0, "Australia/Adelaide", "2026-01-10T10:00:00Z", "2026-01-10T10:30:00Z", "2026-01-10T09:30:00Z"},
		{"daily 8 New York, DST starts", notificationv1.Frequency_FREQUENCY_DAILY, 8, "America/New_York", "2026-03-07T23:05:00Z", "2026-03-08T12:00:00Z", "2026-03-07T13:00:00Z"},
		{"daily 8 New York, DST ends", notificationv1.Frequency_FREQUENCY_DAILY, 8, "America/New_York", "2026-10-31T23:00:00Z", "2026-11-01T13:00:00Z", "2026-10-31T12:00:00Z"},
		{"daily 2 Berlin, hour skipped by DST", notificationv1.Frequency_FREQUENCY_DAILY, 2, "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z", "2026-03-28T01:00:00Z"},
		{"daily 0 Tokyo", notificationv1.Frequency_FREQUENCY_DAILY, 0, "Asia/Tokyo", "2026-03-07T14:59:00Z", "2026-03-07T15:00:00Z", "2026-03-06T15:00:00Z"},
		{"hourly Berlin, hour repeated by DST", notificationv1.Frequency_FREQUENCY_HOURLY, 0, "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T00:00:00Z"},
		{"hourly Berlin, the repeated hour twice", notificationv1.Frequency_FREQUENCY_HOURLY, 0, "Europe/Berlin", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T01:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := cadence.New(tc.freq, tc.hour, loc(t, tc.zone))
			after, _ := time.Parse(time.RFC3339, tc.after)
			if got := c.Next(after).Format(time.RFC3339); got != tc.wantNext {
				t.Errorf("Next(%s) = %s; want %s", tc.after, got, tc.wantNext)
			}
			if got := c.Floor(after).UTC().Format(time.RFC3339); got != tc.wantFloor {
				t.Errorf("Floor(%s) = %s; want %s", tc.after, got, tc.wantFloor)
			}
		})
	}
}

func TestNext_immediateAndOff(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 7, 23, 5, 7, 0, time.UTC)
	if got := cadence.New(notificationv1.Frequency_FREQUENCY_IMMEDIATE, 0, nil).Next(now); !got.Equal(now) {
		t.Errorf("immediate Next = %s", got)
	}
	off := cadence.New(notificationv1.Frequency_FREQUENCY_OFF, 0, nil)
	if !off.Off() || !off.Next(now).IsZero() {
		t.Errorf("off: Next = %s", off.Next(now))
	}
	if _, err := cadence.LoadLocation("Mars/Olympus"); err == nil {
		t.Error("an unknown zone loaded")
	}
}
