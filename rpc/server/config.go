package server

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"

	"github.com/reboundhq/rebound/rpc/errmap"
)

// The environment variables that configure the addresses, named in errors about them.
const (
	EnvGRPCAddr = "REBOUND_GRPC_ADDR"
	EnvHTTPAddr = "REBOUND_HTTP_ADDR"
)

// Default addresses and timeouts.
const (
	DefaultGRPCAddr        = "127.0.0.1:50051"
	DefaultHTTPAddr        = "127.0.0.1:8080"
	DefaultShutdownTimeout = 10 * time.Second
	DefaultReadyTimeout    = 2 * time.Second
)

// Config configures a Server.
type Config struct {
	// GRPCAddr is the host:port gRPC listens on; default DefaultGRPCAddr. Port 0 picks a free
	// port (see [Server.Addrs]).
	GRPCAddr string
	// HTTPAddr is the host:port of /metrics, /healthz, /readyz and pages; default
	// DefaultHTTPAddr. Port 0 picks a free port.
	HTTPAddr string
	// ShutdownTimeout bounds how long Run waits for calls in flight once its context ends
	// before it closes them; default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// ReadyTimeout bounds one run of the readiness check; default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Mapper maps handler errors to statuses; default errmap.Default.
	Mapper *errmap.Mapper
	// ServerOptions are added to the gRPC server's options (not interceptors: the server's own
	// come first; use grpc.ChainUnaryInterceptor to add more, which run inside them).
	ServerOptions []grpc.ServerOption
}

func (c *Config) setDefaults() {
	if c.GRPCAddr == "" {
		c.GRPCAddr = DefaultGRPCAddr
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.Mapper == nil {
		c.Mapper = errmap.Default
	}
}

// Validate reports every problem with the configuration, after defaults.
func (c Config) Validate() error {
	c.setDefaults()
	var errs []error
	if err := checkAddr(c.GRPCAddr); err != nil {
		errs = append(errs, fmt.Errorf("server: %s %q: %w", EnvGRPCAddr, c.GRPCAddr, err))
	}
	if err := checkAddr(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("server: %s %q: %w", EnvHTTPAddr, c.HTTPAddr, err))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("server: ShutdownTimeout %s is negative", c.ShutdownTimeout))
	}
	if c.ReadyTimeout < 0 {
		errs = append(errs, fmt.Errorf("server: ReadyTimeout %s is negative", c.ReadyTimeout))
	}
	return errors.Join(errs...)
}

func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not 0-65535", port)
	}
	return nil
}
