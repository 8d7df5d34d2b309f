package events

// HistoryPage returns the records from version from on (0 and 1 both mean the first), at most
// limit of them (0: all), and the version to ask for next when it cut the history (0 when it
// did not). It is how the services page an aggregate's history in their Get calls.
func HistoryPage(recs []Record, from uint64, limit int) (page []Record, next uint64) {
	from = max(from, 1)
	for _, rec := range recs {
		if rec.Version < from {
			continue
		}
		if limit > 0 && len(page) == limit {
			return page, rec.Version
		}
		page = append(page, rec)
	}
	return page, 0
}
