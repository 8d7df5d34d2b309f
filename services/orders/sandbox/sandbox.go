package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Default addresses of the two servers.
const (
	DefaultWMSAddr  = "127.0.0.1:8091"
	DefaultCartAddr = "127.0.0.1:8092"
)

// Config configures the sandbox.
type Config struct {
	// WMSAddr is where the WMS listens (host:port; port 0 picks a free one); default
	// 127.0.0.1:8091.
	WMSAddr string
	// CartAddr is where the cart listens; default 127.0.0.1:8092.
	CartAddr string
	// ShipMethods are the WMS ship methods the sandbox WMS accepts; default DefaultShipMethods.
	ShipMethods []string
	// Token, when set, is the bearer token both servers require; by default any credentials (or
	// none) are accepted and http-401 mode plays the refusal.
	Token string
	// Seed seeds the generator flaky mode draws from, so a run can be repeated; 0 picks a random
	// seed.
	Seed uint64
}

func (c Config) withDefaults() Config {
	if c.WMSAddr == "" {
		c.WMSAddr = DefaultWMSAddr
	}
	if c.CartAddr == "" {
		c.CartAddr = DefaultCartAddr
	}
	if len(c.ShipMethods) == 0 {
		c.ShipMethods = DefaultShipMethods
	}
	if c.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.Seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	return c
}

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	var errs []error
	for name, addr := range map[string]string{"WMSAddr": c.WMSAddr, "CartAddr": c.CartAddr} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: %s %q: %w", name, addr, err))
		}
	}
	for i, m := range c.ShipMethods {
		if m == "" {
			errs = append(errs, fmt.Errorf("sandbox: ShipMethods[%d] is empty", i))
		}
	}
	return errors.Join(errs...)
}

// Sandbox is the sandbox cart and WMS, each on its own listener. Listen binds both; Run serves
// them until its context ends.
type Sandbox struct {
	// WMS is the sandbox WMS (its stored orders, Ship, Stats, ...).
	WMS *WMS
	// Cart is the sandbox cart.
	Cart *Cart

	logger         *slog.Logger
	wmsLn, cartLn  net.Listener
	closeOnce      sync.Once
	closeListeners error
}

// Listen binds the two servers' addresses (see Config) and returns the sandbox, ready to Run.
func Listen(cfg Config, logger *slog.Logger) (*Sandbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	wmsLn, err := net.Listen("tcp", cfg.WMSAddr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: WMS: %w", err)
	}
	cartLn, err := net.Listen("tcp", cfg.CartAddr)
	if err != nil {
		_ = wmsLn.Close()
		return nil, fmt.Errorf("sandbox: cart: %w", err)
	}
	return &Sandbox{
		WMS: NewWMS(cfg, logger), Cart: NewCart(cfg, logger), logger: logger,
		wmsLn: wmsLn, cartLn: cartLn,
	}, nil
}

// WMSURL returns the WMS's root URL (http://host:port); its admin API is under /admin/.
func (s *Sandbox) WMSURL() string { return "http://" + s.wmsLn.Addr().String() }

// CartURL returns the cart's root URL; its admin API is under /admin/.
func (s *Sandbox) CartURL() string { return "http://" + s.cartLn.Addr().String() }

// WMSBaseURL returns the base URL of a WMS connection, for its remote.Config.
func (s *Sandbox) WMSBaseURL(connection string) string { return WMSBaseURL(s.WMSURL(), connection) }

// CartBaseURL returns the base URL of a cart connection, for its remote.Config.
func (s *Sandbox) CartBaseURL(connection string) string {
	return CartBaseURL(s.CartURL(), connection)
}

// WMSBaseURL returns the base URL of a connection of the sandbox WMS at root.
func WMSBaseURL(root, connection string) string { return root + "/wms/" + connection }

// CartBaseURL returns the base URL of a connection of the sandbox cart at root.
func CartBaseURL(root, connection string) string { return root + "/cart/" + connection }

// Run serves both servers until ctx ends, then shuts them down within about a second (requests
// in flight, slow ones included, end with ctx) and returns nil; a server that fails stops both and
// returns its error.
func (s *Sandbox) Run(ctx context.Context) error {
	s.logger.Info("sandbox listening", slog.String("wms", s.WMSURL()), slog.String("cart", s.CartURL()))
	base := func(net.Listener) context.Context { return ctx }
	servers := []*http.Server{
		{Handler: s.WMS, BaseContext: base, ReadHeaderTimeout: 10 * time.Second},
		{Handler: s.Cart, BaseContext: base, ReadHeaderTimeout: 10 * time.Second},
	}
	listeners := []net.Listener{s.wmsLn, s.cartLn}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
				return
			}
			errc <- nil
		}()
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	// Handlers end with ctx (it is every request's base), so what is left after a short grace is
	// connections that never sent a request, which Shutdown would otherwise wait 5 s for.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			_ = srv.Close()
		}
	}
	s.logger.Info("sandbox stopped")
	if runErr != nil {
		return fmt.Errorf("sandbox: %w", runErr)
	}
	return nil
}

// Close releases the listeners of a sandbox that is not running (Run closes them itself).
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() { s.closeListeners = errors.Join(s.wmsLn.Close(), s.cartLn.Close()) })
	return s.closeListeners
}
