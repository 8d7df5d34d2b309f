package events_test

import (
	"testing"

	"github.com/reboundhq/rebound/events"
)

func TestHistoryPage(t *testing.T) {
	recs := make([]events.Record, 5)
	for i := range recs {
		recs[i].Version = uint64(i + 1)
	}
	cases := []struct {
		from     uint64
		limit    int
		first, n int
		next     uint64
	}{
		{0, 0, 1, 5, 0},
		{1, 2, 1, 2, 3},
		{3, 2, 3, 2, 5},
		{4, 2, 4, 2, 0},
		{6, 2, 0, 0, 0},
	}
	for _, c := range cases {
		page, next := events.HistoryPage(recs, c.from, c.limit)
		if len(page) != c.n || next != c.next || (c.n > 0 && page[0].Version != uint64(c.first)) {
			t.Errorf("HistoryPage(from %d, limit %d) = %d records from %v, next %d; want %d from %d, next %d",
				c.from, c.limit, len(page), page, next, c.n, c.first, c.next)
		}
	}
}
