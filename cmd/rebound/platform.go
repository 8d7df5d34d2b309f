package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/server"
)

// serverFlags are the listen addresses of the gRPC and HTTP servers.
type serverFlags struct {
	grpcAddr string
	httpAddr string
	adminKey string
}

func (s *serverFlags) define(fs *flagSet) {
	fs.envString(&s.grpcAddr, "grpc-addr", server.EnvGRPCAddr, server.DefaultGRPCAddr, "gRPC listen address")
	fs.envString(&s.httpAddr, "http-addr", server.EnvHTTPAddr, server.DefaultHTTPAddr, "HTTP listen address (metrics, health, pages)")
	fs.envString(&s.adminKey, "admin-key", "REBOUND_ADMIN_KEY", "", "admin API key to accept (rbk_... format); dev creates one when empty")
}

// newRPCServer builds the gRPC/HTTP server with API keys from the API_KEYS bucket.
func (s *serverFlags) newRPCServer(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*server.Server, auth.KeyStore, error) {
	keys, err := auth.NewKVStore(ctx, js, auth.KVConfig{})
	if err != nil {
		return nil, nil, err
	}
	srv, err := server.New(server.Config{GRPCAddr: s.grpcAddr, HTTPAddr: s.httpAddr}, keys, log, nil)
	if err != nil {
		return nil, nil, err
	}
	return srv, keys, nil
}

// devAdminKey makes sure an admin key exists: REBOUND_ADMIN_KEY when set, otherwise one is made
// on the first start and printed once. It returns the line to show the user.
func (s *serverFlags) devAdminKey(ctx context.Context, keys auth.KeyStore) (string, error) {
	if s.adminKey != "" {
		if _, err := auth.ImportKey(ctx, keys, s.adminKey, auth.ScopeAdmin, "", "REBOUND_ADMIN_KEY"); err != nil {
			return "", fmt.Errorf("REBOUND_ADMIN_KEY: %w", err)
		}
		return "admin key: the one in REBOUND_ADMIN_KEY", nil
	}
	existing, err := keys.List(ctx)
	if err != nil {
		return "", err
	}
	for _, k := range existing {
		if k.Scope == auth.ScopeAdmin && !k.Revoked() && k.Description == devAdminDescription {
			return fmt.Sprintf("admin key: %s, printed at the first start (`rebound keys create --scope admin` makes another)", k.ID), nil
		}
	}
	plain, _, err := auth.IssueKey(ctx, keys, auth.ScopeAdmin, "", devAdminDescription)
	if err != nil {
		return "", err
	}
	return "admin key (shown only now; keep it): " + plain, nil
}

const devAdminDescription = "rebound dev admin"
