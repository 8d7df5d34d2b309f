package alerts

import "github.com/reboundhq/rebound/projections"

// Table names (logical; a rebuild builds copies of them). Persisted identifiers.
const (
	tableAlerts = "alerts"
	tableCounts = "alert_counts"
)

var migrations = []projections.Migration{
	{
		Version: 1,
		Name:    "alerts and alert_counts",
		Statements: func(s projections.Schema) []string {
			a, c := s.Table(tableAlerts), s.Table(tableCounts)
			key := "alert_id, incarnation"
			return []string{
				`CREATE TABLE ` + a + ` (
					alert_id TEXT NOT NULL,
					incarnation BIGINT NOT NULL,
					account_id TEXT NOT NULL,
					scope_id TEXT NOT NULL,
					connection_id TEXT NOT NULL,
					record_kind INTEGER NOT NULL,
					order_number TEXT NOT NULL,
					sku TEXT NOT NULL,
					alert_type TEXT NOT NULL,
					error_class INTEGER NOT NULL,
					status INTEGER NOT NULL,
					needs_attention INTEGER NOT NULL,
					first_seen_at BIGINT NOT NULL,
					last_seen_at BIGINT NOT NULL,
					position BIGINT NOT NULL,
					state ` + s.Blob() + ` NOT NULL,
					PRIMARY KEY (` + key + `)
				)`,
				`CREATE INDEX ` + s.Index("alerts_account_last") + ` ON ` + a + ` (account_id, last_seen_at, ` + key + `)`,
				`CREATE INDEX ` + s.Index("alerts_account_status_last") + ` ON ` + a + ` (account_id, status, last_seen_at, ` + key + `)`,
				`CREATE INDEX ` + s.Index("alerts_account_first") + ` ON ` + a + ` (account_id, first_seen_at, ` + key + `)`,
				`CREATE INDEX ` + s.Index("alerts_scope_last") + ` ON ` + a + ` (scope_id, last_seen_at, ` + key + `)`,
				`CREATE INDEX ` + s.Index("alerts_scope_status_last") + ` ON ` + a + ` (scope_id, status, last_seen_at, ` + key + `)`,
				`CREATE INDEX ` + s.Index("alerts_scope_first") + ` ON ` + a + ` (scope_id, first_seen_at, ` + key + `)`,
				`CREATE INDEX ` + s.Index("alerts_last") + ` ON ` + a + ` (last_seen_at, ` + key + `)`,
				`CREATE INDEX ` + s.Index("alerts_first") + ` ON ` + a + ` (first_seen_at, ` + key + `)`,
				`CREATE INDEX ` + s.Index("alerts_order_number") + ` ON ` + a + ` (order_number) WHERE order_number <> ''`,
				`CREATE INDEX ` + s.Index("alerts_sku") + ` ON ` + a + ` (sku) WHERE sku <> ''`,
				`CREATE TABLE ` + c + ` (
					scope_id TEXT NOT NULL,
					account_id TEXT NOT NULL,
					connection_id TEXT NOT NULL,
					alert_type TEXT NOT NULL,
					error_class INTEGER NOT NULL,
					status INTEGER NOT NULL,
					needs_attention INTEGER NOT NULL,
					n BIGINT NOT NULL,
					PRIMARY KEY (scope_id, account_id, connection_id, alert_type, error_class, status, needs_attention)
				)`,
				`CREATE INDEX ` + s.Index("alert_counts_account") + ` ON ` + c + ` (account_id)`,
				`CREATE INDEX ` + s.Index("alert_counts_zero") + ` ON ` + c + ` (n) WHERE n = 0`,
			}
		},
	},
}
