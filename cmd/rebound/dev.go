package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/connector/ingest"
	"github.com/reboundhq/rebound/events/bus"
	"github.com/reboundhq/rebound/events/natsserver"
	"github.com/reboundhq/rebound/events/natsstore"
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
	syncAlways bool
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
	fs.BoolVar(&cfg.syncAlways, "sync-always", false, "fsync every JetStream write before acknowledging it")
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
	keyLine, err := cfg.servers.devAdminKey(ctx, keys)
	if err != nil {
		rpcSrv.Close()
		return err
	}
	st, err := newStack(ctx, js, log)
	if err != nil {
		rpcSrv.Close()
		return err
	}
	for _, name := range serviceNames {
		if name == "retry" {
			continue // joins once its service lands
		}
		if err := st.addNamed(name, rpcSrv); err != nil {
			rpcSrv.Close()
			return err
		}
	}
	comps := append([]component{{name: "rpc-server", run: rpcSrv.Run}}, st.components()...)
	grpcAddr, httpAddr := rpcSrv.Addrs()
	log.Info("rebound dev is up", slog.String("nats_url", url), slog.String("grpc_addr", grpcAddr),
		slog.String("http_addr", httpAddr), slog.String("data_dir", dataDir))
	fmt.Fprintf(env.stdout, "\nRebound is running.\n  NATS:     %s\n  gRPC:     %s\n  HTTP:     http://%s (/metrics, /healthz)\n  data:     %s\n  %s\n\nCtrl-C stops it; the data stays for the next start.\n\n",
		url, grpcAddr, httpAddr, dataDir, keyLine)

	err = runComponents(ctx, log, comps)
	log.Info("shutting down")
	return err
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
	if len(comps) == 0 {
		<-ctx.Done()
		return nil
	}
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
