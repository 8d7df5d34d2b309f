// Package e2e holds the notification service's end-to-end test: the orders, alerts, retry and
// notification services on one bus and one gRPC/HTTP server, the sandbox WMS and cart, the dev
// mail catcher, and a real headless Chromium that opens a link from a received email.
package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"
	ordersv1 "github.com/reboundhq/rebound/proto/gen/rebound/orders/v1"

	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/server"
	alertsservice "github.com/reboundhq/rebound/services/alerts/service"
	"github.com/reboundhq/rebound/services/notification/devmail"
	"github.com/reboundhq/rebound/services/notification/outbound/fixer"
	notificationservice "github.com/reboundhq/rebound/services/notification/service"
	"github.com/reboundhq/rebound/services/orders/sandbox"
	"github.com/reboundhq/rebound/services/orders/sandbox/sandboxtest"
	ordersservice "github.com/reboundhq/rebound/services/orders/service"
	retryservice "github.com/reboundhq/rebound/services/retry/service"
)

func TestMain(m *testing.M) { natstest.Main(m) }

// InstallChromium is how a machine gets the browser this test needs (Debian's package).
const InstallChromium = "apt-get update && apt-get install -y chromium"

// chromium finds the browser; the test fails (never skips) without it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("REBOUND_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("Chromium is not installed; this test needs a real headless browser. Install it with:\n\t%s\n(or set REBOUND_CHROMIUM to its path)", InstallChromium)
	return ""
}

const (
	cartConn = "shop-1"
	wmsConn  = "wms-1"
)

// registry knows every type the four services read or write.
func registry() *events.Registry {
	reg := ordersservice.Registry()
	reg.Register(alertsservice.EventTypes()...)
	reg.Register(notificationservice.EventTypes()...)
	rr := retryservice.Registry()
	for _, t := range rr.Types() {
		if m, err := rr.New(t); err == nil {
			reg.Register(m)
		}
	}
	return reg
}

