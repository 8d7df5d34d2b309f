package server_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"

	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/errmap"
	"github.com/reboundhq/rebound/rpc/server"
)

// How a service runs on the shared server. In production the keys come from
// auth.NewKVStore(ctx, js, auth.KVConfig{}) and the service registers its generated server
// (alertsv1.RegisterAlertServiceServer(srv.GRPC(), handlers)).
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	errmap.RegisterPrecondition(errWrongState) // the domain's wrong-state sentinels
	cfg := server.Config{GRPCAddr: os.Getenv(server.EnvGRPCAddr), HTTPAddr: os.Getenv(server.EnvHTTPAddr)}
	srv, err := server.New(cfg, auth.NewMemStore(), log, nil)
	if err != nil {
		log.Error("starting", slog.Any("error", err))
		return
	}
	srv.GRPC().RegisterService(&testServiceDesc, testService{})
	srv.SetServing(testServiceName)
	srv.SetReadyCheck(func(context.Context) error { return errors.New("still catching up") })
	if err := srv.Run(ctx); err != nil {
		log.Error("serving", slog.Any("error", err))
	}
}
