package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/reboundhq/rebound/proto/gen/rebound/alerts/v1"
	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/services/alerts/domain/alert"
	"github.com/reboundhq/rebound/services/orders/sandbox"
)

func init() {
	register(command{
		name: "simulate", args: "[flags]",
		summary: "drive a running stack like a hub: merchants, warehouses, orders, an outage; prints what happened",
		run:     runSimulate,
	})
}

// simConfig is what a simulation does.
type simConfig struct {
	grpcAddr   string
	key        string
	wmsRoot    string
	cartRoot   string
	merchants  int
	warehouses int
	rate       float64
	duration   time.Duration
	outageAt   time.Duration
	outageFor  time.Duration
	mapAt      time.Duration
	report     time.Duration
	seed       uint64
}

func runSimulate(ctx context.Context, env *environment, args []string) error {
	var cfg simConfig
	var servers serverFlags
	fs := newFlagSet(env, "simulate", "[flags]")
	servers.define(fs)
	fs.StringVar(&cfg.wmsRoot, "sandbox-wms", "http://127.0.0.1:8091", "root URL of the sandbox WMS")
	fs.StringVar(&cfg.cartRoot, "sandbox-cart", "http://127.0.0.1:8092", "root URL of the sandbox cart")
	fs.IntVar(&cfg.merchants, "merchants", 4, "how many merchants (each with a cart and a WMS connection)")
	fs.IntVar(&cfg.warehouses, "warehouses", 2, "how many warehouses serve them")
	fs.Float64Var(&cfg.rate, "rate", 5, "orders per second")
	fs.DurationVar(&cfg.duration, "duration", 0, "how long to run (0: until Ctrl-C)")
	fs.DurationVar(&cfg.outageAt, "outage-at", 15*time.Second, "when the first merchant's WMS goes down (0: never)")
	fs.DurationVar(&cfg.outageFor, "outage-for", 25*time.Second, "how long it stays down")
	fs.DurationVar(&cfg.mapAt, "map-at", 40*time.Second, "when the unmapped ship method gets its mapping (0: never)")
	fs.DurationVar(&cfg.report, "report", 5*time.Second, "how often to print what happened")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of the order mix")
	if err := fs.parse(args); err != nil {
		return err
	}
	if servers.adminKey == "" {
		return fmt.Errorf("%w: REBOUND_ADMIN_KEY (or --admin-key) must be an admin key of the stack (`rebound dev` prints one)", errUsage)
	}
	cfg.grpcAddr, cfg.key = servers.grpcAddr, servers.adminKey
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	log, _ := (&logFlags{format: "text", level: "warn"}).logger(env.stderr)
	err := simulate(ctx, cfg, env.stdout, log)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// runDemo is `rebound dev --demo`: a simulation against the process's own services.
func runDemo(ctx context.Context, grpcAddr, key, wmsAddr, cartAddr string, out io.Writer, log *slog.Logger) error {
	cfg := simConfig{grpcAddr: grpcAddr, key: key, wmsRoot: "http://" + wmsAddr, cartRoot: "http://" + cartAddr,
		merchants: 4, warehouses: 2, rate: 3, outageAt: 15 * time.Second, outageFor: 25 * time.Second,
		mapAt: 40 * time.Second, report: 5 * time.Second, seed: uint64(time.Now().UnixNano())}
	err := simulate(ctx, cfg, out, log)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// bearer sends the API key on every call; the channel is plaintext, as on a dev machine.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

// simMerchant is one merchant of the simulation and its connections.
type simMerchant struct {
	id, warehouse, cart, wms string
}

// The simulation's ship method codes: two mapped from the start, one mapped only at mapAt.
var (
	mappedCodes  = map[string]string{"STANDARD": "UPS_GROUND", "EXPRESS": "FEDEX_2DAY"}
	unmappedCode = "PRIORITY"
	// leftCode is never mapped by the simulation: its orders wait for a person, who gets an
	// immediate email with a link to the page that maps it.
	leftCode = "SATURDAY"
)

func simulate(ctx context.Context, cfg simConfig, out io.Writer, log *slog.Logger) error {
	conn, err := grpc.NewClient(cfg.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(bearer(cfg.key)))
	if err != nil {
		return err
	}
	defer conn.Close()
	conns := connectionsv1.NewConnectionServiceClient(conn)
	orders := ordersv1.NewOrderServiceClient(conn)
	alerts := alertsv1.NewAlertServiceClient(conn)
	contacts := notificationv1.NewNotificationServiceClient(conn)
	wmsAdmin := sandbox.NewAdminClient(cfg.wmsRoot, http.DefaultClient)

	run := fmt.Sprintf("%x", time.Now().Unix()%0xfffff)
	merchants := make([]simMerchant, cfg.merchants)
	for i := range merchants {
		m := simMerchant{id: fmt.Sprintf("sim-%s-m%d", run, i+1), warehouse: fmt.Sprintf("sim-%s-w%d", run, i%max(cfg.warehouses, 1)+1)}
		m.cart, m.wms = m.id+"-cart", m.id+"-wms"
		merchants[i] = m
		if err := setUpMerchant(ctx, conns, orders, contacts, cfg, m); err != nil {
			return fmt.Errorf("setting up %s: %w", m.id, err)
		}
	}
	fmt.Fprintf(out, "simulation %s: %d merchants served by %d warehouses, %.1f orders/s; WMS of %s goes down at +%s for %s; %s is mapped at +%s; %s is left for you to map from the email\n",
		run, cfg.merchants, cfg.warehouses, cfg.rate, merchants[0].id, cfg.outageAt, cfg.outageFor, unmappedCode, cfg.mapAt, leftCode)

	var submitted, refused atomic.Int64
	rng := rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15))
	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / max(cfg.rate, 0.1)))
	defer tick.Stop()
	report := time.NewTicker(cfg.report)
	defer report.Stop()
	outage, outageOver, mapped := false, false, false
	for n := 1; ; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-report.C:
			printSimStatus(ctx, out, time.Since(start), submitted.Load(), refused.Load(), wmsAdmin, alerts, merchants)
			continue
		case <-tick.C:
		}
		elapsed := time.Since(start)
		switch {
		case cfg.outageAt > 0 && !outage && elapsed >= cfg.outageAt:
			outage = true
			if _, err := wmsAdmin.SetFailure(ctx, merchants[0].wms, sandbox.Failure{Mode: sandbox.ModeDown}); err != nil {
				log.Warn("could not take the sandbox WMS down", slog.Any("error", err))
			}
			fmt.Fprintf(out, "+%s  the WMS of %s is down\n", elapsed.Round(time.Second), merchants[0].id)
		case outage && !outageOver && elapsed >= cfg.outageAt+cfg.outageFor:
			outageOver = true
			if err := wmsAdmin.ClearFailure(ctx, merchants[0].wms); err != nil {
				log.Warn("could not bring the sandbox WMS back", slog.Any("error", err))
			}
			fmt.Fprintf(out, "+%s  the WMS of %s is back\n", elapsed.Round(time.Second), merchants[0].id)
		case cfg.mapAt > 0 && !mapped && elapsed >= cfg.mapAt:
			mapped = true
			for _, m := range merchants {
				if _, err := orders.SetShipMethodMapping(ctx, &ordersv1.SetShipMethodMappingRequest{
					AccountId: m.id, CartConnectionId: m.cart, ShipMethodCode: unmappedCode, WmsShipMethod: "UPS_NEXT_DAY"}); err != nil {
					log.Warn("could not map the ship method", slog.Any("error", err))
				}
			}
			fmt.Fprintf(out, "+%s  %s is now mapped for every merchant: its held orders are released\n", elapsed.Round(time.Second), unmappedCode)
		}
		// During the outage the first merchant gets most of the orders, so it is felt at once.
		m := merchants[rng.IntN(len(merchants))]
		if outage && !outageOver && rng.IntN(3) > 0 {
			m = merchants[0]
		}
		if err := submitSimOrder(ctx, orders, m, n, rng); err != nil {
			refused.Add(1)
			log.Warn("order refused", slog.Any("error", err))
		} else {
			submitted.Add(1)
		}
		n++
	}
}

