package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsserver"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/services/notification/devmail"
	"github.com/reboundhq/rebound/services/notification/link"
	"github.com/reboundhq/rebound/services/orders/sandbox"
	retryservice "github.com/reboundhq/rebound/services/retry/service"
)

func init() {
	register(command{
		name: "dev", args: "[flags]",
		summary: "run everything in one process with an embedded NATS server (what `make run` does)",
		run:     runDev,
	})
}

// devConfig is the configuration of `rebound dev`.
type devConfig struct {
	dataDir    string
	nats       natsFlags
	servers    serverFlags
	host       hostFlags
	syncAlways bool
	sandbox    bool
	wmsAddr    string
	cartAddr   string
	demo       bool
	log        logFlags
}

// component is one long-running part of the process (a service, a sandbox server).
type component struct {
	name string
	run  func(ctx context.Context) error
}

func runDev(ctx context.Context, env *environment, args []string) error {
	var cfg devConfig
	fs := newFlagSet(env, "dev", "[flags]")
	fs.envString(&cfg.dataDir, "data-dir", "REBOUND_DATA_DIR", "./data", "where the embedded NATS server and the read models keep their files")
	cfg.nats.define(fs)
	cfg.servers.define(fs)
	cfg.host.define(fs)
	fs.BoolVar(&cfg.syncAlways, "sync-always", false, "fsync every JetStream write before acknowledging it")
	fs.BoolVar(&cfg.sandbox, "sandbox", true, "run the sandbox cart and WMS")
	fs.envString(&cfg.wmsAddr, "sandbox-wms-addr", "REBOUND_SANDBOX_WMS_ADDR", "127.0.0.1:8091", "sandbox WMS listen address")
	fs.envString(&cfg.cartAddr, "sandbox-cart-addr", "REBOUND_SANDBOX_CART_ADDR", "127.0.0.1:8092", "sandbox cart listen address")
	fs.BoolVar(&cfg.demo, "demo", false, "drive the stack like a hub would (what `rebound simulate` does), so there is something to watch")
	cfg.log.define(fs, "text")
	if err := fs.parse(args); err != nil {
		return err
	}
	log, err := cfg.log.logger(env.stderr)
	if err != nil {
		return err
	}
	dataDir, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return fmt.Errorf("REBOUND_DATA_DIR: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("REBOUND_DATA_DIR: creating %s: %w", dataDir, err)
	}

	url := cfg.nats.url
	if url == "" {
		srv, err := natsserver.Start(natsserver.Config{
			DataDir: dataDir, Port: cfg.nats.port, PortVariable: "REBOUND_NATS_PORT",
			SyncAlways: cfg.syncAlways, Logger: log.With(slog.String("component", "nats-server")),
		})
		if err != nil {
			return err
		}
		defer func() {
			srv.Shutdown()
			log.Info("embedded NATS server stopped; data kept", slog.String("data_dir", dataDir))
		}()
		url = srv.ClientURL()
		log.Info("embedded NATS server listening", slog.String("nats_url", url), slog.String("jetstream_dir", srv.StoreDir()))
	} else {
		log.Info("using external NATS server", slog.String("nats_url", url))
	}

	nc, js, err := serviceConn(url, "rebound-dev", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := ensureStreams(ctx, js, log); err != nil {
		return err
	}
	rpcSrv, keys, err := cfg.servers.newRPCServer(ctx, js, log)
	if err != nil {
		return err
	}
	defer rpcSrv.Close()
	keyLine, err := cfg.servers.devAdminKey(ctx, keys)
	if err != nil {
		return err
	}
	grpcAddr, httpAddr := rpcSrv.Addrs()

	host, mailLine, closeHost, err := cfg.host.devHost(ctx, dataDir, grpcAddr, httpAddr, keys, rpcSrv.HTTPMux(), log)
	if err != nil {
		return err
	}
	defer closeHost()

	var comps []component
	sandboxLine := "sandbox: off"
	if cfg.sandbox {
		sb, err := sandbox.Listen(sandbox.Config{WMSAddr: cfg.wmsAddr, CartAddr: cfg.cartAddr}, log.With(slog.String("component", "sandbox")))
		if err != nil {
			return fmt.Errorf("%w (set REBOUND_SANDBOX_WMS_ADDR / REBOUND_SANDBOX_CART_ADDR, or --sandbox=false)", err)
		}
		comps = append(comps, component{name: "sandbox", run: sb.Run})
		sandboxLine = fmt.Sprintf("sandbox:  WMS %s, cart %s (rebound sandbox fail <mode> switches failures)", sb.WMSURL(), sb.CartURL())
	}

	if cfg.demo && host.retryPoliciesFile == "" {
		// Orders retry hourly; the demo retries every 20 seconds so its outage clears in view.
		demo, err := retryservice.ParsePolicies([]byte(demoRetryPolicies))
		if err != nil {
			return err
		}
		host.retryPolicies = &demo
	}
	st, err := newStack(ctx, js, host, log)
	if err != nil {
		return err
	}
	defer st.close()
	for _, name := range serviceNames {
		if err := st.addNamed(ctx, name, rpcSrv); err != nil {
			return err
		}
	}
	comps = append(append([]component{{name: "rpc-server", run: rpcSrv.Run}}, comps...), st.components()...)
	if cfg.demo {
		comps = append(comps, component{name: "demo", run: func(ctx context.Context) error {
			return runDemo(ctx, grpcAddr, host.internalKey, cfg.wmsAddr, cfg.cartAddr, env.stdout, log)
		}})
	}

	log.Info("rebound dev is up", slog.String("nats_url", url), slog.String("grpc_addr", grpcAddr),
		slog.String("http_addr", httpAddr), slog.String("data_dir", dataDir))
	fmt.Fprintf(env.stdout, "\nRebound is running.\n  NATS:     %s\n  gRPC:     %s (alerts, retry, orders, connections, notification, ingest)\n  HTTP:     http://%s (/metrics, /healthz, /links/...)\n  %s\n  %s\n  data:     %s\n  %s\n\nCtrl-C stops it; the data stays for the next start.\n\n",
		url, grpcAddr, httpAddr, mailLine, sandboxLine, dataDir, keyLine)

	err = runComponents(ctx, log, comps)
	log.Info("shutting down")
	return err
}

// demoRetryPolicies shorten the order retries for `rebound dev --demo`.
const demoRetryPolicies = "kinds: {order: {interval: 20s, jitter: 0.1}}"

// hostFlags are the settings of the services beyond NATS and the listen addresses.
type hostFlags struct {
	postgresURL     string
	rulesFile       string
	retryPolicies   string
	connectionsFile string
	smtpURL         string
	linkSecret      string
	baseURL         string
	servicesAddr    string
}

func (h *hostFlags) define(fs *flagSet) {
	fs.envString(&h.postgresURL, "postgres-url", "REBOUND_POSTGRES_URL", "", "keep the read models in PostgreSQL instead of SQLite in the data dir")
	fs.envString(&h.rulesFile, "rules-file", "REBOUND_RULES_FILE", "", "failure classification rules (YAML, version 1); empty: the built-in rules")
	fs.envString(&h.retryPolicies, "retry-policies-file", "REBOUND_RETRY_POLICIES_FILE", "", "retry policies (YAML or JSON) over the built-in ones; see services/retry/README.md")
	fs.envString(&h.connectionsFile, "connections-file", "REBOUND_CONNECTIONS_FILE", "", "connections to configure at start (YAML or JSON)")
	fs.envString(&h.smtpURL, "smtp-url", "REBOUND_SMTP_URL", "", "SMTP server for notifications, smtp://user:pass@host:587 (STARTTLS); dev: a built-in catcher")
	fs.envString(&h.linkSecret, "link-secret", "REBOUND_LINK_SECRET", "", "HMAC key of the links in emails (at least 32 bytes, hex or raw); dev: kept in the data dir")
	fs.envString(&h.baseURL, "base-url", "REBOUND_BASE_URL", "", "how people reach the HTTP address, for links in emails; default http://<REBOUND_HTTP_ADDR>")
	fs.envString(&h.servicesAddr, "services-addr", "REBOUND_SERVICES_ADDR", "", "gRPC address of the alerts and orders services, for the notification pages; default this process's")
}

// internalKeyFile keeps the admin key `rebound dev` uses for its own calls between services.
const internalKeyFile = "internal-key"

// devHost fills in what dev runs with by default: a mail catcher (unless REBOUND_SMTP_URL), the
// link secret and an internal admin key kept in the data dir.
func (h *hostFlags) devHost(ctx context.Context, dataDir, grpcAddr, httpAddr string, keys auth.KeyStore, mux *http.ServeMux, log *slog.Logger) (hostConfig, string, func(), error) {
	cfg := hostConfig{dataDir: dataDir, postgresURL: h.postgresURL, rulesFile: h.rulesFile, retryPoliciesFile: h.retryPolicies, connectionsFile: h.connectionsFile,
		smtpURL: h.smtpURL, baseURL: h.baseURL, servicesAddr: h.servicesAddr}
	if cfg.baseURL == "" {
		cfg.baseURL = "http://" + httpAddr
	}
	if cfg.servicesAddr == "" {
		cfg.servicesAddr = grpcAddr
	}
	closeAll := func() {}
	mailLine := "mail:     " + redactURL(h.smtpURL)
	if cfg.smtpURL == "" {
		catcher, err := devmail.Start(devmail.Config{Log: log.With(slog.String("component", "devmail"))})
		if err != nil {
			return hostConfig{}, "", nil, err
		}
		catcher.Register(mux)
		cfg.smtpURL = catcher.URL()
		closeAll = func() { _ = catcher.Close() }
		mailLine = fmt.Sprintf("mail:     caught in the process; read it at %s/dev/mail", cfg.baseURL)
	}
	var err error
	if h.linkSecret != "" {
		if cfg.linkSecret = link.ParseSecret(h.linkSecret); cfg.linkSecret == nil {
			closeAll()
			return hostConfig{}, "", nil, fmt.Errorf("REBOUND_LINK_SECRET: at least %d bytes, hex or raw", link.MinSecretLen)
		}
	} else if cfg.linkSecret, err = link.LoadOrCreateSecret(dataDir); err != nil {
		closeAll()
		return hostConfig{}, "", nil, err
	}
	if cfg.internalKey, err = loadOrCreateInternalKey(ctx, dataDir, keys); err != nil {
		closeAll()
		return hostConfig{}, "", nil, err
	}
	return cfg, mailLine, closeAll, nil
}

// loadOrCreateInternalKey returns the admin key kept in <data dir>/internal-key, making and
// storing one (hashed in API_KEYS, plain in the file, 0600) on the first start.
func loadOrCreateInternalKey(ctx context.Context, dataDir string, keys auth.KeyStore) (string, error) {
	path := filepath.Join(dataDir, internalKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		plain := strings.TrimSpace(string(b))
		if _, err := auth.ImportKey(ctx, keys, plain, auth.ScopeAdmin, "", "rebound dev internal calls"); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		return plain, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	plain, _, err := auth.IssueKey(ctx, keys, auth.ScopeAdmin, "", "rebound dev internal calls")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(plain+"\n"), 0o600); err != nil {
		return "", err
	}
	return plain, nil
}

func redactURL(u string) string {
	if i := strings.Index(u, "@"); i > 0 {
		if j := strings.Index(u, "://"); j > 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}

// ensureStreams creates or updates every stream Rebound uses; safe at every start.
func ensureStreams(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	st, err := natsstore.EnsureStream(ctx, js, natsstore.StreamConfig{})
	if err != nil {
		return err
	}
	info := st.CachedInfo()
	log.Info("stream ready", slog.String("stream", info.Config.Name), slog.Uint64("events", info.State.Msgs),
		slog.Uint64("last_position", info.State.LastSeq))
	for name, ensure := range map[string]func(context.Context, jetstream.JetStream) (jetstream.Stream, error){
		bus.PoisonStream: bus.EnsurePoisonStream,
		ingest.Stream:    ingest.EnsureStream,
	} {
		if _, err := ensure(ctx, js); err != nil {
			return err
		}
		log.Debug("stream ready", slog.String("stream", name))
	}
	return nil
}

// runComponents runs every component until ctx ends or one of them fails, then stops the rest
// and waits for them.
func runComponents(ctx context.Context, log *slog.Logger, comps []component) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, c := range comps {
		wg.Go(func() {
			err := c.run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Error("component failed; stopping everything", slog.String("component", c.name), slog.Any("error", err))
				cancel(fmt.Errorf("%s: %w", c.name, err))
			}
		})
	}
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}
