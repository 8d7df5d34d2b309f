package orders

import "github.com/reboundhq/rebound/projections"

// tableOrders is the read model's table (a persisted identifier).
const tableOrders = "orders"

var migrations = []projections.Migration{
	{
		Version: 1,
		Name:    "orders",
		Statements: func(s projections.Schema) []string {
			t := s.Table(tableOrders)
			return []string{
				`CREATE TABLE ` + t + ` (
					order_id TEXT NOT NULL PRIMARY KEY,
					account_id TEXT NOT NULL,
					warehouse_id TEXT NOT NULL,
					scope_id TEXT NOT NULL,
					cart_connection_id TEXT NOT NULL,
					wms_connection_id TEXT NOT NULL,
					order_number TEXT NOT NULL,
					status INTEGER NOT NULL,
					status_group INTEGER NOT NULL,
					received_at BIGINT NOT NULL,
					updated_at BIGINT NOT NULL,
					position BIGINT NOT NULL,
					state ` + s.Blob() + ` NOT NULL
				)`,
				`CREATE INDEX ` + s.Index("orders_account") + ` ON ` + t + ` (account_id, received_at, order_id)`,
				`CREATE INDEX ` + s.Index("orders_account_group") + ` ON ` + t + ` (account_id, status_group, received_at, order_id)`,
				`CREATE INDEX ` + s.Index("orders_scope") + ` ON ` + t + ` (scope_id, received_at, order_id)`,
				`CREATE INDEX ` + s.Index("orders_scope_group") + ` ON ` + t + ` (scope_id, status_group, received_at, order_id)`,
				`CREATE INDEX ` + s.Index("orders_all") + ` ON ` + t + ` (received_at, order_id)`,
				`CREATE INDEX ` + s.Index("orders_all_group") + ` ON ` + t + ` (status_group, received_at, order_id)`,
				`CREATE INDEX ` + s.Index("orders_number") + ` ON ` + t + ` (order_number)`,
			}
		},
	},
}
