package retryqueue

import "github.com/reboundhq/rebound/projections"

// tableQueue is the read model's table (a persisted identifier).
const tableQueue = "retry_queue"

var migrations = []projections.Migration{
	{
		Version: 1,
		Name:    "retry_queue",
		Statements: func(s projections.Schema) []string {
			t := s.Table(tableQueue)
			return []string{
				`CREATE TABLE ` + t + ` (
					schedule_id TEXT NOT NULL,
					account_id TEXT NOT NULL,
					warehouse_id TEXT NOT NULL,
					scope_id TEXT NOT NULL,
					connection_id TEXT NOT NULL,
					record_kind INTEGER NOT NULL,
					record_id TEXT NOT NULL,
					order_number TEXT NOT NULL,
					sku TEXT NOT NULL,
					status INTEGER NOT NULL,
					queue INTEGER NOT NULL,
					sort_at BIGINT NOT NULL,
					phase INTEGER NOT NULL,
					paused INTEGER NOT NULL,
					next_attempt_raw BIGINT NOT NULL,
					position BIGINT NOT NULL,
					state ` + s.Blob() + ` NOT NULL,
					PRIMARY KEY (schedule_id, account_id)
				)`,
				`CREATE INDEX ` + s.Index("retry_queue_account") + ` ON ` + t + ` (account_id, queue, sort_at, schedule_id)`,
				`CREATE INDEX ` + s.Index("retry_queue_scope") + ` ON ` + t + ` (scope_id, queue, sort_at, schedule_id)`,
				`CREATE INDEX ` + s.Index("retry_queue_all") + ` ON ` + t + ` (queue, sort_at, schedule_id)`,
			}
		},
	},
}
