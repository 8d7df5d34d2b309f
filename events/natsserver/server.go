// Package natsserver runs the NATS server Rebound needs (nats-server 2.15 with JetStream) inside
// the process, for `rebound dev` and for tests, and connects clients to it or to an external
// server.
package natsserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures an embedded server.
type Config struct {
	// DataDir is where the server keeps its files (in DataDir/nats/jetstream). Required.
	DataDir string
	// Host is the client listen address; default 127.0.0.1.
	Host string
	// Port is the client port; default 4222. -1 picks a free port.
	Port int
	// PortVariable names the setting the port came from, for the error when it is taken.
	PortVariable string
	// ServerName names the server in logs and cluster metadata; default "rebound".
	ServerName string
	// SyncAlways makes JetStream fsync every write before acknowledging it.
	SyncAlways bool
	// MaxMemory and MaxStore cap JetStream's memory and disk use; 0 lets the server decide.
	MaxMemory int64
	MaxStore  int64
	// StartTimeout bounds how long Start waits for the server to accept clients; default 30s.
	StartTimeout time.Duration
	// Logger receives the server's log lines; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = 4222
	}
	if c.ServerName == "" {
		c.ServerName = "rebound"
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 30 * time.Second
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("natsserver: DataDir is required"))
	}
	if c.Port < -1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("natsserver: port %d is out of range", c.Port))
	}
	return errors.Join(errs...)
}

// Server is a running embedded NATS server.
type Server struct {
	ns      *server.Server
	dataDir string
}

// ErrPortInUse means the configured client port is taken by another process.
var ErrPortInUse = errors.New("natsserver: port in use")

// Start starts a server and waits until it accepts clients.
func Start(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Port > 0 {
		if err := checkPortFree(cfg.Host, cfg.Port, cfg.PortVariable); err != nil {
			return nil, err
		}
	}
	storeDir := filepath.Join(cfg.DataDir, "nats")
	opts := &server.Options{
		ServerName:         cfg.ServerName,
		Host:               cfg.Host,
		Port:               cfg.Port,
		JetStream:          true,
		StoreDir:           storeDir,
		SyncAlways:         cfg.SyncAlways,
		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxStore,
		NoSigs:             true,
		MaxPayload:         8 << 20,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: configuring the embedded server: %w", err)
	}
	if cfg.Logger != nil {
		ns.SetLoggerV2(&logger{l: cfg.Logger}, false, false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(cfg.StartTimeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("natsserver: the embedded server on %s:%d did not accept clients within %s (data in %s)",
			cfg.Host, cfg.Port, cfg.StartTimeout, storeDir)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		return nil, fmt.Errorf("natsserver: JetStream did not start (data in %s)", storeDir)
	}
	return &Server{ns: ns, dataDir: filepath.Join(storeDir, "jetstream")}, nil
}

func checkPortFree(host string, port int, variable string) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		hint := ""
		if variable != "" {
			hint = fmt.Sprintf("; set %s to a free port", variable)
		}
		return fmt.Errorf("%w: cannot listen on %s for the embedded NATS server (%v)%s", ErrPortInUse, addr, err, hint)
	}
	return l.Close()
}

// ClientURL is the URL clients connect to, e.g. nats://127.0.0.1:4222.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// StoreDir is where JetStream keeps its files.
func (s *Server) StoreDir() string { return s.dataDir }

// Shutdown stops the server and waits until it has flushed and closed its files.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

type logger struct{ l *slog.Logger }

// Noticef lines are the server's start-up banner and routine notices: debug for Rebound.
func (g *logger) Noticef(format string, v ...any) { g.l.Debug(fmt.Sprintf(format, v...)) }
func (g *logger) Warnf(format string, v ...any)   { g.l.Warn(fmt.Sprintf(format, v...)) }
func (g *logger) Fatalf(format string, v ...any)  { g.l.Error(fmt.Sprintf(format, v...)) }
func (g *logger) Errorf(format string, v ...any)  { g.l.Error(fmt.Sprintf(format, v...)) }
func (g *logger) Debugf(format string, v ...any)  { g.l.Debug(fmt.Sprintf(format, v...)) }
func (g *logger) Tracef(format string, v ...any)  { g.l.Debug(fmt.Sprintf(format, v...)) }
