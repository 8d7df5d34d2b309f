package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/natsserver"
	"github.com/reboundhq/rebound/events/natsstore"
)

// natsFlags are the flags of every command that talks to a running Rebound's NATS.
type natsFlags struct {
	url  string
	port int
}

func (n *natsFlags) define(fs *flagSet) {
	fs.envString(&n.url, "nats-url", "REBOUND_NATS_URL", "", "NATS server URL; empty means the embedded server of `rebound dev` on 127.0.0.1 and --nats-port")
	fs.envInt(&n.port, "nats-port", "REBOUND_NATS_PORT", 4222, "client port of the embedded NATS server")
}

func (n *natsFlags) clientURL() string {
	if n.url != "" {
		return n.url
	}
	return "nats://127.0.0.1:" + strconv.Itoa(n.port)
}

// connect connects an ops command to NATS and JetStream, with an error that says what to check.
func (n *natsFlags) connect(name string) (*nats.Conn, jetstream.JetStream, error) {
	url := n.clientURL()
	nc, err := nats.Connect(url, nats.Name(name))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to NATS at %s (is `rebound dev` running, or is REBOUND_NATS_URL right?): %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// openStore opens the existing event store for an ops command.
func (n *natsFlags) openStore(ctx context.Context, name string) (*natsstore.Store, *nats.Conn, error) {
	nc, js, err := n.connect(name)
	if err != nil {
		return nil, nil, err
	}
	st, err := natsstore.Open(ctx, js, allTypes(), natsstore.Config{})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return st, nc, nil
}

// serviceConn connects a long-running service, reconnecting forever.
func serviceConn(url, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := natsserver.Connect(url, name, log)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
