package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
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
		logs    logFlags
	)
	nf.define(fs)
	servers.define(fs)
	logs.define(fs, "json")
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
	st, err := newStack(ctx, js, log)
	if err != nil {
		rpcSrv.Close()
		return err
	}
	for _, n := range names {
		if err := st.addNamed(n, rpcSrv); err != nil {
			rpcSrv.Close()
			return err
		}
	}
	grpcAddr, httpAddr := rpcSrv.Addrs()
	log.Info("rebound serve is up", slog.Any("services", names), slog.String("nats_url", url),
		slog.String("grpc_addr", grpcAddr), slog.String("http_addr", httpAddr))
	return runComponents(ctx, log, append([]component{{name: "rpc-server", run: rpcSrv.Run}}, st.components()...))
}