func setUpMerchant(ctx context.Context, conns connectionsv1.ConnectionServiceClient, orders ordersv1.OrderServiceClient,
	contacts notificationv1.NotificationServiceClient, cfg simConfig, m simMerchant) error {
	for _, c := range []*connectionsv1.ConnectionSettings{
		{ConnectionId: m.wms, AccountId: m.id, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: m.warehouse,
			SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms", BaseUrl: sandbox.WMSBaseURL(cfg.wmsRoot, m.wms),
			Timeout: durationpb.New(2 * time.Second)},
		{ConnectionId: m.cart, AccountId: m.id, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT, WarehouseId: m.warehouse,
			SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "sandbox-cart", BaseUrl: sandbox.CartBaseURL(cfg.cartRoot, m.cart),
			Timeout: durationpb.New(2 * time.Second), SyncInterval: durationpb.New(30 * time.Second), WmsConnectionId: m.wms},
	} {
		if _, err := conns.UpsertConnection(ctx, &connectionsv1.UpsertConnectionRequest{Settings: c}); err != nil {
			return err
		}
	}
	for code, method := range mappedCodes {
		if _, err := orders.SetShipMethodMapping(ctx, &ordersv1.SetShipMethodMappingRequest{
			AccountId: m.id, CartConnectionId: m.cart, ShipMethodCode: code, WmsShipMethod: method}); err != nil {
			return err
		}
	}
	// The merchant's operator wants urgent alerts at once; the warehouse reads an hourly digest.
	for _, c := range []*notificationv1.AddContactRequest{
		{AccountId: m.id, Contact: &notificationv1.ContactSettings{Email: "ops@" + m.id + ".example", Name: "Ops " + m.id,
			TimeZone: "Europe/London", Frequency: notificationv1.Frequency_FREQUENCY_IMMEDIATE, HasLogin: true}},
		{AccountId: m.warehouse, Contact: &notificationv1.ContactSettings{Email: "floor@" + m.warehouse + ".example", Name: "Floor " + m.warehouse,
			TimeZone: "America/New_York", Frequency: notificationv1.Frequency_FREQUENCY_HOURLY, HasLogin: true}},
	} {
		if _, err := contacts.AddContact(ctx, c); err != nil && status.Code(err) != codes.AlreadyExists {
			return err
		}
	}
	return nil
}

