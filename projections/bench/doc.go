// Package bench measures the read models for `rebound bench` (make bench): the rebuild rate of a
// projection from the first event into SQLite and PostgreSQL, the raw rates it is compared with
// (batched SQLite upserts; the ordered-consumer read of the same events), and ListAlerts latency
// over a large read model.
//
// The figures DESIGN.md §4 asks for:
//
//   - rebuild of 1 000 000 events into SQLite, events/s, as a ratio of min(raw ordered-consumer
//     rate, raw batched SQLite upsert rate) from the same run (target ≥ 0.50): FillStore, then
//     RawOrderedConsumer and RawSQLiteUpsert, then Rebuild;
//   - the same into PostgreSQL (Rebuild with a PostgreSQL database);
//   - ListAlerts p50/p99 with 1 000 000 alerts (target p99 ≤ 10 ms): FillAlerts, then ListAlerts.
package bench
