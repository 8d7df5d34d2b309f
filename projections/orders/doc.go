// Package orders is the orders read model: one row per order (folded from rebound.orders.v1 on
// evt.order.>, the same way the Order aggregate folds them), listed by status — one of new,
// at_wms, error, skipped, canceled, shipped, confirmed, or the combined new_or_at_wms,
// shipped_or_confirmed and any — newest received first.
//
// # Table
//
// orders: one row per order_id (a hash of account, cart connection and order number). Columns
// for filters and order (account_id, scope_id, cart_connection_id, wms_connection_id,
// order_number, status, status_group — the group the combined selections list: 1 new or at WMS,
// 2 error, 3 skipped, 4 canceled, 5 shipped or confirmed — and received_at in Unix nanoseconds)
// and state, the rebound.orders.v1.Order the queries return.
package orders
