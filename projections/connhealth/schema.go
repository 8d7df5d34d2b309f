package connhealth

import "github.com/reboundhq/rebound/projections"

// Table names (persisted identifiers).
const (
	tableHealth  = "connection_health"
	tableRecords = "connection_health_records"
)

var migrations = []projections.Migration{
	{
		Version: 1,
		Name:    "connection_health and connection_health_records",
		Statements: func(s projections.Schema) []string {
			h, r := s.Table(tableHealth), s.Table(tableRecords)
			return []string{
				`CREATE TABLE ` + h + ` (
					connection_id TEXT NOT NULL,
					account_id TEXT NOT NULL,
					account_kind INTEGER NOT NULL,
					warehouse_id TEXT NOT NULL,
					scope_id TEXT NOT NULL,
					system_kind INTEGER NOT NULL,
					system TEXT NOT NULL,
					status INTEGER NOT NULL,
					outage_number BIGINT NOT NULL,
					outage_down_at BIGINT NOT NULL,
					outage_alert_id TEXT NOT NULL,
					outages BIGINT NOT NULL,
					covered_total BIGINT NOT NULL,
					last_recovered_at BIGINT NOT NULL,
					open_alerts BIGINT NOT NULL,
					failing_records BIGINT NOT NULL,
					last_failure_at BIGINT NOT NULL,
					position BIGINT NOT NULL,
					PRIMARY KEY (connection_id, account_id)
				)`,
				`CREATE INDEX ` + s.Index("connection_health_account") + ` ON ` + h + ` (account_id, connection_id)`,
				`CREATE INDEX ` + s.Index("connection_health_scope") + ` ON ` + h + ` (scope_id, account_id, connection_id)`,
				`CREATE TABLE ` + r + ` (
					record_id TEXT NOT NULL,
					record_kind INTEGER NOT NULL,
					connection_id TEXT NOT NULL,
					account_id TEXT NOT NULL,
					open_alerts BIGINT NOT NULL,
					PRIMARY KEY (record_id, record_kind, connection_id, account_id)
				)`,
			}
		},
	},
}