// submitSimOrder submits one order: mostly well-formed and mapped; some with an unmapped ship
// method, some with an address the WMS refuses.
func submitSimOrder(ctx context.Context, orders ordersv1.OrderServiceClient, m simMerchant, n int, rng *rand.Rand) error {
	code := "STANDARD"
	if rng.IntN(2) == 0 {
		code = "EXPRESS"
	}
	postal := fmt.Sprintf("%05d", 10000+rng.IntN(89999))
	switch r := rng.IntN(100); {
	case r < 4:
		code = unmappedCode
	case r < 5:
		code = leftCode
	case r < 8:
		postal = "" // the WMS answers 422 INVALID_ADDRESS: held until someone edits it
	}
	_, err := orders.SubmitOrder(ctx, &ordersv1.SubmitOrderRequest{
		AccountId: m.id, CartConnectionId: m.cart, OrderNumber: fmt.Sprintf("#%d", 1000+n), PlacedAt: timestamppb.Now(), Currency: "USD",
		ShipTo: &ordersv1.Address{Name: "Ada Lovelace", Address1: fmt.Sprintf("%d Analytical Way", 1+rng.IntN(999)), City: "London",
			PostalCode: postal, CountryCode: "GB"},
		ShipMethodCode: code,
		Lines:          []*ordersv1.OrderLine{{Sku: fmt.Sprintf("SKU-%03d", rng.IntN(50)), Name: "Widget", Quantity: uint32(1 + rng.IntN(3)), UnitPrice: "9.90"}},
	})
	return err
}

// printSimStatus prints one line of what happened so far.
func printSimStatus(ctx context.Context, out io.Writer, elapsed time.Duration, submitted, refused int64, wms *sandbox.AdminClient,
	alerts alertsv1.AlertServiceClient, merchants []simMerchant) {
	accepted := "?"
	if st, err := wms.Stats(ctx); err == nil {
		accepted = fmt.Sprint(st.Created)
	}
	outage := "not raised"
	if r, err := alerts.GetAlert(ctx, &alertsv1.GetAlertRequest{AccountId: merchants[0].id,
		Alert: &alertsv1.GetAlertRequest_AlertId{AlertId: alert.ConnectionAlertID(merchants[0].id, merchants[0].wms)}, HistoryLimit: 1}); err == nil {
		outage = alertStatusWord(r.GetAlert().GetStatus())
	}
	fmt.Fprintf(out, "+%-4s orders submitted %d (refused %d), accepted by the sandbox WMS %s; connection_down alert of %s: %s\n",
		elapsed.Round(time.Second), submitted, refused, accepted, merchants[0].wms, outage)
}

func alertStatusWord(s alertsv1.AlertStatus) string {
	switch s {
	case alertsv1.AlertStatus_ALERT_STATUS_OPEN:
		return "open"
	case alertsv1.AlertStatus_ALERT_STATUS_RESOLVED:
		return "resolved"
	case alertsv1.AlertStatus_ALERT_STATUS_DISMISSED:
		return "dismissed"
	}
	return "unknown"
}
