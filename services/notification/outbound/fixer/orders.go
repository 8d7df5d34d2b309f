package fixer

import (
	"context"

	"google.golang.org/grpc"

	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"
)

// OrderService is the Orders of the orders service's gRPC API (OrderService).
type OrderService struct {
	orders ordersv1.OrderServiceClient
	key    string
}

var _ Orders = (*OrderService)(nil)

// NewOrders returns the orders service at cc, called with the API key key.
func NewOrders(cc grpc.ClientConnInterface, key string) *OrderService {
	return &OrderService{orders: ordersv1.NewOrderServiceClient(cc), key: key}
}

func (f *OrderService) ctx(ctx context.Context) context.Context { return bearer(ctx, f.key) }

// Order implements Orders.
func (f *OrderService) Order(ctx context.Context, account, orderID string) (*ordersv1.Order, error) {
	res, err := f.orders.GetOrder(f.ctx(ctx), &ordersv1.GetOrderRequest{AccountId: account,
		Order: &ordersv1.GetOrderRequest_OrderId{OrderId: orderID}, HistoryLimit: 1})
	if err != nil {
		return nil, classify("getting order "+orderID, err)
	}
	return res.GetOrder(), nil
}

// MapShipMethod implements Orders.
func (f *OrderService) MapShipMethod(ctx context.Context, account, cartConnectionID, code, wmsMethod, _ string) error {
	_, err := f.orders.SetShipMethodMapping(f.ctx(ctx), &ordersv1.SetShipMethodMappingRequest{AccountId: account,
		CartConnectionId: cartConnectionID, ShipMethodCode: code, WmsShipMethod: wmsMethod})
	return classify("mapping ship method "+code, err)
}

// CorrectAddress implements Orders.
func (f *OrderService) CorrectAddress(ctx context.Context, account, orderID string, address *ordersv1.Address, _ string) error {
	_, err := f.orders.EditOrder(f.ctx(ctx), &ordersv1.EditOrderRequest{AccountId: account, OrderId: orderID, ShipTo: address})
	return classify("correcting the address of order "+orderID, err)
}

// ResendToWMS implements Orders.
func (f *OrderService) ResendToWMS(ctx context.Context, account, orderID, _ string) error {
	_, err := f.orders.ResendToWMS(f.ctx(ctx), &ordersv1.ResendToWMSRequest{AccountId: account, OrderId: orderID})
	return classify("resending order "+orderID, err)
}