// The fix link of a received email, opened in a real headless browser: the person maps the ship
// method on the page, and every order held on it is delivered to the sandbox WMS.
func TestBrowser_fixLinkMapsShipMethodAndHeldOrdersReachTheWMS(t *testing.T) {
	browser := chromium(t)
	srv := natstest.Start(t, "")
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	reg := registry()
	store, err := natsstore.New(t.Context(), js, reg, natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.EnsurePoisonStream(t.Context(), js); err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(store)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	account := fmt.Sprintf("m-e2e-%d", time.Now().UnixNano()%1e9)

	keys := auth.NewMemStore()
	adminKey, _, err := auth.IssueKey(t.Context(), keys, auth.ScopeAdmin, "", "admin")
	if err != nil {
		t.Fatal(err)
	}
	merchantKey, _, err := auth.IssueKey(t.Context(), keys, auth.ScopeMerchant, account, "merchant")
	if err != nil {
		t.Fatal(err)
	}
	rpc, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second}, keys, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr, httpAddr := rpc.Addrs()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	mail, err := devmail.Start(devmail.Config{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mail.Close() })
	mail.Register(rpc.HTTPMux())

	fx, err := fixer.New(conn, fixer.NewOrders(conn, adminKey), adminKey)
	if err != nil {
		t.Fatal(err)
	}
	notif, err := notificationservice.New(notificationservice.Deps{Store: store, JS: js, Fixer: fx, Log: log}, notificationservice.Config{
		SMTPURL: mail.URL(), LinkSecret: []byte("e2e-secret-e2e-secret-e2e-secret-0123"), BaseURL: "http://" + httpAddr})
	if err != nil {
		t.Fatal(err)
	}
	orders, err := ordersservice.New(ordersservice.Deps{Store: store, JS: js, Ingester: in, Log: log}, ordersservice.Config{ManualSync: true})
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := alertsservice.New(alertsservice.Deps{Store: store, JS: js, Ingester: in, Log: log}, alertsservice.Config{})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := retryservice.New(retryservice.Deps{Store: store, JS: js, Log: log}, retryservice.Config{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(js, reg, log, bus.Config{})
	if err != nil {
		t.Fatal(err)
	}
	type runner interface {
		Handlers() []bus.Handler
		Register(*server.Server)
		Run(context.Context) error
	}
	svcs := []runner{orders, alerts, retry, notif}
	for _, s := range svcs {
		for _, h := range s.Handlers() {
			if err := b.Handle(h); err != nil {
				t.Fatal(err)
			}
		}
		s.Register(rpc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, len(svcs)+2)
	go func() { done <- b.Run(ctx) }()
	go func() { done <- rpc.Run(ctx) }()
	for _, s := range svcs {
		go func() { done <- s.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		for range len(svcs) + 2 {
			select {
			case <-done:
			case <-time.After(45 * time.Second):
				t.Error("a component did not stop within 45s")
				return
			}
		}
	})
	select {
	case <-b.Running():
	case err := <-done:
		t.Fatalf("the bus did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the bus did not start within 30s")
	}

	as := func(key string) context.Context {
		c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		t.Cleanup(cancel)
		return metadata.AppendToOutgoingContext(c, "authorization", "Bearer "+key)
	}
	sb := sandboxtest.Start(t, sandbox.Config{})
	wmsAdmin := sandbox.NewAdminClient(sb.WMSURL(), nil)
	conns := connectionsv1.NewConnectionServiceClient(conn)
	for _, s := range []*connectionsv1.ConnectionSettings{
		{ConnectionId: cartConn, AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
			SystemKind: connectorv1.SystemKind_SYSTEM_KIND_CART, System: "sandbox-cart", BaseUrl: sb.CartBaseURL(cartConn),
			Timeout: durationpb.New(5 * time.Second), SyncInterval: durationpb.New(time.Hour), WmsConnectionId: wmsConn},
		{ConnectionId: wmsConn, AccountId: account, AccountKind: connectorv1.AccountKind_ACCOUNT_KIND_MERCHANT,
			SystemKind: connectorv1.SystemKind_SYSTEM_KIND_WMS, System: "sandbox-wms", BaseUrl: sb.WMSBaseURL(wmsConn),
			Timeout: durationpb.New(5 * time.Second)},
	} {
		if _, err := conns.UpsertConnection(as(merchantKey), &connectionsv1.UpsertConnectionRequest{Settings: s,
			Credentials: &connectionsv1.Credentials{Token: "secret-" + s.GetConnectionId()}}); err != nil {
			t.Fatalf("UpsertConnection %s: %v", s.GetConnectionId(), err)
		}
	}

	// The merchant's contact, added over gRPC.
	notifAPI := notificationv1.NewNotificationServiceClient(conn)
	if _, err := notifAPI.AddContact(as(merchantKey), &notificationv1.AddContactRequest{AccountId: account,
		Contact: &notificationv1.ContactSettings{Email: "ops@merchant.test", Name: "Ops", TimeZone: "Europe/London",
			Frequency: notificationv1.Frequency_FREQUENCY_EVERY_30_MINUTES}}); err != nil {
		t.Fatalf("AddContact: %v", err)
	}

	// Two orders with a ship method the connection does not map: both are held.
	ordersAPI := ordersv1.NewOrderServiceClient(conn)
	var ids []string
	for _, number := range []string{"1001", "1002"} {
		res, err := ordersAPI.SubmitOrder(as(merchantKey), &ordersv1.SubmitOrderRequest{
			AccountId: account, CartConnectionId: cartConn, OrderNumber: number, Currency: "GBP", ShipMethodCode: "UPS_GS",
			ShipTo: &ordersv1.Address{Name: "Ada Lovelace", Address1: "12 Analytical Row", City: "London", PostalCode: "N1 9GU", CountryCode: "GB"},
			Lines:  []*ordersv1.OrderLine{{Sku: "SKU-1", Name: "Difference engine", Quantity: 1, UnitPrice: "12.50"}},
		})
		if err != nil {
			t.Fatalf("SubmitOrder %s: %v", number, err)
		}
		ids = append(ids, res.GetOrder().GetOrderId())
	}
	status := func(id string) ordersv1.OrderStatus {
		res, err := ordersAPI.GetOrder(as(merchantKey), &ordersv1.GetOrderRequest{AccountId: account,
			Order: &ordersv1.GetOrderRequest_OrderId{OrderId: id}, HistoryLimit: 1})
		if err != nil {
			return ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED
		}
		return res.GetOrder().GetStatus()
	}
	for _, id := range ids {
		eventually(t, 60*time.Second, "order "+id+" to be held", func() bool { return status(id) == ordersv1.OrderStatus_ORDER_STATUS_ERROR })
	}

	// The email arrives at once (ship_method_unmapped is immediate), with the fix link.
	var fixURL string
	linkRE := regexp.MustCompile(`https?://[^\s"<>]+/links/[^\s"<>]+/map-ship-method\?t=[^\s"<>]+`)
	eventually(t, 60*time.Second, "the email with the fix link", func() bool {
		for _, m := range mail.Messages() {
			if u := linkRE.FindString(m.Text); u != "" && strings.Contains(m.Text, "1001") {
				fixURL = u
				return true
			}
		}
		return false
	})

	// A person opens it in a browser and maps the ship method.
	userDir := t.TempDir()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(userDir))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate(fixURL)); err != nil { // starts the browser: no timeout here
		t.Fatalf("opening %s in Chromium: %v", fixURL, err)
	}
	tctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	defer cancelTimeout()
	if err := chromedp.Do(tctx, chromedp.WaitVisible(chromedp.ID("wms_ship_method"))); err != nil {
		t.Fatalf("the page has no ship method field: %v", err)
	}
	before, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tctx,
		chromedp.SendKeys(chromedp.ID("wms_ship_method"), "UPS_GROUND"),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("done")),
	); err != nil {
		t.Fatalf("in the browser: %v\npage before: %s", err, before)
	}
	after, err := chromedp.Run(tctx, chromedp.Text(chromedp.ID("done")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(before, "UPS_GS") || !strings.Contains(before, "1001") {
		t.Errorf("the page did not show the order and its code:\n%s", before)
	}
	if !strings.Contains(after, `now maps to "UPS_GROUND"`) {
		t.Errorf("the page said %q", after)
	}

	// Every order held on the code reaches the sandbox WMS.
	t.Cleanup(func() {
		if t.Failed() {
			var lines []string
			_ = store.Read(context.Background(), events.ReadOptions{Filters: []string{"evt.*." + account + ".>"}},
				func(_ context.Context, r events.Record) error {
					lines = append(lines, fmt.Sprintf("%s %s/%s v%d", events.ShortType(r.EventType), r.AggregateType, r.AggregateID, r.Version))
					return nil
				})
			t.Logf("the account's events:\n%s", strings.Join(lines, "\n"))
		}
	})
	for _, id := range ids {
		eventually(t, 90*time.Second, "order "+id+" at the WMS", func() bool { return status(id) == ordersv1.OrderStatus_ORDER_STATUS_AT_WMS })
	}
	stored, err := wmsAdmin.Orders(t.Context(), wmsConn)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, o := range stored {
		got[o.IdempotencyKey] = true
	}
	for _, id := range ids {
		if !got[id] {
			t.Errorf("the sandbox WMS did not receive order %s (it has %d orders)", id, len(stored))
		}
	}
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
