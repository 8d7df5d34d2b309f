package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/reboundhq/rebound/services/notification/link"
)

func init() {
	register(command{
		name: "serve", args: "[flags] <service> [service ...]",
		summary: "run services against an external NATS (REBOUND_NATS_URL), e.g. `rebound serve alerts`",
		run:     runServe,
	})
}

func runServe(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "serve", "[flags] <service> [service ...]")
	var (
		nf      natsFlags
		servers serverFlags
		host    hostFlags
		logs    logFlags
	)
	nf.define(fs)
	servers.define(fs)
	host.define(fs)
	logs.define(fs, "json")
	var dataDir string
	fs.envString(&dataDir, "data-dir", "REBOUND_DATA_DIR", "./data", "where the read models keep their SQLite file (without REBOUND_POSTGRES_URL)")
	if err := fs.parse(args); err != nil {
		return err
	}
	names := fs.Args()
	if len(names) == 0 {
		return fmt.Errorf("%w: name at least one service (%v)", errUsage, serviceNames)
	}
	for _, n := range names {
		if !slices.Contains(serviceNames, n) {
			return fmt.Errorf("%w: unknown service %q (want one of %v)", errUsage, n, serviceNames)
		}
	}
	log, err := logs.logger(env.stderr)
	if err != nil {
		return err
	}
	url := nf.clientURL()
	nc, js, err := serviceConn(url, "rebound-"+names[0], log)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := ensureStreams(ctx, js, log); err != nil {
		return err
	}
	rpcSrv, keys, err := servers.newRPCServer(ctx, js, log)
	if err != nil {
		return err
	}
	if servers.adminKey != "" {
		if _, err := servers.devAdminKey(ctx, keys); err != nil {
			rpcSrv.Close()
			return err
		}
	}
	grpcAddr, httpAddr := rpcSrv.Addrs()
	hc, err := host.serveHost(names, dataDir, grpcAddr, httpAddr, servers.adminKey)
	if err != nil {
		rpcSrv.Close()
		return err
	}
	st, err := newStack(ctx, js, hc, log)
	if err != nil {
		rpcSrv.Close()
		return err
	}
	defer st.close()
	for _, n := range names {
		if err := st.addNamed(ctx, n, rpcSrv); err != nil {
			rpcSrv.Close()
			return err
		}
	}
	log.Info("rebound serve is up", slog.Any("services", names), slog.String("nats_url", url),
		slog.String("grpc_addr", grpcAddr), slog.String("http_addr", httpAddr))
	return runComponents(ctx, log, append([]component{{name: "rpc-server", run: rpcSrv.Run}}, st.components()...))
}

// serveHost checks that the named services have what they need outside dev, where nothing is
// made up: notification needs REBOUND_SMTP_URL and REBOUND_LINK_SECRET, and its pages act with
// REBOUND_ADMIN_KEY.
func (h *hostFlags) serveHost(names []string, dataDir, grpcAddr, httpAddr, adminKey string) (hostConfig, error) {
	cfg := hostConfig{dataDir: dataDir, postgresURL: h.postgresURL, rulesFile: h.rulesFile, retryPoliciesFile: h.retryPolicies, connectionsFile: h.connectionsFile, smtpURL: h.smtpURL, baseURL: h.baseURL,
		servicesAddr: h.servicesAddr, internalKey: adminKey}
	if cfg.baseURL == "" {
		cfg.baseURL = "http://" + httpAddr
	}
	if cfg.servicesAddr == "" {
		cfg.servicesAddr = grpcAddr
	}
	if !slices.Contains(names, "notification") {
		return cfg, nil
	}
	var errs []error
	if h.smtpURL == "" {
		errs = append(errs, errors.New("REBOUND_SMTP_URL is required for the notification service"))
	}
	if cfg.linkSecret = link.ParseSecret(h.linkSecret); cfg.linkSecret == nil {
		errs = append(errs, fmt.Errorf("REBOUND_LINK_SECRET is required for the notification service (at least %d bytes, hex or raw)", link.MinSecretLen))
	}
	return cfg, errors.Join(errs...)
}
