package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/errmap"
)

// ErrListen means an address could not be listened on (taken, or not this machine's); the
// error names the environment variable that sets it.
var ErrListen = errors.New("server: cannot listen")

// Server serves gRPC and HTTP. Register services and pages before Run; the other methods are
// safe for concurrent use.
type Server struct {
	cfg     Config
	keys    auth.KeyStore
	log     *slog.Logger
	mapper  *errmap.Mapper
	metrics *metrics
	reg     Registry

	grpc    *grpc.Server
	health  *health.Server
	mux     *http.ServeMux
	http    *http.Server
	grpcLis net.Listener
	httpLis net.Listener

	running atomic.Bool // Run was called
	ready   atomic.Bool // serving and not stopping
	checkMu sync.RWMutex
	check   func(context.Context) error
}

// New builds a server and binds both addresses, so that [Server.Addrs] is known and a taken
// port fails here. keys authenticates calls. A nil log discards; a nil reg gets NewRegistry().
// The returned server must be Run, or Closed when it will not be.
func New(cfg Config, keys auth.KeyStore, log *slog.Logger, reg Registry) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, errors.New("server: New needs a key store")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("server: registering metrics: %w", err)
	}
	s := &Server{cfg: cfg, keys: keys, log: log, mapper: cfg.Mapper, metrics: m, reg: reg}

	opts := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	}, cfg.ServerOptions...)
	s.grpc = grpc.NewServer(opts...)
	s.health = health.NewServer()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)

	s.mux = http.NewServeMux()
	s.routes()
	s.http = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	if s.grpcLis, err = listen("gRPC", cfg.GRPCAddr, EnvGRPCAddr); err != nil {
		return nil, err
	}
	if s.httpLis, err = listen("HTTP", cfg.HTTPAddr, EnvHTTPAddr); err != nil {
		_ = s.grpcLis.Close()
		return nil, err
	}
	return s, nil
}

func listen(what, addr, env string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w for %s on %s: %w (set %s to a free host:port)", ErrListen, what, addr, err, env)
	}
	return l, nil
}

// GRPC is the gRPC server to register services on, before Run.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// HTTPMux is the HTTP mux to add pages to, before Run. /metrics, /healthz and /readyz are taken.
func (s *Server) HTTPMux() *http.ServeMux { return s.mux }

// Registry is where the server's metrics live; services may register theirs there too.
func (s *Server) Registry() Registry { return s.reg }

// Addrs returns the addresses the server listens on, with the real port when the configured
// one was 0.
func (s *Server) Addrs() (grpcAddr, httpAddr string) {
	return s.grpcLis.Addr().String(), s.httpLis.Addr().String()
}

// SetServing marks a gRPC service (its full name, e.g. "rebound.alerts.v1.AlertService") as
// serving in the health service.
func (s *Server) SetServing(service string) {
	s.health.SetServingStatus(service, healthpb.HealthCheckResponse_SERVING)
}

// SetNotServing marks a gRPC service as not serving in the health service.
func (s *Server) SetNotServing(service string) {
	s.health.SetServingStatus(service, healthpb.HealthCheckResponse_NOT_SERVING)
}

// SetReadyCheck sets what /readyz runs once the server serves: nil from check means ready.
// Without one, the server is ready while it serves.
func (s *Server) SetReadyCheck(check func(context.Context) error) {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	s.check = check
}

// Run serves gRPC and HTTP until ctx ends or a listener fails, then stops: it marks everything
// not serving, lets calls in flight finish for up to Config.ShutdownTimeout, and closes the
// rest. It returns nil after ctx ended and a server's error otherwise. It may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("server: Run may be called only once")
	}
	errc := make(chan error, 2)
	go func() {
		if err := s.grpc.Serve(s.grpcLis); err != nil {
			errc <- fmt.Errorf("server: serving gRPC on %s: %w", s.grpcLis.Addr(), err)
			return
		}
		errc <- nil
	}()
	go func() {
		if err := s.http.Serve(s.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("server: serving HTTP on %s: %w", s.httpLis.Addr(), err)
			return
		}
		errc <- nil
	}()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.ready.Store(true)
	grpcAddr, httpAddr := s.Addrs()
	s.log.Info("server started", slog.String("grpc_addr", grpcAddr), slog.String("http_addr", httpAddr))

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.ready.Store(false)
	s.health.Shutdown()

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	httpErr := s.http.Shutdown(sctx)
	if httpErr != nil {
		_ = s.http.Close()
		httpErr = fmt.Errorf("server: stopping HTTP: %w", httpErr)
	}
	select {
	case <-stopped:
	case <-sctx.Done():
		s.grpc.Stop() // calls still running after the timeout are cut off
		<-stopped
	}
	s.log.Info("server stopped", slog.String("grpc_addr", grpcAddr), slog.String("http_addr", httpAddr))
	return errors.Join(runErr, httpErr)
}

// Close releases the listeners of a server that will not be Run. After Run it does nothing.
func (s *Server) Close() error {
	if !s.running.CompareAndSwap(false, true) {
		return nil
	}
	s.grpc.Stop()
	return errors.Join(s.grpcLis.Close(), s.httpLis.Close())
}
